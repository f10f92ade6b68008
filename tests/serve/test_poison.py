"""One bad request must not break anyone else's (issue 18): poison texts, failing batches, and 5xx in /metrics.

A lone UTF-16 surrogate is valid JSON (``"\\ud800"``) but no tokenizer can encode it; it is refused at the door with
422. A model call that fails on one request's input is retried request by request, so only that request gets 500.
Every status, a 500 from an exception included, is counted in /metrics.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_helpers import make_bundles, request_counts, write_bot

from distilkit.serve.app import build_state, create_app
from distilkit.serve.config import ServeConfig


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    return make_bundles(tmp_path_factory.mktemp("poison-bundles"))


def make_state(bundles, bot: Path | None = None, **settings):
    return build_state(ServeConfig(**settings), [f"{name}={path}" for name, path in bundles.items()], bot)


def test_an_exception_in_an_endpoint_is_a_counted_500_with_a_problem(bundles, tmp_path):
    state = make_state(bundles, write_bot(tmp_path / "bot.yaml"))

    def broken_reply(vector):
        raise KeyError("a bug, not the client's fault")

    state.chatbot.reply = broken_reply
    with TestClient(create_app(state), raise_server_exceptions=False) as client:
        reply = client.post("/v1/chat", json={"message": "how do i get a refund"})
        metrics = client.get("/metrics").text
    assert reply.status_code == 500
    assert reply.json() == {"detail": "internal server error; the server log has why"}
    assert request_counts(metrics)[("/v1/chat", "500")] == 1
