"""Texts → padded int64 batches for ONNX Runtime, with the `tokenizers` library only.

Batches are cut from the texts sorted by token count and each is padded to its own longest sequence: on a CPU the
cost of a BERT forward grows with the padded length, so one long text must not make 31 short ones pay for its
length. The int64 arrays handed to ONNX Runtime are contiguous views into buffers allocated once per encoder
(``batch_size × max_length`` each), so serving a stream of requests does not allocate per batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import Encoding, Tokenizer

from distilkit.core.errors import DistilkitError


@dataclass
class EncodedBatch:
    """One batch: positions of its texts in the caller's list, the model inputs, and the tokenizer's encodings.

    The arrays in `feeds` are views into the encoder's reused buffers: they are valid until the next batch is made.
    """

    indices: np.ndarray
    feeds: dict[str, np.ndarray]
    encodings: list[Encoding]

    @property
    def lengths(self) -> list[int]:
        return [len(e.ids) for e in self.encodings]


class TextEncoder:
    """Tokenise, truncate to `max_length` (special tokens included), batch by length, pad per batch."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        input_names: Sequence[str],
        max_length: int,
        pad_token_id: int,
        batch_size: int = 32,
    ):
        if batch_size < 1:
            raise DistilkitError(f"batch_size: expected a positive number, got {batch_size}")
        if max_length < 2:
            raise DistilkitError(f"max_length: expected at least 2, got {max_length}")
        self.tokenizer = tokenizer
        # Padding is done here into the reused buffers; the tokenizer only truncates. Truncation accounts for the
        # special tokens the post-processor adds, as transformers' `truncation=True, max_length=...` does.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        self.input_names = list(input_names)
        self.max_length = max_length
        self.pad_token_id = pad_token_id
        self.batch_size = batch_size
        self._buffers = {name: np.empty(batch_size * max_length, dtype=np.int64) for name in self.input_names}

    def encode(self, texts: Sequence[str]) -> list[Encoding]:
        """Encodings of `texts` (truncated, unpadded), in order."""
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise DistilkitError(f"text {i}: expected a string, got {type(text).__name__}")
        return self.tokenizer.encode_batch(list(texts), add_special_tokens=True)

    def batches(self, texts: Sequence[str]) -> Iterator[EncodedBatch]:
        """Batches over `texts`, shortest first; `indices` say where each row's text was in `texts`."""
        return self.batches_of(self.encode(texts))

    def batches_of(self, encodings: Sequence[Encoding]) -> Iterator[EncodedBatch]:
        """Batches over encodings made elsewhere (e.g. windows of pre-split words), shortest first."""
        order = np.argsort(np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings)))
        order = order.astype(np.int64, copy=False)
        for start in range(0, len(order), self.batch_size):
            indices = order[start : start + self.batch_size]
            chosen = [encodings[i] for i in indices]
            yield EncodedBatch(indices, self._fill(chosen), chosen)

    def _fill(self, encodings: list[Encoding]) -> dict[str, np.ndarray]:
        """Write a batch into the buffers: rows padded to the batch's longest sequence (pad id, mask 0, type 0)."""
        rows = len(encodings)
        width = max(len(e.ids) for e in encodings)
        feeds = {}
        for name in self.input_names:
            view = self._buffers[name][: rows * width].reshape(rows, width)
            view.fill(self.pad_token_id if name == "input_ids" else 0)
            for r, encoding in enumerate(encodings):
                n = len(encoding.ids)
                if name == "input_ids":
                    view[r, :n] = encoding.ids
                elif name == "attention_mask":
                    view[r, :n] = 1
                else:
                    view[r, :n] = encoding.type_ids
            feeds[name] = view
        return feeds
