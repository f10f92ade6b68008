"""The bundles a server holds, by name, and what one batch of texts turns into for each task.

Only bundle folders are loaded (ONNX graph, `tokenizer.json`, `bundle.json`, checked by the runtime's `load_bundle`):
nothing is unpickled, so serving a folder someone sent you cannot run their code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distilkit.core.errors import DistilkitError
from distilkit.runtime import Predictor
from distilkit.runtime.bundle import parse_bundle_args


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

        Each text is tokenized once: the truncation flags come from the encodings the results were computed from.
        NER goes through the runtime's word tagger, the decoder `distilkit predict --task ner` and the entity metric
        use, so the API cannot report entities they would not; it windows long texts, so nothing is cut. Embeddings
        stay numpy rows (the chatbot scores them; the embed endpoint converts them to lists).
        """
        if self.task == "token-classification":
            return [{**result, "truncated": False} for result in self.predictor.words_and_entities(texts)]
        if self.task == "embedding":
            rows, truncated = self.predictor.embed_with_truncation(texts)
            return list(zip(rows, truncated, strict=True))
        results, truncated = self.predictor.predict_with_truncation(texts)
        for result, cut in zip(results, truncated, strict=True):
            result["truncated"] = cut
        return results


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
