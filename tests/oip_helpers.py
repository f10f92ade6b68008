"""One Open Inference Protocol client for the tests: the same calls against `distilkit serve` and a Triton server.

It speaks only the protocol's JSON over HTTP (`POST /v2/models/NAME/infer`), takes any client with `get`/`post`
(an `httpx.Client` with a base URL, or FastAPI's `TestClient`), and turns the tensors back into the results
`distilkit.runtime.Predictor` gives, so a test compares them with the runtime's directly.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

DTYPES = {"FP32": np.float32, "BOOL": np.bool_, "BYTES": np.object_}


def infer(client: Any, model: str, texts: list[str], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
    """The model's output tensors for `texts`, by name, each shaped as the answer says (a server may list them in
    any order: Triton does not keep the config's)."""
    body: dict[str, Any] = {"inputs": [{"name": "TEXT", "shape": [len(texts)], "datatype": "BYTES", "data": texts}]}
    if outputs is not None:
        body["outputs"] = [{"name": name} for name in outputs]
    response = client.post(f"/v2/models/{model}/infer", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model_name"] == model
    return {t["name"]: np.array(t["data"], dtype=DTYPES[t["datatype"]]).reshape(t["shape"]) for t in answer["outputs"]}


def classify(client: Any, model: str, texts: list[str], labels: list[str]) -> list[dict[str, Any]]:
    """`Predictor.predict` results, plus ``truncated``, from a sequence-classification model's tensors."""
    tensors = infer(client, model, texts)
    return [
        {
            "label": str(label),
            "score": float(score),
            "scores": dict(zip(labels, map(float, row), strict=True)),
            "truncated": bool(cut),
        }
        for label, score, row, cut in zip(
            tensors["LABEL"], tensors["SCORE"], tensors["SCORES"], tensors["TRUNCATED"], strict=True
        )
    ]


def tag(client: Any, model: str, texts: list[str]) -> list[dict[str, Any]]:
    """`Predictor.words_and_entities` results from a token-classification model's WORDS and ENTITIES."""
    tensors = infer(client, model, texts)
    return [
        {"words": json.loads(words), "entities": json.loads(entities)}
        for words, entities in zip(tensors["WORDS"], tensors["ENTITIES"], strict=True)
    ]


def embed(client: Any, model: str, texts: list[str]) -> np.ndarray:
    """`Predictor.embed` from an embedding model's EMBEDDING tensor ``[n, dim]``."""
    return infer(client, model, texts)["EMBEDDING"]


def assert_same_labels(got: list[dict[str, Any]], expected: list[dict[str, Any]], tolerance: float = 1e-5) -> None:
    """The same label per text and the same probabilities, to float32 rounding and padding noise."""
    assert [g["label"] for g in got] == [e["label"] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert g["score"] == pytest.approx(e["score"], abs=tolerance)
        assert list(g["scores"]) == list(e["scores"])
        assert list(g["scores"].values()) == pytest.approx(list(e["scores"].values()), abs=tolerance)


def assert_same_tags(got: list[dict[str, Any]], expected: list[dict[str, Any]], tolerance: float = 1e-5) -> None:
    """The same words, offsets, tags and entities per text, scores to float rounding."""
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert _without_scores(g["words"]) == _without_scores(e["words"])
        assert [w["score"] for w in g["words"]] == pytest.approx([w["score"] for w in e["words"]], abs=tolerance)
        assert (g["entities"] is None) == (e["entities"] is None)
        assert _without_scores(g["entities"]) == _without_scores(e["entities"])


def _without_scores(items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k != "score"} for item in items or []]
