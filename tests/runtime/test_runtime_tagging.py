"""The NER/POS pipeline on a bundle: one tag per word of raw text, windows over long texts matching training's, offsets
that index the original text exactly, entity spans, and `distilkit predict --task ner|pos`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke, save_tiny_model
from export_helpers import TAGS, save_tiny_tagger
from transformers import AutoModelForTokenClassification, AutoTokenizer

from distilkit.core.errors import DistilkitError
from distilkit.core.words import words_with_offsets
from distilkit.data.tagged import TokenSplit
from distilkit.evaluate.tagger import predict_word_logits
from distilkit.export import export_bundle
from distilkit.runtime import Predictor
from distilkit.runtime.probabilities import softmax
from distilkit.runtime.tagging import WordTagger

TEXTS = [
    "the  actor   was,  café-good!",
    "",
    "   ",
    " ".join(["the actor was really quite good and the plot was fun"] * 4),  # far beyond 16 tokens
    "Naïve   story…  (of an actor).",
]


@pytest.fixture(scope="module")
def tagger(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tagging")
    model = save_tiny_tagger(root / "model", layers=2, seed=1)
    bundle = root / "bundle"
    export_bundle(model, bundle, task="token-classification", max_length=16)
    return {"model": model, "bundle": bundle, "root": root}


def test_every_word_gets_one_tag_with_offsets_into_the_text(tagger):
    results = Predictor(tagger["bundle"], batch_size=3).tag_words(TEXTS)
    for text, words in zip(TEXTS, results, strict=True):
        assert [(w["word"], w["start"], w["end"]) for w in words] == words_with_offsets(text)
        assert all(text[w["start"] : w["end"]] == w["word"] for w in words)
        assert all(w["tag"] in TAGS and 0 < w["score"] <= 1 for w in words)
    assert results[1] == [] and results[2] == []
    assert [w["word"] for w in results[4]] == ["Naïve", "story", "…", "(", "of", "an", "actor", ")", "."]
    assert len(results[3]) == len(TEXTS[3].split()) == 44  # through windows of at most 14 sub-words


def test_runtime_windows_match_the_training_windows(tagger):
    """Same words, same max_length and stride: the ONNX pipeline reproduces the PyTorch evaluation word for word."""
    words = [[w for w, _, _ in words_with_offsets(text)] for text in TEXTS if text.strip()]
    split = TokenSplit(words, [["O"] * len(s) for s in words], "memory")
    model = AutoModelForTokenClassification.from_pretrained(tagger["model"])
    tokenizer = AutoTokenizer.from_pretrained(tagger["model"])
    expected = predict_word_logits(model, tokenizer, split, max_length=16, stride=3)
    got = Predictor(tagger["bundle"]).tag_words([t for t in TEXTS if t.strip()], stride=3)
    for logits, result in zip(expected, got, strict=True):
        probs = softmax(logits.astype(np.float64))
        assert [TAGS[k] for k in probs.argmax(-1)] == [w["tag"] for w in result]
        assert np.allclose(probs.max(-1), [w["score"] for w in result], atol=1e-4)


class RuleSession:
    """Stands in for ONNX Runtime: "actor" starts a PER entity, "story" continues one, everything else is O."""

    def __init__(self, vocab: dict[str, int]):
        self.begin, self.inside = vocab["actor"], vocab["story"]

    def run(self, names, feeds):
        ids = feeds["input_ids"]
        logits = np.zeros((*ids.shape, len(TAGS)), dtype=np.float32)
        logits[..., 0] = 1.0
        logits[ids == self.begin] = [0.0, 3.0, 0.0]
        logits[ids == self.inside] = [0.0, 0.0, 2.0]
        return [logits]


def test_entities_are_spans_of_the_original_text(tagger):
    predictor = Predictor(tagger["bundle"])
    session = RuleSession(predictor.bundle.tokenizer.get_vocab())
    rule = WordTagger(predictor.encoder, session, "logits", TAGS, stride=2)
    text = "The  ACTOR   story, café!\tstory actor"
    found = rule.entities([text, "no one here"])
    assert found[1] == []
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in found[0]] == [
        ("PER", "ACTOR   story", 5, 18),  # the original casing and spacing, not the tokenizer's
        ("PER", "actor", 32, 37),  # the lone "story" continues nothing: strict IOB2 drops it
    ]
    assert all(text[e["start"] : e["end"]] == e["text"] for e in found[0])
    p_begin, p_inside = softmax(np.array([0.0, 3.0, 0.0]))[1], softmax(np.array([0.0, 0.0, 2.0]))[2]
    assert found[0][0]["score"] == pytest.approx((p_begin + p_inside) / 2)
    long_text = " ".join(["the actor story was good"] * 10)
    spans = rule.entities([long_text])[0]
    assert [e["text"] for e in spans] == ["actor story"] * 10  # windows of 14 sub-words, merged


def test_entities_need_an_entity_tagger(tagger, tmp_path):
    classifier = tmp_path / "classifier"
    export_bundle(save_tiny_model(tmp_path / "model"), classifier)
    with pytest.raises(DistilkitError, match="needs a token-classification bundle"):
        Predictor(classifier).entities("good")
    predictor = Predictor(tagger["bundle"])
    plain = WordTagger(predictor.encoder, predictor.bundle.session, "logits", ["DT", "NN", "VB"])
    with pytest.raises(DistilkitError, match="entities need IOB2 entity tags"):
        plain.entities(["the actor"])
    with pytest.raises(DistilkitError, match=r"stride must be in \[0, 14\)"):
        predictor.tag_words("the actor", stride=14)


def test_cli_predict_ner_and_pos(tagger):
    text = "the  actor, café"
    ner = invoke("predict", tagger["bundle"], text, "--task", "ner")
    record = json.loads(ner.output)
    assert record["text"] == text and set(record) == {"text", "entities"}
    assert all(text[e["start"] : e["end"]] == e["text"] for e in record["entities"])
    pos = json.loads(invoke("predict", tagger["bundle"], text, "--task", "pos").output)
    assert [w["word"] for w in pos["words"]] == ["the", "actor", ",", "café"]
    with pytest.raises(DistilkitError, match="task: expected one of raw, ner, pos"):
        invoke("predict", tagger["bundle"], text, "--task", "chunk")
