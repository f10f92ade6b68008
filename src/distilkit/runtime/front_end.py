"""A bundle's text side without its model: texts → model inputs, model outputs → the results `Predictor` gives.

A serving engine that runs the ONNX graph itself (Triton's onnxruntime backend, inside an ensemble whose first and
last steps are Python models) still needs distilkit's tokenization before the graph and its decoding after it:
Triton does not tokenize, and a label, a windowed text's pooled logits or an entity span must come out as
`distilkit predict` gives them. `FrontEnd` is those two halves, made of the runtime's own pieces:

- `inputs(texts)`: the rows the model must read (`TextEncoder.documents`: truncation, head-tail or windows; for a
  tagger `WordTagger.plan_texts`: windows of whole words), as one padded batch ``[rows, width]`` per input name.
- `results(texts, outputs)`: the graph's output for those rows ``[rows, ...]`` back into one result per text, in the
  form `distilkit.serve.models.ServedModel.run` gives (see `distilkit.runtime.protocol` for their tensors).

`results` plans the texts again rather than receiving the plan: tokenizing is cheap next to a forward pass, and an
engine's steps then pass only tensors the graph and the client know. Both plans are the same, since tokenization is
deterministic. The answers equal `Predictor`'s up to float rounding: rows are padded differently (to a multiple of
`pad_multiple` tokens so that Triton can batch requests of similar lengths, where the predictor pads to the longest
text of a length-sorted batch), and a masked position changes a logit only in its last bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Encoding

from distilkit.core.errors import DistilkitError
from distilkit.core.tasks import EMBEDDING, TOKEN_CLASSIFICATION
from distilkit.runtime.bundle import BUNDLE_FILE, label_names, long_text_of, read_meta, read_tokenizer
from distilkit.runtime.encoding import Documents, Piece, TextEncoder
from distilkit.runtime.probabilities import label_scores, softmax
from distilkit.runtime.tagging import TagPlan, WordTagger


class FrontEnd:
    """Tokenize texts for a bundle's graph and decode its outputs, without loading the graph (see the module doc).

    `folder` holds the bundle's `bundle.json` and `tokenizer.json` (its `model.onnx` may be elsewhere).
    """

    def __init__(self, folder: str | Path, pad_multiple: int = 16):
        folder = Path(folder)
        if pad_multiple < 1:
            raise DistilkitError(f"pad_multiple: expected a positive number, got {pad_multiple}")
        meta = read_meta(folder, model=False)
        self.meta = meta
        self.task: str = meta["task"]
        self.labels: list[str] = [] if self.task == EMBEDDING else label_names(folder / BUNDLE_FILE, meta["labels"])
        self.pad_multiple = pad_multiple
        self.encoder = TextEncoder(
            read_tokenizer(folder),
            meta["inputs"],
            meta["max_length"],
            meta["pad_token_id"],
            long_text=long_text_of(folder / BUNDLE_FILE, meta),
        )
        self.tagger = (
            WordTagger(self.encoder, None, meta["output"], self.labels) if self.task == TOKEN_CLASSIFICATION else None
        )

    def rows(self, texts: Sequence[str]) -> list[Encoding | Piece]:
        """The rows the model reads for `texts`, in order (a long text may have several)."""
        return self._plan(texts)[1]

    def inputs(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The model inputs of `texts`: one int64 array ``[rows, width]`` per input name.

        Texts without a single word give a tagger no window; the graph still gets one row (the empty text's special
        tokens), since an engine cannot run a batch of none, and `results` ignores it.
        """
        if not texts:
            raise DistilkitError("no texts to encode")
        rows = self.rows(texts) or self.encoder.encode([""])
        return self.encoder.padded(rows, self.pad_multiple)

    def results(self, texts: Sequence[str], outputs: np.ndarray) -> list[Any]:
        """One result per text from the graph's `outputs` for the rows of `inputs(texts)`, in the form
        `ServedModel.run` gives: ``{"label", "score", "scores", "truncated"}`` (sequence classification), ``{"words",
        "entities", "truncated"}`` (token classification) or ``(embedding row, truncated)`` (embedding)."""
        plan, rows = self._plan(texts)
        if len(outputs) < len(rows):
            raise DistilkitError(f"{len(outputs)} output rows for {len(rows)} model inputs")
        if isinstance(plan, TagPlan):
            assert self.tagger is not None  # a plan of words comes from the tagger
            scores = [outputs[r, : len(row.ids)] for r, row in enumerate(rows)]  # [tokens, tags] per window
            return [{**r, "truncated": False} for r in self.tagger.words_and_entities_from(texts, plan, scores)]
        pooled = plan.pool(list(outputs[: len(rows)]))  # [labels] or [dim] per text, windows averaged
        if self.task == EMBEDDING:
            return list(zip(np.stack(pooled).astype(np.float32, copy=False), plan.cut, strict=True))
        probs = softmax(np.stack(pooled).astype(np.float64))
        return [{**label_scores(p, self.labels), "truncated": cut} for p, cut in zip(probs, plan.cut, strict=True)]

    def _plan(self, texts: Sequence[str]) -> tuple[Documents | TagPlan, list[Encoding | Piece]]:
        """Taggers: windows of whole words; the other tasks: the encoder's documents (its long-text strategy)."""
        if self.tagger is not None:
            plan = self.tagger.plan_texts(texts)
            return plan, list(plan.encodings)
        documents = self.encoder.documents(texts)
        return documents, documents.rows
