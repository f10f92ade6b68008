"""Schemathesis fuzzes every operation of the server's own OpenAPI schema: whatever it sends, no answer is a 5xx.

The app runs in process with its batchers started (schemathesis' ASGI client does not run the lifespan), serving
all three tasks and a chatbot, so every endpoint reaches real inference when the generated body is valid. The schema
says texts are strings, and Hypothesis' strings never hold a lone surrogate, which JSON can carry and no tokenizer
can encode (issue 18): some examples get one spliced into a text. Every call must be counted in /metrics, so the
closing "no 5xx counted" check would see a 500 that escaped the app.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from serve_helpers import make_bundles, request_counts, write_bot

from distilkit.serve.app import build_state, create_app
from distilkit.serve.config import ServeConfig

# One surrogate: two drawn side by side may be a high + low pair, which JSON joins into one valid character.
SURROGATES = st.characters(categories=["Cs"])


def splice(body: object, poison: str, at: int) -> bool:
    """Put `poison` into the body's text (or one text of its list, or the chat message) at a drawn position; False
    when the body has no text to put it in."""

    def into(text: str) -> str:
        cut = at % (len(text) + 1)
        return text[:cut] + poison + text[cut:]

    if not isinstance(body, dict):
        return False
    for key in ("text", "message"):
        value = body.get(key)
        if isinstance(value, str):
            body[key] = into(value)
            return True
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            value[at % len(value)] = into(value[at % len(value)])
            return True
    return False


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
    counted_before = sum(request_counts(state.metrics.render().decode()).values())
    calls = spliced = 0
    # One Hypothesis run per operation, by hand: schemathesis' pytest fixture loader does not support pytest 9.
    operations = [result.ok() for result in served_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/classify", "/v1/ner", "/v1/embed", "/v1/chat", "/metrics"}
    for operation in operations:

        @given(case=operation.as_strategy(), poison=st.none() | SURROGATES, at=st.integers(0, 1000))
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case, poison, at):
            nonlocal calls, spliced
            poisoned = poison is not None and splice(case.body, poison, at)
            calls += 1
            response = case.call_and_validate(checks=[not_a_server_error])
            if poisoned:
                spliced += 1
                assert response.status_code != 200, "a text holding a lone surrogate was answered"

        fuzz()
    # The fuzzing reached real inference on every task, not only validation errors.
    metrics = state.metrics.render().decode()
    for endpoint in ("/v1/classify", "/v1/ner", "/v1/embed", "/v1/chat"):
        assert f'distilkit_requests_total{{endpoint="{endpoint}",status="200"}}' in metrics
    assert spliced > 0, "no generated body had a text to poison"
    # Every call was answered and counted (a 500 raised past the metrics middleware would be missing here).
    assert sum(request_counts(metrics).values()) - counted_before == calls
    assert 'status="5' not in metrics
