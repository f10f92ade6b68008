"""`distilkit serve` on the Open Inference Protocol (/v2): health, metadata, inference equal to the runtime's, and
the protocol's errors; the client is the one the Triton engine test uses (`oip_helpers`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from oip_helpers import assert_same_labels, assert_same_tags, classify, embed, infer, tag
from serve_helpers import make_bundles, request_counts

from distilkit.runtime import Predictor
from distilkit.serve.app import build_state, create_app
from distilkit.serve.config import ServeConfig

TEXTS = ["good movie", "the plot was dull and long", "", "Maria met the actor, café-good!"]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    return make_bundles(tmp_path_factory.mktemp("oip-bundles"))


def client_for(bundles: dict[str, Path], **settings) -> TestClient:
    state = build_state(ServeConfig(**settings), [f"{name}={path}" for name, path in bundles.items()])
    return TestClient(create_app(state))


def test_health_and_metadata(bundles):
    with client_for(bundles) as client:
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/ready").status_code == 200
        assert client.get("/v2/models/sentiment/ready").status_code == 200
        server = client.get("/v2").json()
        sentiment = client.get("/v2/models/sentiment").json()
        tags = client.get("/v2/models/tags").json()
        vectors = client.get("/v2/models/vectors").json()
        unknown = client.get("/v2/models/nope")
    assert server["name"] == "distilkit" and server["extensions"] == []
    assert sentiment["versions"] == ["1"]
    assert sentiment["inputs"] == [{"name": "TEXT", "datatype": "BYTES", "shape": [-1]}]
    assert [(o["name"], o["datatype"], o["shape"]) for o in sentiment["outputs"]] == [
        ("LABEL", "BYTES", [-1]),
        ("SCORE", "FP32", [-1]),
        ("SCORES", "FP32", [-1, 2]),
        ("TRUNCATED", "BOOL", [-1]),
    ]
    assert [o["name"] for o in tags["outputs"]] == ["WORDS", "ENTITIES"]
    assert vectors["outputs"][0] == {"name": "EMBEDDING", "datatype": "FP32", "shape": [-1, 32]}
    assert unknown.status_code == 404 and unknown.json() == {"error": "no model named 'nope'"}


def test_inference_matches_the_runtime_for_every_task(bundles):
    classifier, tagger = Predictor(bundles["sentiment"]), Predictor(bundles["tags"])
    with client_for(bundles) as client:
        labels = classify(client, "sentiment", TEXTS, classifier.labels)
        tags = tag(client, "tags", TEXTS)
        vectors = embed(client, "vectors", TEXTS)
        subset = infer(client, "sentiment", TEXTS[:2], outputs=["SCORE"])
    expected, truncated = classifier.predict_with_truncation(TEXTS)
    assert_same_labels(labels, expected, tolerance=1e-6)
    assert [r["truncated"] for r in labels] == truncated
    assert_same_tags(tags, tagger.words_and_entities(TEXTS), tolerance=1e-6)
    assert vectors.shape == (4, 32)
    assert vectors == pytest.approx(Predictor(bundles["vectors"]).embed(TEXTS), abs=1e-6)
    assert list(subset) == ["SCORE"] and subset["SCORE"].shape == (2,)


def test_a_long_text_is_flagged_truncated(bundles):
    long_text = " ".join(["the actor was good"] * 60)  # ~240 tokens, the bundle reads 128
    with client_for(bundles) as client:
        (result,) = classify(client, "sentiment", [long_text], Predictor(bundles["sentiment"]).labels)
    assert result["truncated"] is True


def request(texts, name="TEXT", shape=None, datatype="BYTES"):
    shape = [len(texts)] if shape is None else shape
    return {"inputs": [{"name": name, "shape": shape, "datatype": datatype, "data": texts}]}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (request(["a"], name="text"), 400, "inputs[0].name: expected 'TEXT', got 'text'"),
        (request(["a"], datatype="FP32"), 400, "inputs[0].datatype: expected 'BYTES', got 'FP32'"),
        (request(["a", "b"], shape=[3]), 400, "inputs[0].data: 2 elements for shape [3]"),
        (request(["a"], shape=[1, 1]), 400, "inputs[0].shape: expected [n] (one dimension of texts), got [1, 1]"),
        (request([1]), 400, "inputs[0].data[0]: expected a string, got int"),
        ({"inputs": []}, 400, "inputs: expected one input, 'TEXT'"),
        ([], 400, "body: expected a JSON object with an 'inputs' list"),
        ({**request(["a"]), "outputs": [{"name": "LOGITS"}]}, 400, "outputs: no output named 'LOGITS'"),
        (request([]), 422, "text: an empty list (send at least one text)"),
        (request(["ok", "bad \ud800"]), 422, "inputs[0].data[1]: not valid Unicode (lone surrogate at character 4)"),
        (request(["a"] * 65), 413, "65 texts in one request; the limit is 64"),
    ],
)
def test_bad_requests_get_the_protocol_error_body(bundles, body, status, error):
    with client_for(bundles) as client:  # json.dumps escapes a lone surrogate as JSON may (the client cannot encode it)
        response = client.post("/v2/models/sentiment/infer", content=json.dumps(body).encode())
    assert response.status_code == status
    assert response.json()["error"].startswith(error)


def test_not_json_is_400_and_the_token_guards_inference_not_health(bundles):
    with client_for(bundles, token="s3cret") as client:
        garbage = client.post(
            "/v2/models/sentiment/infer", content=b"{nope", headers={"Authorization": "Bearer s3cret"}
        )
        anonymous = client.post("/v2/models/sentiment/infer", json=request(["a"]))
        health = client.get("/v2/health/ready")
        allowed = client.post(
            "/v2/models/sentiment/infer", json=request(["a"]), headers={"Authorization": "Bearer s3cret"}
        )
    assert garbage.status_code == 400 and garbage.json()["error"].startswith("body: not valid JSON")
    assert anonymous.status_code == 401
    assert health.status_code == 200
    assert allowed.status_code == 200


def test_metrics_count_inference_by_route_not_by_model_name(bundles):
    with client_for(bundles) as client:
        infer(client, "sentiment", ["a"])
        infer(client, "tags", ["a"])
        client.get("/v2/models/nope/infer")  # a GET: 405, counted under the same route
        counts = request_counts(client.get("/metrics").text)
    assert counts[("/v2/models/{name}/infer", "200")] == 2
    assert not any("sentiment" in endpoint for endpoint, _ in counts)
