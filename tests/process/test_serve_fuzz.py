"""Schemathesis fuzzes every operation of the server's own OpenAPI schema: whatever it sends, no answer is a 5xx.

The app runs in process with its batchers started (schemathesis' ASGI client does not run the lifespan), serving
all three tasks and a chatbot, so every endpoint reaches real inference when the generated body is valid.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from serve_helpers import make_bundles, write_bot

from distilkit.serve.app import build_state, create_app
from distilkit.serve.config import ServeConfig


@pytest.fixture(scope="module")
def served_schema(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    bundles = make_bundles(root)
    state = build_state(
        ServeConfig(max_text_chars=2000, max_texts=16),
        [f"{name}={path}" for name, path in bundles.items()],
        write_bot(root / "bot.yaml"),
    )
    app = create_app(state)
    state.start()
    yield schemathesis.openapi.from_asgi("/openapi.json", app), state
    state.close()


def test_no_operation_answers_5xx(served_schema):
    served_schema, state = served_schema
    # One Hypothesis run per operation, by hand: schemathesis' pytest fixture loader does not support pytest 9.
    operations = [result.ok() for result in served_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/classify", "/v1/ner", "/v1/embed", "/v1/chat", "/metrics"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            case.call_and_validate(checks=[not_a_server_error])

        fuzz()
    # The fuzzing reached real inference on every task, not only validation errors.
    metrics = state.metrics.render().decode()
    for endpoint in ("/v1/classify", "/v1/ner", "/v1/embed", "/v1/chat"):
        assert f'distilkit_requests_total{{endpoint="{endpoint}",status="200"}}' in metrics
    assert 'status="5' not in metrics
