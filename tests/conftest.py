"""Shared fixtures: tiny random BERT models (2 layers, hidden 32) and small classification files, built per test;
`require`, which skips a test whose requirement this machine lacks (and fails it under CI)."""

from __future__ import annotations

import csv
import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast
from typer.testing import CliRunner

# Training at --precision auto would be bf16 on a CPU with AVX-512 BF16 and fp32 elsewhere: the tests compare numbers
# (resume, DDP, cached against live teacher passes), so they pin auto to fp32 everywhere, subprocesses included, and
# ask for bf16 where they test it (tests/distil/test_precision.py, test_resume.py).
os.environ["DISTILKIT_PRECISION"] = "fp32"

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


# --------------------------------------------------------------------------------------------------------------------
# Requirements a fresh machine may lack: the test says what is missing and skips; under CI it fails instead.


def require(condition: bool, what: str) -> None:
    """Skip the calling test with "needs `what`" unless `condition`; under CI (``CI=true``, which .ci/run exports) the
    same absence fails the test, so nothing that must run there is skipped silently."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"needs {what} (CI=true: a missing requirement fails)", pytrace=False)
    try:
        pytest.skip(f"needs {what}")
    except pytest.skip.Exception as skipped:
        # `pytest -rs` then names the skipped test's file and line, not this one (as for a skip in a fixture).
        skipped._use_item_location = True
        raise


# What pip's retry warnings say when no index answers (refused, no DNS, timed out).
UNREACHABLE = re.compile(
    r"Failed to establish a new connection: [^'\")]*|Temporary failure in name resolution|Read timed out"
)


@functools.cache
def registry_problem(requirement: str) -> str | None:
    """Why pip's package index does not offer `requirement` (``name`` or ``name==version``), or None when it does.

    One `pip index versions NAME` a package and session (about a second), through pip's own configuration (index,
    proxies, find-links); one retry and a 10 s timeout, so that an offline machine answers quickly.
    """
    name, _, version = requirement.partition("==")
    command = [sys.executable, "-m", "pip", "index", "versions", name, "--retries", "1", "--timeout", "10"]
    command += ["--no-input", "--disable-pip-version-check"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"pip index versions {name} did not answer: {e}"
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr + "\n" + done.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR:")]
        last = (errors or lines or [f"pip index versions {name}: exit status {done.returncode}"])[-1]
        unreachable = UNREACHABLE.search(done.stderr)
        return f"{last}; the index did not answer: {unreachable.group(0)}" if unreachable else last
    listed = [line.partition(":")[2] for line in done.stdout.splitlines() if line.startswith("Available versions:")]
    if version and version not in {v.strip() for line in listed for v in line.split(",")}:
        return f"the index does not list version {version}"
    return None


def require_registry(*requirements: str) -> None:
    """`require` that pip's package index offers every one of `requirements` (the test downloads them)."""
    for requirement in requirements:
        problem = registry_problem(requirement)
        require(problem is None, f"{requirement} from the package registry ({problem})")


def require_teacher() -> None:
    """`require` the real teacher all-MiniLM-L6-v2: on this machine already, or its package from the registry."""
    from distilkit.models.teacher import EMBEDDED_PACKAGE, local_teacher_dir

    if local_teacher_dir() is None:
        require_registry(EMBEDDED_PACKAGE)
