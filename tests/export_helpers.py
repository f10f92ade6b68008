"""Helpers shared by the export and runtime tests: a tiny token tagger next to conftest's tiny classifier."""

from __future__ import annotations

from pathlib import Path

import torch
from conftest import make_tokenizer, tiny_config
from transformers import BertForSequenceClassification, BertForTokenClassification

TAGS = ["O", "B-PER", "I-PER"]

# Texts the export never saw (its validation uses the built-in sentences): other words, lengths and batch sizes.
FRESH_TEXTS = [
    "good",
    "the actor was not very good and the plot was really quite long but it was fun",
    "a sad film",
    "boring, dull, poor!",
    "it is a nice story of an actor",
]


def save_tiny_tagger(folder: Path, layers: int = 2, seed: int = 0) -> Path:
    """A random token classifier (O, B-PER, I-PER) with its tokenizer, saved as a standard HF folder."""
    torch.manual_seed(seed)
    tokenizer = make_tokenizer(folder)
    config = tiny_config(num_labels=3, layers=layers)
    config.vocab_size = len(tokenizer)
    config.id2label = dict(enumerate(TAGS))
    config.label2id = {t: i for i, t in enumerate(TAGS)}
    model = BertForTokenClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_sharp_classifier(folder: Path, seed: int = 0) -> Path:
    """A random sequence classifier with large weights (initializer range 0.5, not BERT's 0.02), so that its logits
    differ by whole units from one window of a text to the next: a test comparing pooled windows with one window
    (truncation) then tells them apart, which the near-constant logits of a 0.02 initialisation would not."""
    torch.manual_seed(seed)
    tokenizer = make_tokenizer(folder)
    config = tiny_config(num_labels=2, layers=2)
    config.vocab_size = len(tokenizer)
    config.initializer_range = 0.5
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def hand_windows(ids: list[int], budget: int, stride: int) -> list[list[int]]:
    """Windows of `budget` content ids sharing `stride` with the next, written out independently of distilkit."""
    starts = [0]
    while starts[-1] + budget < len(ids):
        starts.append(starts[-1] + budget - stride)
    return [ids[s : s + budget] for s in starts]
