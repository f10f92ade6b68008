"""The HTTP API in process: batching, backpressure, limits, auth, errors, metrics and the chat endpoint."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from serve_helpers import CountingSession, CountingTokenizer, make_bundles, write_bot

from distilkit.core.errors import DistilkitError
from distilkit.runtime import Predictor, session_options
from distilkit.serve.app import build_state, create_app
from distilkit.serve.config import TOKEN_ENV, ServeConfig
from distilkit.serve.models import parse_bundle_args


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    return make_bundles(tmp_path_factory.mktemp("serve-bundles"))


def bundle_args(bundles: dict[str, Path]) -> list[str]:
    return [f"{name}={path}" for name, path in bundles.items()]


def make_state(bundles, tmp_path=None, threshold=0.5, **settings):
    bot = write_bot(tmp_path / "bot.yaml", threshold) if tmp_path is not None else None
    return build_state(ServeConfig(**settings), bundle_args(bundles), bot)


async def in_app(state, scenario):
    """Run `scenario(client)` against the app with its lifespan (batchers started, drained at the end)."""
    app = create_app(state)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await scenario(client)


def test_classify_single_text_and_list_match_the_runtime(bundles):
    predictor = Predictor(bundles["sentiment"])
    texts = ["good movie", "the plot was dull and long", "a"]
    with TestClient(create_app(make_state(bundles))) as client:
        one = client.post("/v1/classify", json={"text": texts[0]})
        many = client.post("/v1/classify", json={"text": texts, "model": "sentiment"})
    assert one.status_code == 200 and many.status_code == 200
    expected = predictor.predict(texts)
    assert one.json()["results"][0]["label"] == expected[0]["label"]
    got = many.json()
    assert got["model"] == "sentiment" and got["max_tokens"] == predictor.bundle.max_length
    assert [r["label"] for r in got["results"]] == [r["label"] for r in expected]
    for r, e in zip(got["results"], expected, strict=True):
        assert r["score"] == pytest.approx(e["score"], abs=1e-6)
        assert r["truncated"] is False
    assert got["latency_ms"] > 0


def test_ner_and_embed_endpoints(bundles):
    with TestClient(create_app(make_state(bundles))) as client:
        ner = client.post("/v1/ner", json={"text": ["good movie", "the actor"]}).json()
        emb = client.post("/v1/embed", json={"text": ["good", "bad"]}).json()
        wrong_task = client.post("/v1/classify", json={"text": "x", "model": "vectors"})
        unknown = client.post("/v1/classify", json={"text": "x", "model": "nope"})
    assert [[w["word"] for w in r["words"]] for r in ner["results"]] == [["good", "movie"], ["the", "actor"]]
    assert ner["results"][0]["words"][1]["start"] == 5
    assert all(isinstance(r["entities"], list) and r["truncated"] is False for r in ner["results"])
    assert emb["dim"] == 32 and len(emb["embeddings"]) == 2 and len(emb["embeddings"][0]) == 32
    expected = Predictor(bundles["vectors"]).embed(["good", "bad"])
    assert emb["embeddings"][1] == pytest.approx(expected[1].tolist(), abs=1e-6)
    assert wrong_task.status_code == 404 and "embedding" in wrong_task.json()["detail"]
    assert unknown.status_code == 404


def test_ner_with_tags_that_are_not_entities_gives_words_only(bundles):
    """A POS-style tagger has no IOB2 spans: `entities` is null rather than spans the metric's rule would not make."""
    state = make_state(bundles)
    state.models["tags"].predictor.bundle.labels = ["DT", "NN", "VB"]
    with TestClient(create_app(state)) as client:
        reply = client.post("/v1/ner", json={"text": "the actor"})
    assert reply.status_code == 200
    (result,) = reply.json()["results"]
    assert result["entities"] is None
    assert [w["word"] for w in result["words"]] == ["the", "actor"]
    assert {w["tag"] for w in result["words"]} <= {"DT", "NN", "VB"}


