"""Tiny masked-LM teachers and a small raw-text corpus for the general-distillation tests."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from conftest import WORDS, make_tokenizer, tiny_config
from transformers import BertForMaskedLM, BertModel


def save_tiny_mlm(folder: Path, layers: int = 4, seed: int = 0, head: bool = True, dropout: float = 0.1) -> Path:
    """A random BERT saved as a masked LM (head=True) or as a bare encoder like all-MiniLM-L6-v2 (head=False)."""
    torch.manual_seed(seed)
    tokenizer = make_tokenizer(folder)
    config = tiny_config(layers=layers)
    config.vocab_size = len(tokenizer)
    config.hidden_dropout_prob = config.attention_probs_dropout_prob = dropout
    model = BertForMaskedLM(config) if head else BertModel(config, add_pooling_layer=False)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_corpus(path: Path, lines: int = 200, seed: int = 0) -> Path:
    """Paragraphs of 3 to 40 words drawn with Zipf-like frequencies (so frequency smoothing has something to do)."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]
    path.parent.mkdir(parents=True, exist_ok=True)
    text = [" ".join(rng.choices(WORDS, weights, k=rng.randint(3, 40))) for _ in range(lines)]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path
