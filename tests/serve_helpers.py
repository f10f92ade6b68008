"""Helpers shared by the serving tests: tiny bundles of all three tasks, a bot file, and a session that can stall."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import torch
from conftest import make_tokenizer, tiny_config
from export_helpers import TAGS
from transformers import BertForSequenceClassification, BertForTokenClassification

import distilkit
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


def save_model(folder: Path, tagger: bool = False, favour: str | None = None) -> Path:
    """A tiny random classifier or tagger, optionally with a head biased towards one label."""
    torch.manual_seed(0)
    tokenizer = make_tokenizer(folder)
    config = tiny_config(num_labels=3 if tagger else 2)
    config.vocab_size = len(tokenizer)
    if tagger:
        config.id2label = dict(enumerate(TAGS))
        config.label2id = {t: i for i, t in enumerate(TAGS)}
    model = (BertForTokenClassification if tagger else BertForSequenceClassification)(config)
    if favour is not None:  # a head biased towards one label, so the random model predicts it everywhere
        with torch.no_grad():
            model.classifier.bias[config.label2id[favour]] = 10.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_bundles(root: Path, favour_tag: str | None = None) -> dict[str, Path]:
    """Classifier, tagger and embedding bundles exported from tiny random models (fp32, a few seconds in all);
    `favour_tag` makes the tagger predict that tag on every token."""
    classifier = save_model(root / "classifier-model")
    export_bundle(classifier, root / "sentiment")
    tagger = save_model(root / "tagger-model", tagger=True, favour=favour_tag)
    export_bundle(tagger, root / "tags", task="token-classification")
    export_bundle(classifier, root / "vectors", task="embedding")
    return {name: root / name for name in ("sentiment", "tags", "vectors")}


SOURCE = Path(distilkit.__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: list[str], port: int, log: Path | None = None) -> subprocess.Popen:
    """Start `distilkit serve` and wait until /readyz says ready (or fail with its output).

    Its output goes to a pipe the caller reads at the end, or to the file `log`: a server that logs more than a pipe
    holds (64 KB, a few dozen tracebacks) blocks on the write until someone reads, and stops answering meanwhile.
    """
    env = {**os.environ, "PYTHONPATH": str(SOURCE)}
    out = subprocess.PIPE if log is None else log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "distilkit", "serve", *args, "--port", str(port)],
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    if log is not None:
        out.close()  # the child has its own copy
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if log is None else log.read_text()
            pytest.fail(f"server exited early: {output[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail("server did not become ready in 60 s")


def write_bot(path: Path, threshold: float = 0.5) -> Path:
    path.write_text(BOT_YAML.format(threshold=threshold), encoding="utf-8")
    return path


def request_counts(metrics: str) -> dict[tuple[str, str], float]:
    """distilkit_requests_total by (endpoint, status), read from /metrics' Prometheus text."""
    pattern = r'^distilkit_requests_total\{endpoint="([^"]*)",status="(\d+)"\} (\S+)$'
    return {(m[1], m[2]): float(m[3]) for m in re.finditer(pattern, metrics, re.MULTILINE)}


class CountingSession:
    """Stands in for a bundle's ONNX Runtime session: counts forward passes and their batch sizes, and can hold
    every forward until `release` is set (to fill a queue deterministically)."""

    def __init__(self, session, hold: bool = False):
        self.session = session
        self.calls: list[int] = []
        self.widths: list[int] = []
        self.release = threading.Event()
        self.started = threading.Event()
        if not hold:
            self.release.set()

    def run(self, names, feeds):
        ids = feeds["input_ids"]
        self.calls.append(ids.shape[0])
        self.widths.append(ids.shape[1])
        self.started.set()
        self.release.wait(30)
        return self.session.run(names, feeds)

    def __getattr__(self, name):
        return getattr(self.session, name)


class CountingTokenizer:
    """Stands in for a `tokenizers.Tokenizer`: counts the texts (or pre-split sentences) it is asked to encode."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.texts = 0

    def encode(self, *args, **kwargs):
        self.texts += 1
        return self.tokenizer.encode(*args, **kwargs)

    def encode_batch(self, inputs, *args, **kwargs):
        self.texts += len(inputs)
        return self.tokenizer.encode_batch(inputs, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)


class FailingSession:
    """Stands in for a bundle's session: fails any forward pass whose batch holds `token_id`, as an ONNX Runtime
    error on one bad input would, and counts the rows of every call (so a test sees the batch and its retries)."""

    def __init__(self, session, token_id: int):
        self.session = session
        self.token_id = token_id
        self.calls: list[int] = []

    def run(self, names, feeds):
        ids = feeds["input_ids"]
        self.calls.append(ids.shape[0])
        if (ids == self.token_id).any():
            raise RuntimeError(f"forward pass failed on token {self.token_id}")
        return self.session.run(names, feeds)

    def __getattr__(self, name):
        return getattr(self.session, name)