def test_each_served_text_is_tokenized_once(bundles):
    """Truncation flags come from the encodings the results came from, and NER counts sub-words and runs the
    model on one encoding: one tokenizer pass per text, whatever the task."""
    state = make_state(bundles)
    counters = {}
    for name, served in state.models.items():
        predictor = served.predictor
        counters[name] = [CountingTokenizer(predictor.encoder.tokenizer)]
        predictor.encoder.tokenizer = counters[name][0]
        if served.task == "token-classification":  # word tagging counts sub-words with an untruncated copy
            counters[name].append(CountingTokenizer(predictor.word_tokenizer))
            predictor.word_tokenizer = counters[name][1]
    texts = ["good movie", "the actor was fun", "a", ""]
    with TestClient(create_app(state)) as client:
        replies = {e: client.post(f"/v1/{e}", json={"text": texts}) for e in ("classify", "ner", "embed")}
    assert {e: r.status_code for e, r in replies.items()} == {"classify": 200, "ner": 200, "embed": 200}
    assert [len(r["words"]) for r in replies["ner"].json()["results"]] == [2, 4, 1, 0]
    encoded = {name: sum(c.texts for c in found) for name, found in counters.items()}
    # Four texts each; the empty one has no words to tag, so NER encodes three, while the others encode it too.
    assert encoded == {"sentiment": 4, "tags": 3, "vectors": 4}


def test_concurrent_requests_share_one_forward_pass(bundles):
    state = make_state(bundles, max_batch=8, forward_batch=8, max_wait_ms=2000)
    counter = CountingSession(state.models["sentiment"].predictor.bundle.session)
    state.models["sentiment"].predictor.bundle.session = counter
    texts = [f"text number {i} was good" for i in range(8)]

    async def scenario(client):
        start = time.perf_counter()
        replies = await asyncio.gather(*(client.post("/v1/classify", json={"text": t}) for t in texts))
        return replies, time.perf_counter() - start

    replies, seconds = asyncio.run(in_app(state, scenario))
    assert [r.status_code for r in replies] == [200] * 8
    assert counter.calls == [8]  # eight requests, one forward pass of eight rows
    assert seconds < 2.0  # a full batch runs at once, without waiting out max_wait_ms
    expected = Predictor(bundles["sentiment"]).predict(texts)
    for reply, want in zip(replies, expected, strict=True):
        assert reply.json()["results"][0]["score"] == pytest.approx(want["score"], abs=1e-6)


def test_a_batch_is_cut_into_length_sorted_forward_calls(bundles):
    state = make_state(bundles, max_batch=8, forward_batch=4, max_wait_ms=2000)
    counter = CountingSession(state.models["sentiment"].predictor.bundle.session)
    state.models["sentiment"].predictor.bundle.session = counter
    long_text = " ".join(["the actor was good"] * 5)
    texts = ["good", long_text, "bad", long_text, "fun", long_text, "dull", long_text]

    async def scenario(client):
        return await asyncio.gather(*(client.post("/v1/classify", json={"text": t}) for t in texts))

    replies = asyncio.run(in_app(state, scenario))
    assert [r.status_code for r in replies] == [200] * 8
    # One batch of eight, run as two calls of four: the short texts together (3 tokens), the long ones together.
    assert counter.calls == [4, 4] and counter.widths == [3, 22]


def test_serving_sessions_do_not_spin():
    assert session_options(1, spin=False).get_session_config_entry("session.intra_op.allow_spinning") == "0"
    with pytest.raises(Exception, match="allow_spinning"):  # not set at all by default: ONNX Runtime's own default
        session_options(1).get_session_config_entry("session.intra_op.allow_spinning")


