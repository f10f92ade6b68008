"""Probabilities from logits, in numpy: what the runtime reports as a label's or a tag's score."""

from __future__ import annotations

from typing import Any

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the max so large logits do not overflow."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def label_scores(probs: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """A text's result from its label probabilities ``[labels]``: the best label, its probability, all of them."""
    best = int(probs.argmax())
    return {
        "label": labels[best],
        "score": float(probs[best]),
        "scores": {name: float(p) for name, p in zip(labels, probs, strict=True)},
    }
