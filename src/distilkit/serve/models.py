"""The bundles a server holds, by name, and what one batch of texts turns into for each task.

Only bundle folders are loaded (ONNX graph, `tokenizer.json`, `bundle.json`, checked by the runtime's `load_bundle`):
nothing is unpickled, so serving a folder someone sent you cannot run their code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distilkit.core.errors import DistilkitError
from distilkit.runtime import Predictor


@dataclass
class ServedModel:
    """A named bundle and its predictor; `run` is what its batcher calls from the worker thread."""

    name: str
    predictor: Predictor

    @property
    def task(self) -> str:
        return self.predictor.task

    @property
    def max_tokens(self) -> int:
        return self.predictor.bundle.max_length

    def run(self, texts: list[str]) -> list[Any]:
        """One result per text: the predictor's result plus whether the text was cut to `max_tokens`.

        Embeddings stay numpy rows (the chatbot scores them; the embed endpoint converts them to lists).
        """
        truncated = [bool(e.overflowing) for e in self.predictor.encoder.encode(texts)]
        if self.task == "embedding":
            return [(row, cut) for row, cut in zip(self.predictor.embed(texts), truncated, strict=True)]
        results = self.predictor.predict(texts)
        if self.task == "token-classification":
            for text, result in zip(texts, results, strict=True):
                result["entities"] = entities(text, result["tokens"])
        for result, cut in zip(results, truncated, strict=True):
            result["truncated"] = cut
        return results


def parse_bundle_args(args: Sequence[str]) -> list[tuple[str, Path]]:
    """`NAME=PATH` or `PATH` (named after its folder) → (name, path); names must be unique."""
    pairs: list[tuple[str, Path]] = []
    for arg in args:
        name, sep, path = arg.partition("=")
        if not sep:
            name, path = Path(arg).resolve().name, arg
        if not name or not path:
            raise DistilkitError(f"bundle {arg!r}: expected NAME=PATH or PATH")
        if any(name == n for n, _ in pairs):
            raise DistilkitError(f"bundle name {name!r} given twice (name them: NAME=PATH)")
        pairs.append((name, Path(path)))
    return pairs


def load_models(args: Sequence[str], forward_batch: int, threads: int | None) -> dict[str, ServedModel]:
    """Load every bundle named on the command line (checked by the runtime; any error names the file).

    ONNX Runtime's threads do not spin between calls: the event loop shares their cores.
    """
    if not args:
        raise DistilkitError("serve: give at least one bundle folder")
    return {
        name: ServedModel(name, Predictor(path, batch_size=forward_batch, threads=threads, spin=False))
        for name, path in parse_bundle_args(args)
    }


def entities(text: str, tokens: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entity spans from per-token BIO tags: `B-X` opens an entity, `I-X` (or a plain `X`) extends one of type X.

    A sub-word token continues the entity its word started; an `I-X` after `O` or after another type opens a new
    entity, as seqeval's default (lenient) scheme does. Each span carries its text slice and mean token score.
    """
    spans: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    scores: list[float] = []
    for token in tokens:
        tag = token["tag"]
        prefix, _, kind = tag.partition("-") if "-" in tag else ("I", "-", tag)
        if tag == "O" or not kind:
            current = None
            continue
        if current is not None and prefix == "I" and current["type"] == kind:
            current["end"] = token["end"]
            scores.append(token["score"])
            current["score"] = float(np.mean(scores))
            continue
        current = {"type": kind, "start": token["start"], "end": token["end"], "score": float(token["score"])}
        scores = [token["score"]]
        spans.append(current)
    for span in spans:
        span["text"] = text[span["start"] : span["end"]]
    return spans