def test_full_queue_answers_503_with_retry_after_at_once(bundles):
    state = make_state(bundles, max_batch=1, max_queue=2, max_texts=2, max_wait_ms=0)
    counter = CountingSession(state.models["sentiment"].predictor.bundle.session, hold=True)
    state.models["sentiment"].predictor.bundle.session = counter

    async def scenario(client):
        running = asyncio.ensure_future(client.post("/v1/classify", json={"text": "first"}))
        await asyncio.to_thread(counter.started.wait, 10)  # the worker holds "first": the queue is empty again
        queued = [asyncio.ensure_future(client.post("/v1/classify", json={"text": f"q{i}"})) for i in range(2)]
        await asyncio.sleep(0.2)
        start = time.perf_counter()
        refused = await client.post("/v1/classify", json={"text": "one too many"})
        refused_after = time.perf_counter() - start
        metrics = (await client.get("/metrics")).text
        counter.release.set()
        return refused, refused_after, await asyncio.gather(running, *queued), metrics

    refused, refused_after, served, metrics = asyncio.run(in_app(state, scenario))
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    assert refused_after < 0.5  # refused at once, not after the queue drains
    assert [r.status_code for r in served] == [200, 200, 200]
    assert 'distilkit_rejected_total{model="sentiment",reason="queue_full"} 1.0' in metrics
    assert 'distilkit_queue_texts{model="sentiment"} 2.0' in metrics


def test_request_not_answered_in_time_gets_504(bundles):
    state = make_state(bundles, timeout_s=0.2)
    counter = CountingSession(state.models["sentiment"].predictor.bundle.session, hold=True)
    state.models["sentiment"].predictor.bundle.session = counter

    async def scenario(client):
        reply = await client.post("/v1/classify", json={"text": "slow"})
        counter.release.set()
        return reply

    reply = asyncio.run(in_app(state, scenario))
    assert reply.status_code == 504


def test_bearer_token(bundles, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "s3cret")
    state = build_state(ServeConfig.with_env_token(), bundle_args(bundles))
    with TestClient(create_app(state)) as client:
        missing = client.post("/v1/classify", json={"text": "x"})
        wrong = client.post("/v1/classify", json={"text": "x"}, headers={"Authorization": "Bearer nope"})
        right = client.post("/v1/classify", json={"text": "x"}, headers={"Authorization": "Bearer s3cret"})
        metrics = client.get("/metrics")
        health = client.get("/healthz")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert metrics.status_code == 401
    assert health.status_code == 200
    with pytest.raises(DistilkitError, match="empty token"):
        ServeConfig(token=" ")


def test_size_limits_and_truncation_policy(bundles):
    state = make_state(bundles, max_body_bytes=2000, max_texts=3, max_text_chars=300)
    with TestClient(create_app(state)) as client:
        big_body = client.post("/v1/classify", json={"text": "x" * 3000})
        chunked = client.post(
            "/v1/classify",
            content=(chunk for chunk in [b'{"text": "', b"y" * 2500, b'"}']),
            headers={"Content-Type": "application/json"},
        )
        many = client.post("/v1/classify", json={"text": ["a"] * 4})
        long_text = client.post("/v1/classify", json={"text": "good " * 61})
        cut = client.post("/v1/classify", json={"text": ["good " * 59, "good"]})
    assert big_body.status_code == 413 and "2000 bytes" in big_body.json()["detail"]
    assert chunked.status_code == 413
    assert many.status_code == 413 and "limit is 3" in many.json()["detail"]
    assert long_text.status_code == 413 and "305 characters" in long_text.json()["detail"]
    assert cut.status_code == 200
    body = cut.json()
    # 59 words + 2 special tokens fit in 128 tokens here: the tiny tokenizer makes one token per known word.
    assert [r["truncated"] for r in body["results"]] == [False, False]
    longer = "good " * 59 + "fun " * 70
    with TestClient(create_app(make_state(bundles, max_body_bytes=4000, max_text_chars=1000))) as client:
        flagged = client.post("/v1/classify", json={"text": longer}).json()
    assert flagged["results"][0]["truncated"] is True and flagged["max_tokens"] == 128


