"""`POST /v1/ner`, `Predictor.entities` and `distilkit predict --task ner` give the same entities for the same bundle.

One decoder (the runtime's word-level `WordTagger`: whole words, windows over long texts, strict IOB2) is behind all
three, and it is the rule the entity F1 is scored with; if the server decoded on its own, an API user could see
entities the reported metric never counted, and lose every entity past the bundle's max length.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import invoke
from fastapi.testclient import TestClient
from serve_helpers import save_model

from distilkit.export import export_bundle
from distilkit.runtime import Predictor
from distilkit.serve.app import build_state, create_app
from distilkit.serve.config import ServeConfig

MAX_LENGTH = 16
TEXTS = [
    "the actor was good and the plot was fun",
    "Maria  met the actor, café-good!",
    "",
    " ".join(["the actor was really quite good and the plot was fun"] * 4),  # ~4x the bundle's 16 tokens
    "a story",
]


@pytest.fixture(scope="module")
def ner_bundle(tmp_path_factory) -> Path:
    """A tiny random O/B-PER/I-PER tagger with a 16-token window, so a sentence of 44 words needs several windows."""
    root = tmp_path_factory.mktemp("ner-parity")
    model = save_model(root / "model", tagger=True)
    export_bundle(model, root / "bundle", task="token-classification", max_length=MAX_LENGTH)
    return root / "bundle"


def assert_same_entities(got: list[dict], expected: list[dict]) -> None:
    assert [(e["type"], e["start"], e["end"], e["text"]) for e in got] == [
        (e["type"], e["start"], e["end"], e["text"]) for e in expected
    ]
    for g, e in zip(got, expected, strict=True):
        assert g["score"] == pytest.approx(e["score"], abs=1e-6)


def test_ner_endpoint_cli_and_predictor_agree(ner_bundle):
    predictor = Predictor(ner_bundle)
    assert len(predictor.encoder.encode([TEXTS[3]])[0].overflowing) > 0  # really longer than the bundle's window
    expected = predictor.entities(TEXTS)
    assert sum(map(len, expected)) > 0 and len(expected[3]) > 0  # a comparison of empty lists would prove nothing
    state = build_state(ServeConfig(), [f"tagger={ner_bundle}"])
    with TestClient(create_app(state)) as client:
        reply = client.post("/v1/ner", json={"text": TEXTS})
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    # The CLI skips blank texts (one text per line), so it is asked about the others only.
    shown = [t for t in TEXTS if t.strip()]
    cli = [json.loads(line) for line in invoke("predict", ner_bundle, *shown, "--task", "ner").output.splitlines()]
    assert [r["text"] for r in cli] == shown
    from_cli = {r["text"]: r["entities"] for r in cli}
    for text, result, want in zip(TEXTS, results, expected, strict=True):
        assert_same_entities(result["entities"], want)
        if text.strip():
            assert_same_entities(from_cli[text], want)
        assert result["truncated"] is False  # windows cover the whole text
    words = predictor.tag_words(TEXTS)
    for result, want in zip(results, words, strict=True):
        assert [(w["word"], w["tag"], w["start"], w["end"]) for w in result["words"]] == [
            (w["word"], w["tag"], w["start"], w["end"]) for w in want
        ]
        assert [w["score"] for w in result["words"]] == pytest.approx([w["score"] for w in want], abs=1e-6)
    assert len(results[3]["words"]) == 44  # every word of the long text, none cut at 16 tokens
