"""What a bench worker runs: a PyTorch model or an ONNX bundle, timed on tensors or from raw text.

Two timing modes, chosen once per bench:

- ``tensors``: the forward pass alone on ready, fixed-shape inputs (token ids of real test texts when there are
  any, random ids otherwise). This isolates the network: the teacher-vs-student speed of the architecture.
- ``text``: what an application pays from a raw string to a label: a transformers ``pipeline`` for PyTorch models
  (what users of HF tools run), `distilkit.runtime.Predictor` for bundles. For bundles the bare ONNX Runtime
  ``session.run`` on the same, already encoded inputs is timed too, so the runtime's own overhead (tokenising,
  batching, softmax) shows as a separate figure.

Imports are per backend: a bundle worker never imports torch or transformers, so its RSS is the runtime's alone.

PyTorch token classifiers (NER, POS) are benched too: their test split is a CoNLL (or tokens/tags JSONL) file, timed
as its sentences' words joined by spaces and scored per word (token accuracy, entity P/R/F1).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from distilkit.core.errors import DistilkitError

# name -> (batch size, sequence length); the names are report.json keys.
SETTINGS: dict[str, tuple[int, int]] = {"b1_s128": (1, 128), "b1_s32": (1, 32), "b32_s128": (32, 128)}
MODES = ("tensors", "text")


def is_bundle(folder: str | Path) -> bool:
    return (Path(folder) / "bundle.json").is_file()


def one_line(e: BaseException) -> str:
    text = (str(e).strip().splitlines() or [""])[0]
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


TOKEN_SUFFIXES = (".conll", ".txt")


def read_test_split(path: str | Path):
    """The test split: a `TokenSplit` for CoNLL files or JSONL records with ``tokens``, else a classification split."""
    path = Path(path)
    tokens = path.suffix.lower() in TOKEN_SUFFIXES
    if path.suffix.lower() in (".jsonl", ".json"):
        with path.open(encoding="utf-8") as f:
            first = next((line for line in f if line.strip()), "")
        tokens = first.lstrip().startswith("{") and '"tokens"' in first
    if tokens:
        from distilkit.data.tagged import read_token_split

        return read_token_split(path)
    from distilkit.data.classification import read_split

    return read_split(path)


def split_texts(split) -> list[str]:
    """Raw texts of a test split: a classification split's texts, or a token split's sentences as joined words."""
    sentences = getattr(split, "sentences", None)
    return [" ".join(words) for words in sentences] if sentences is not None else split.texts


def split_labels(split) -> set[str]:
    """Every gold label (or tag) of a test split."""
    tags = getattr(split, "tags", None)
    return {tag for sentence in tags for tag in sentence} if tags is not None else set(split.labels)


def _batches(items: list, batch: int) -> list[list]:
    """Consecutive groups of `batch` items (at least one group; the last incomplete one dropped)."""
    if batch == 1:
        return [[x] for x in items]
    groups = [items[i : i + batch] for i in range(0, len(items) - batch + 1, batch)]
    return groups or [items[:batch]]


class TorchBackend:
    """A Hugging Face sequence (or token) classifier under torch (safetensors only, no remote code)."""

    kind = "torch"

    def __init__(self, path: str, threads: int, mode: str, max_length: int, want_tokenizer: bool):
        import torch
        import transformers
        from transformers import (
            AutoConfig,
            AutoModelForSequenceClassification,
            AutoModelForTokenClassification,
            AutoTokenizer,
        )

        from distilkit.core.tasks import CLASSIFIER_ARCHITECTURES
        from distilkit.models.pruning.layout import load_pretrained
        from distilkit.models.teacher import load_kwargs

        torch.set_num_threads(threads)
        try:
            architectures = AutoConfig.from_pretrained(path, trust_remote_code=False).architectures or []
            self.tokens = any(a.endswith(CLASSIFIER_ARCHITECTURES["token-classification"]) for a in architectures)
            auto = AutoModelForTokenClassification if self.tokens else AutoModelForSequenceClassification
            self.model = load_pretrained(auto, path, **load_kwargs(allow_pickle=False))
        except Exception as e:  # transformers raises OSError, ValueError, safetensors errors...; one line for users
            raise DistilkitError(f"{path}: cannot load model ({one_line(e)})") from None
        self.model.eval()
        self.tokenizer = None
        if want_tokenizer or mode == "text":
            try:
                self.tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
            except Exception as e:
                raise DistilkitError(f"{path}: cannot load tokenizer ({one_line(e)})") from None
        longest = max(seq for _, seq in SETTINGS.values())
        limit = getattr(self.model.config, "max_position_embeddings", None)
        if limit is not None and limit < longest:
            raise DistilkitError(f"{path}: max_position_embeddings is {limit}, the bench needs {longest} tokens")
        self.mode = mode
        self.max_length = max_length
        self.pipeline = None
        if mode == "text":
            task = "token-classification" if self.tokens else "text-classification"
            self.pipeline = transformers.pipeline(task, model=self.model, tokenizer=self.tokenizer, device=-1)
        self.inputs: dict[str, list[Any]] = {}
        self.versions = {"torch": torch.__version__, "transformers": transformers.__version__}
        self.threads = torch.get_num_threads()

    @property
    def params(self) -> int:
        return int(sum(p.numel() for p in self.model.parameters()))

    @property
    def label_names(self) -> list[str]:
        return list(self.model.config.id2label.values())

    def prepare(self, texts: dict[str, list[str]] | None) -> None:
        """Per setting, the list of inputs that runs cycle through."""
        import inspect

        import torch

        if self.mode == "text":
            if texts is None:
                raise DistilkitError("a from-text bench needs a test split")
            self.inputs = {name: _batches(texts[name], batch) for name, (batch, _) in SETTINGS.items()}
            return
        accepted = set(inspect.signature(self.model.forward).parameters)
        for name, (batch, seq) in SETTINGS.items():
            if texts is not None and self.tokenizer is not None:
                enc = self.tokenizer(
                    texts[name], truncation=True, padding="max_length", max_length=seq, return_tensors="pt"
                )
                enc = {k: v for k, v in enc.items() if k in accepted}
            else:
                vocab = int(getattr(self.model.config, "vocab_size", 1000))
                g = torch.Generator().manual_seed(0)
                ids = torch.randint(min(5, vocab - 1), vocab, (max(batch, 2), seq), generator=g)
                enc = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
            rows = next(iter(enc.values())).shape[0]
            self.inputs[name] = [
                {k: v[i : i + batch].contiguous() for k, v in enc.items()} for i in range(0, rows - batch + 1, batch)
            ]

    def run(self, setting: str, item: int) -> dict[str, float]:
        import torch

        inputs = self.inputs[setting][item % len(self.inputs[setting])]
        start = time.perf_counter()
        if self.pipeline is not None:
            self.pipeline(inputs, batch_size=len(inputs))
        else:
            with torch.inference_mode():
                self.model(**inputs)
        return {"seconds": time.perf_counter() - start}

    def evaluate(self, split) -> dict:
        from distilkit.evaluate.classifier import evaluate_classifier
        from distilkit.evaluate.tagger import evaluate_tagger

        if self.tokenizer is None:
            raise DistilkitError("nothing to evaluate (no tokenizer)")
        if self.tokens != hasattr(split, "sentences"):
            kind = "a token classifier" if self.tokens else "a sequence classifier"
            raise DistilkitError(f"{split.source}: this test split does not fit {kind}")
        score = evaluate_tagger if self.tokens else evaluate_classifier
        return score(self.model, self.tokenizer, split, self.max_length)


class BundleBackend:
    """A `distilkit export` bundle on ONNX Runtime (the torch-free runtime)."""

    kind = "bundle"

    def __init__(self, path: str, threads: int, mode: str, max_length: int, want_tokenizer: bool):
        import onnxruntime

        from distilkit.runtime import Predictor

        self.predictor = Predictor(path, batch_size=max(b for b, _ in SETTINGS.values()), threads=threads)
        if self.predictor.task not in ("sequence-classification", "token-classification"):
            task = self.predictor.task
            raise DistilkitError(f"{path}: bench scores sequence- and token-classification bundles, this one is {task}")
        self.tokens = self.predictor.task == "token-classification"
        self.mode = mode
        self.texts: dict[str, list[list[str]]] = {}
        self.feeds: dict[str, list[dict]] = {}
        self.versions = {"onnxruntime": onnxruntime.__version__}
        self.threads = threads

    @property
    def params(self) -> int | None:
        return None  # counted by the parent from the ONNX file's initializers: this worker does not import onnx

    @property
    def label_names(self) -> list[str]:
        return self.predictor.labels

    def prepare(self, texts: dict[str, list[str]] | None) -> None:
        import numpy as np

        bundle = self.predictor.bundle
        for name, (batch, seq) in SETTINGS.items():
            if texts is None:
                if self.mode == "text":
                    raise DistilkitError("a from-text bench needs a test split")
                rng = np.random.default_rng(0)
                ids = rng.integers(5, bundle.tokenizer.get_vocab_size(), size=(batch, seq), dtype=np.int64)
                feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
                self.feeds[name] = [{k: v for k, v in feeds.items() if k in bundle.inputs}]
                continue
            groups = _batches(texts[name], batch)
            self.texts[name] = groups
            self.feeds[name] = []
            for group in groups:
                (encoded,) = list(self.predictor.encoder.batches(group))  # one batch: len(group) <= batch size
                self.feeds[name].append({k: v.copy() for k, v in encoded.feeds.items()})

    def run(self, setting: str, item: int) -> dict[str, float]:
        bundle = self.predictor.bundle
        feeds = self.feeds[setting][item % len(self.feeds[setting])]
        start = time.perf_counter()
        bundle.session.run([bundle.output], feeds)
        session_seconds = time.perf_counter() - start
        if self.mode != "text":
            return {"seconds": session_seconds}
        texts = self.texts[setting][item % len(self.texts[setting])]
        start = time.perf_counter()
        if self.tokens:
            self.predictor.tag_words(texts)
        else:
            self.predictor.predict(texts)
        return {"seconds": time.perf_counter() - start, "session_seconds": session_seconds}

    def evaluate(self, split) -> dict:
        from distilkit.evaluate.classification_metrics import classification_metrics

        if self.tokens != hasattr(split, "sentences"):
            kind = "a token classifier" if self.tokens else "a sequence classifier"
            raise DistilkitError(f"{split.source}: this test split does not fit {kind}")
        if self.tokens:
            return self._evaluate_tags(split)
        if split.pairs:
            raise DistilkitError(f"{split.source}: bundles take single texts, this split has text pairs")
        unknown = sorted(set(split.labels) - set(self.label_names))
        if unknown:
            raise DistilkitError(f"{split.source}: labels {unknown} are not among the bundle's {self.label_names}")
        predicted = [r["label"] for r in self.predictor.predict(split.texts)]
        return classification_metrics(split.labels, predicted, self.label_names)

    def _evaluate_tags(self, split) -> dict:
        """Word-level tags on the split's own words, scored like a PyTorch tagger (`tag_metrics`)."""
        from distilkit.data.tagged import require_known_tags
        from distilkit.evaluate.tag_metrics import tag_metrics

        require_known_tags(split, self.label_names, "bundle")
        return tag_metrics(split.tags, self.predictor.tag_sentences(split.sentences), split.is_bio)


def open_backend(path: str, threads: int | None, mode: str, max_length: int, want_tokenizer: bool):
    """The backend for a model folder: a bundle if it holds bundle.json, else a PyTorch model."""
    if mode not in MODES:
        raise DistilkitError(f"bench: timing mode must be one of {', '.join(MODES)}, got {mode!r}")
    threads = int(threads or os.cpu_count() or 1)
    cls = BundleBackend if is_bundle(path) else TorchBackend
    return cls(path, threads, mode, max_length, want_tokenizer)