@pytest.mark.parametrize(
    "body",
    ['{"text": ', "not json", '{"text": 5}', '{"texts": ["a"]}', '{"text": ["a", 3]}', "[]", '{"text": "a", "x": 1}'],
)
def test_malformed_requests_get_422_not_500(bundles, body):
    with TestClient(create_app(make_state(bundles))) as client:
        reply = client.post("/v1/classify", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 422
    assert "detail" in reply.json()


def test_health_readiness_metrics_and_docs(bundles):
    state = make_state(bundles)
    app = create_app(state)
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 200
        client.post("/v1/classify", json={"text": ["a", "b", "c"]})
        client.get("/no/such/path")
        metrics = client.get("/metrics").text
        schema = client.get("/openapi.json").json()
        models = client.get("/v1/models").json()
        assert client.get("/docs").status_code == 200
    assert client.get("/readyz").status_code == 503  # after shutdown the batchers are closed
    assert 'distilkit_requests_total{endpoint="/v1/classify",status="200"} 1.0' in metrics
    assert 'distilkit_batch_size_sum{model="sentiment"} 3.0' in metrics
    assert 'distilkit_requests_total{endpoint="other",status="404"} 1.0' in metrics
    assert {"/v1/classify", "/v1/ner", "/v1/embed", "/v1/chat", "/healthz", "/readyz", "/metrics"} <= set(
        schema["paths"]
    )
    assert [(m["name"], m["task"]) for m in models["models"]] == [
        ("sentiment", "sequence-classification"),
        ("tags", "token-classification"),
        ("vectors", "embedding"),
    ]


def test_no_cors_unless_configured(bundles):
    headers = {"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"}
    with TestClient(create_app(make_state(bundles))) as client:
        closed = client.options("/v1/classify", headers=headers)
    assert "access-control-allow-origin" not in closed.headers
    state = make_state(bundles, cors_origins=["http://elsewhere.example"])
    with TestClient(create_app(state)) as client:
        opened = client.options("/v1/classify", headers=headers)
    assert opened.headers["access-control-allow-origin"] == "http://elsewhere.example"


def test_chat_answers_an_intent_and_falls_back_below_threshold(bundles, tmp_path):
    state = make_state(bundles, tmp_path, threshold=0.999)
    with TestClient(create_app(state)) as client:
        hit = client.post("/v1/chat", json={"message": "how do i get a refund"}).json()
        miss = client.post("/v1/chat", json={"message": "the actor was not very good but fun"}).json()
    assert hit["intent"] == "refund" and hit["fallback"] is False
    assert hit["response"] == "Refunds take five days." and hit["score"] == pytest.approx(1.0, abs=1e-5)
    assert miss["fallback"] is True and miss["intent"] is None
    assert miss["score"] < 0.999 and miss["response"].startswith("Sorry")
    assert hit["latency_ms"] > 0 and hit["model"] == "vectors"


def test_chat_without_a_bot_is_404(bundles):
    with TestClient(create_app(make_state(bundles))) as client:
        assert client.post("/v1/chat", json={"message": "hi"}).status_code == 404


def test_bundle_arguments(bundles):
    assert parse_bundle_args(["a=/x/y", "/p/q"]) == [("a", Path("/x/y")), ("q", Path("/p/q"))]
    with pytest.raises(DistilkitError, match="twice"):
        parse_bundle_args(["a=/x", "a=/y"])
    with pytest.raises(DistilkitError, match="chatbot"):
        build_state(ServeConfig(), bundle_args(bundles), None, "vectors")
    with pytest.raises(DistilkitError, match="at least one bundle"):
        build_state(ServeConfig(), [])


def test_schema_lists_error_statuses(bundles):
    with TestClient(create_app(make_state(bundles))) as client:
        schema = client.get("/openapi.json").json()
    responses = schema["paths"]["/v1/classify"]["post"]["responses"]
    assert {"200", "401", "404", "413", "422", "503", "504"} <= set(responses)
