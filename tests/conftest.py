"""Shared fixtures: tiny random BERT models (2 layers, hidden 32) and small classification files, built per test."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast
from typer.testing import CliRunner

WORDS = [
    "good",
    "great",
    "fine",
    "nice",
    "bad",
    "awful",
    "poor",
    "sad",
    "movie",
    "film",
    "plot",
    "actor",
    "story",
    "fun",
    "dull",
    "boring",
    "long",
    "short",
    "the",
    "a",
    "an",
    "is",
    "was",
    "and",
    "but",
    "not",
    "very",
    "really",
    "quite",
    "it",
    "this",
    "that",
    "of",
    "to",
    "in",
]


def make_tokenizer(folder: Path) -> BertTokenizerFast:
    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *[f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"]]
    vocab += list("abcdefghijklmnopqrstuvwxyz.,!?")
    vocab = list(dict.fromkeys(vocab))  # "a" is a word and a letter: a repeated line would shift the last ids
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    # transformers 5 ignores `vocab_file=` in the fast constructor; from_pretrained reads vocab.txt from the folder.
    return BertTokenizerFast.from_pretrained(folder, do_lower_case=True)


def tiny_config(num_labels: int = 2, layers: int = 2, hidden: int = 32) -> BertConfig:
    names = ["negative", "positive", "neutral"][:num_labels]
    return BertConfig(
        vocab_size=100,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=num_labels,
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
    )


def save_tiny_model(folder: Path, layers: int = 2, seed: int = 0, num_labels: int = 2) -> Path:
    """A random sequence classifier with its tokenizer, saved as a standard HF folder (safetensors)."""
    torch.manual_seed(seed)
    tokenizer = make_tokenizer(folder)
    config = tiny_config(num_labels=num_labels, layers=layers)
    config.vocab_size = len(tokenizer)
    model = BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("text", "label")) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


POSITIVE = ["good movie", "great film", "a very nice story", "really fun plot", "the actor was great", "fine film"]
NEGATIVE = ["bad movie", "awful film", "a very dull story", "boring plot", "the actor was poor", "sad and long"]


def toy_rows(n: int) -> list[tuple[str, str]]:
    rows = []
    for i in range(n):
        pool, label = (POSITIVE, "positive") if i % 2 == 0 else (NEGATIVE, "negative")
        rows.append((pool[(i // 2) % len(pool)], label))
    return rows


@pytest.fixture
def tiny_teacher(tmp_path: Path) -> Path:
    return save_tiny_model(tmp_path / "teacher", layers=4)


@pytest.fixture
def toy_data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    write_csv(folder / "train.csv", toy_rows(48))
    write_csv(folder / "dev.csv", toy_rows(12))
    write_csv(folder / "test.csv", toy_rows(12))
    return folder


def invoke(*args: object):
    """Run the `distilkit` CLI in-process; a crash re-raises, a non-zero exit fails with the command's output."""
    from distilkit.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result


def write_conll(path: Path, sentences: list[tuple[list[str], list[str]]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for words, tags in sentences:
        lines += [f"{w}\t{t}" for w, t in zip(words, tags, strict=True)] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
