"""Helpers shared by the export and runtime tests: a tiny token tagger next to conftest's tiny classifier."""

from __future__ import annotations

from pathlib import Path

import torch
from conftest import make_tokenizer, tiny_config
from transformers import BertForTokenClassification

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
