"""Helpers shared by the serving tests: tiny bundles of all three tasks, a bot file, and a session that can stall."""

from __future__ import annotations

import threading
from pathlib import Path

from conftest import save_tiny_model
from export_helpers import save_tiny_tagger

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


def make_bundles(root: Path) -> dict[str, Path]:
    """Classifier, tagger and embedding bundles exported from tiny random models (fp32, a few seconds in all)."""
    classifier = save_tiny_model(root / "classifier-model")
    export_bundle(classifier, root / "sentiment")
    export_bundle(save_tiny_tagger(root / "tagger-model"), root / "tags", task="token-classification")
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
