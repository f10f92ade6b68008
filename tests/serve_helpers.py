"""Helpers shared by the serving tests: tiny bundles of all three tasks, a bot file, and a session that can stall."""

from __future__ import annotations

import threading
from pathlib import Path

import torch
from conftest import make_tokenizer, tiny_config
from export_helpers import TAGS
from transformers import BertForSequenceClassification, BertForTokenClassification

from distilkit.export import export_bundle

BOT_YAML = """\
name: tiny-support
threshold: {threshold}
fallback: Sorry, I can only help with orders and refunds.
intents:
  - name: order_status
    examples: ["where is my order", "has my parcel shipped"]
    responses: ["Your order is on its way.", "It shipped yesterday."]
  - name: refund
    examples: ["i want my money back", "how do i get a refund"]
    responses: ["Refunds take five days."]
"""


def save_model(folder: Path, tagger: bool = False) -> Path:
    """A tiny random classifier or tagger whose embedding table covers every id its tokenizer produces.

    conftest's vocabulary lists "a" twice, so its last token ("?") gets id len(tokenizer) and `vocab_size =
    len(tokenizer)` leaves it outside the table; the fuzzing test sends "?" within seconds.
    """
    torch.manual_seed(0)
    tokenizer = make_tokenizer(folder)
    config = tiny_config(num_labels=3 if tagger else 2)
    config.vocab_size = max(tokenizer.get_vocab().values()) + 1
    if tagger:
        config.id2label = dict(enumerate(TAGS))
        config.label2id = {t: i for i, t in enumerate(TAGS)}
    model = (BertForTokenClassification if tagger else BertForSequenceClassification)(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_bundles(root: Path) -> dict[str, Path]:
    """Classifier, tagger and embedding bundles exported from tiny random models (fp32, a few seconds in all)."""
    classifier = save_model(root / "classifier-model")
    export_bundle(classifier, root / "sentiment")
    export_bundle(save_model(root / "tagger-model", tagger=True), root / "tags", task="token-classification")
    export_bundle(classifier, root / "vectors", task="embedding")
    return {name: root / name for name in ("sentiment", "tags", "vectors")}


def write_bot(path: Path, threshold: float = 0.5) -> Path:
    path.write_text(BOT_YAML.format(threshold=threshold), encoding="utf-8")
    return path


class CountingSession:
    """Stands in for a bundle's ONNX Runtime session: counts forward passes and their batch sizes, and can hold
    every forward until `release` is set (to fill a queue deterministically)."""

    def __init__(self, session, hold: bool = False):
        self.session = session
        self.calls: list[int] = []
        self.release = threading.Event()
        self.started = threading.Event()
        if not hold:
            self.release.set()

    def run(self, names, feeds):
        self.calls.append(len(next(iter(feeds.values()))))
        self.started.set()
        self.release.wait(30)
        return self.session.run(names, feeds)

    def __getattr__(self, name):
        return getattr(self.session, name)
