"""The retrieval chatbot and its evaluation, on hand-made embeddings whose similarities are known exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from distilkit.core.errors import DistilkitError
from distilkit.serve.chat_eval import evaluate_bot, load_eval_set
from distilkit.serve.chatbot import Chatbot, load_bot

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "support-bot"
BOT = """\
name: words
threshold: 0.7
fallback: Sorry.
intents:
  - name: order
    examples: ["order where", "parcel"]
    responses: ["first", "second"]
  - name: refund
    examples: ["refund money"]
    responses: ["refund answer"]
"""
VOCAB = ["order", "where", "parcel", "refund", "money", "weather"]


def bag_of_words(texts: list[str]) -> np.ndarray:
    """Word counts over VOCAB: cosine similarities between texts are then plain arithmetic."""
    return np.array([[t.split().count(w) for w in VOCAB] for t in texts], dtype=np.float32)


def constant(texts: list[str]) -> np.ndarray:
    return np.ones((len(texts), len(VOCAB)), dtype=np.float32)


@pytest.fixture
def bot_file(tmp_path) -> Path:
    path = tmp_path / "bot.yaml"
    path.write_text(BOT, encoding="utf-8")
    return path


def test_reply_above_threshold_rotates_responses_and_falls_back_below(bot_file):
    bot = Chatbot.load(bot_file, bag_of_words)
    first = bot.reply(bag_of_words(["order where"])[0])
    assert first == {"intent": "order", "score": pytest.approx(1.0), "response": "first", "fallback": False}
    assert bot.reply(bag_of_words(["parcel"])[0])["response"] == "second"
    # "order money": cosine 1/2 with "order where" and with "refund money", below the 0.7 threshold.
    low = bot.reply(bag_of_words(["order money"])[0])
    assert low == {"intent": None, "score": pytest.approx(0.5), "response": "Sorry.", "fallback": True}
    assert bot.reply(bag_of_words(["weather"])[0])["fallback"] is True  # orthogonal to every example: score 0


def test_bot_file_errors(tmp_path):
    cases = {
        "threshold: 2\nfallback: x\nintents: [{name: a, examples: [x], responses: [y]}]": "threshold",
        "threshold: 0.5\nintents: [{name: a, examples: [x], responses: [y]}]": "fallback",
        "threshold: 0.5\nfallback: x\nintents: [{name: a, examples: [], responses: [y]}]": "examples",
        "threshold: 0.5\nfallback: x\nintents: [{name: a, examples: [x], responses: [y]}, "
        "{name: a, examples: [z], responses: [y]}]": "duplicate",
        "threshold: [": "invalid YAML",
    }
    for text, message in cases.items():
        path = tmp_path / "bad.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DistilkitError, match=message):
            load_bot(path)


def test_evaluation_and_agreement(bot_file, tmp_path):
    spec = load_bot(bot_file)
    eval_file = tmp_path / "eval.yaml"
    eval_file.write_text(
        '- {text: "where order", intent: order}\n- {text: "money refund", intent: refund}\n'
        '- {text: "weather", intent: null}\n- {text: "refund", intent: refund}\n',
        encoding="utf-8",
    )
    items = load_eval_set(eval_file, spec)
    report = evaluate_bot(spec, items, {"teacher": bag_of_words, "same": bag_of_words, "constant": constant})
    teacher = report["encoders"]["teacher"]
    # "refund" alone: cosine 1/sqrt(2) ≈ 0.707 with "refund money", just above 0.7.
    assert teacher == {
        "answer_accuracy": 1.0,
        "in_scope_top1_accuracy": 1.0,
        "fallback_recall": 1.0,
        "mean_score": pytest.approx((1 + 1 + 0 + 2**-0.5) / 4),
    }
    assert report["agreement"]["same"] == {"top1_agreement": 1.0, "answer_agreement": 1.0}
    # The constant encoder finds every example equally near: argmax picks the first ("order") for every message,
    # with score 1, so it agrees with the teacher only on "where order", and on "weather" (teacher's nearest
    # intent is also the first example's, its answer the fallback).
    assert report["agreement"]["constant"] == {"top1_agreement": 0.5, "answer_agreement": 0.25}
    assert report["in_scope"] == 3 and report["out_of_scope"] == 1


def test_eval_set_refuses_copies_of_examples_and_unknown_intents(bot_file, tmp_path):
    spec = load_bot(bot_file)
    copy = tmp_path / "copy.yaml"
    copy.write_text('- {text: "Parcel", intent: order}\n', encoding="utf-8")
    with pytest.raises(DistilkitError, match="not held out"):
        load_eval_set(copy, spec)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text('- {text: "hello", intent: greeting}\n', encoding="utf-8")
    with pytest.raises(DistilkitError, match="unknown intent"):
        load_eval_set(unknown, spec)


def test_shipped_support_bot_and_its_held_out_set():
    spec = load_bot(EXAMPLES / "intents.yaml")
    items = load_eval_set(EXAMPLES / "eval.yaml", spec)
    assert len(spec.intents) >= 10
    covered = {intent for _, intent in items}
    assert covered == {i.name for i in spec.intents} | {None}
    assert sum(intent is None for _, intent in items) >= 5
