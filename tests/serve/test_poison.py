"""One bad request must not break anyone else's (issue 18): poison texts, failing batches, and 5xx in /metrics.

A lone UTF-16 surrogate is valid JSON (``"\\ud800"``) but no tokenizer can encode it; it is refused at the door with
422. A model call that fails on one request's input is retried request by request, so only that request gets 500.
Every status, a 500 from an exception included, is counted in /metrics.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from serve_helpers import FailingSession, make_bundles, request_counts, write_bot

from distilkit.serve.app import build_state, create_app
from distilkit.serve.batcher import Batcher
from distilkit.serve.config import ServeConfig


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    return make_bundles(tmp_path_factory.mktemp("poison-bundles"))


def make_state(bundles, bot: Path | None = None, **settings):
    return build_state(ServeConfig(**settings), [f"{name}={path}" for name, path in bundles.items()], bot)


def post_raw(client, path: str, body: str):
    """POST `body` as written: json.dumps escapes a lone surrogate as \\ud800, which is valid JSON."""
    return client.post(path, content=body.encode("ascii"), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("path", "body", "detail"),
    [
        ("/v1/classify", {"text": "\ud800 film"}, "text: not valid Unicode (lone surrogate at character 0)"),
        (
            "/v1/classify",
            {"text": ["good", "fine", "bad", "a \udfff", "nice"]},
            "text[3]: not valid Unicode (lone surrogate at character 2)",
        ),
        (
            "/v1/ner",
            {"text": ["the actor", "film\ud83d"]},
            "text[1]: not valid Unicode (lone surrogate at character 4)",
        ),
        ("/v1/embed", {"text": "good \udc00\ud800"}, "text: not valid Unicode (lone surrogate at character 5)"),
        ("/v1/chat", {"message": "refund \ud800"}, "message: not valid Unicode (lone surrogate at character 7)"),
    ],
)
def test_lone_surrogate_is_a_422_naming_the_field_and_index(bundles, tmp_path, path, body, detail):
    state = make_state(bundles, write_bot(tmp_path / "bot.yaml"))
    with TestClient(create_app(state), raise_server_exceptions=False) as client:
        reply = post_raw(client, path, json.dumps(body))
        after = client.post(path, json={k: "good movie" for k in body})  # the server is not broken for the next one
    assert reply.status_code == 422, reply.text
    assert reply.json() == {"detail": detail}
    assert after.status_code == 200


def test_nul_and_other_odd_but_valid_unicode_is_served(bundles):
    """NUL, noncharacters and astral characters are valid Unicode (and valid UTF-8): the tokenizer takes them."""
    texts = ["good\x00movie", "\x00", "\uffff fun", "\U0010ffff", "great \U0001f600 film", "\ufeffbad"]
    with TestClient(create_app(make_state(bundles))) as client:
        replies = {e: client.post(f"/v1/{e}", json={"text": texts}) for e in ("classify", "ner", "embed")}
    assert {e: r.status_code for e, r in replies.items()} == {"classify": 200, "ner": 200, "embed": 200}
    assert replies["ner"].json()["results"][0]["words"][0]["word"] == "good\x00movie"


def no_constants(name: str):
    raise AssertionError(f"{name} is not JSON")


@pytest.mark.parametrize(
    "body",
    [
        '{"text": {"k": "\\ud800"}}',
        '{"text": ["\\ud800", 3]}',
        '{"\\ud800": 1, "text": "a"}',
        '{"text": NaN}',
        '{"text": ["a", -Infinity]}',
        '{"text": "a", "model": Infinity}',
    ],
)
def test_a_validation_error_echoing_what_json_cannot_write_is_still_a_422(bundles, body):
    """FastAPI's 422 echoes the bad input. Written as UTF-8, a lone surrogate fails; NaN (which Python's parser
    accepts) is not JSON; either way FastAPI's own handler made the 422 a 500."""
    with TestClient(create_app(make_state(bundles)), raise_server_exceptions=False) as client:
        reply = post_raw(client, "/v1/classify", body)
    assert reply.status_code == 422, reply.text
    assert isinstance(json.loads(reply.text, parse_constant=no_constants)["detail"], list)


async def in_app(state, scenario):
    """Run `scenario(client)` against the app with its lifespan; an exception in the app is a 500, as in uvicorn."""
    app = create_app(state)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await scenario(client)


def test_a_failing_batch_fails_only_the_request_that_fails_alone(bundles):
    state = make_state(bundles, max_batch=8, forward_batch=8, max_wait_ms=2000)
    predictor = state.models["sentiment"].predictor
    failing = FailingSession(predictor.bundle.session, predictor.bundle.tokenizer.token_to_id("awful"))
    predictor.bundle.session = failing
    texts = [f"text number {i} was good" for i in range(7)]
    texts.insert(3, "an awful film")

    async def scenario(client):
        replies = await asyncio.gather(*(client.post("/v1/classify", json={"text": t}) for t in texts))
        return replies, (await client.get("/metrics")).text

    replies, metrics = asyncio.run(in_app(state, scenario))
    assert [r.status_code for r in replies] == [200, 200, 200, 500, 200, 200, 200, 200]
    problem = replies[3].json()
    assert problem == {"detail": "model 'sentiment' failed on this request (RuntimeError); the server log has why"}
    assert failing.calls == [8, 1, 1, 1, 1, 1, 1, 1, 1]  # the batch of eight, then each request alone
    assert request_counts(metrics)[("/v1/classify", "200")] == 7
    assert request_counts(metrics)[("/v1/classify", "500")] == 1
    assert 'distilkit_batch_size_count{model="sentiment"} 7.0' in metrics  # the passes that answered


def test_batcher_retries_each_request_alone_after_a_failed_batch():
    calls: list[list[str]] = []

    def run(texts):
        calls.append(list(texts))
        if "boom" in texts:
            raise ValueError("cannot run boom")
        return [t.upper() for t in texts]

    batcher = Batcher(run, max_batch=5, max_wait_ms=2000, max_queue=16)  # the three requests fill one batch
    try:
        futures = [batcher.submit(t) for t in (["a", "b"], ["c", "boom"], ["d"])]
        assert [f.exception(10) is None for f in futures] == [True, False, True]
        assert [futures[0].result(), futures[2].result()] == [["A", "B"], ["D"]]
        assert str(futures[1].exception()) == "cannot run boom"
        assert calls == [["a", "b", "c", "boom", "d"], ["a", "b"], ["c", "boom"], ["d"]]
        alone = batcher.submit(["boom"])  # alone already: failed once, not retried
        assert isinstance(alone.exception(10), ValueError) and calls[-1] == ["boom"] and len(calls) == 5
    finally:
        batcher.close(10)


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
