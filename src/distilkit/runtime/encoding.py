"""Texts → padded int64 batches for ONNX Runtime, with the `tokenizers` library only.

Batches are cut from the texts sorted by token count and each is padded to its own longest sequence: on a CPU the
cost of a BERT forward grows with the padded length, so one long text must not make 31 short ones pay for its
length. The int64 arrays handed to ONNX Runtime are contiguous views into buffers allocated once per encoder
(``batch_size × max_length`` each), so serving a stream of requests does not allocate per batch.

A text longer than ``max_length`` tokens is truncated by the tokenizer (``truncate``, the default), or, for a
sequence-classification bundle exported with ``--long-text head-tail|windows``, cut by `distilkit.core.long_text`
into one head+tail input or several windows (`TextEncoder.documents`); a document's windows are pooled back into
one output by `Documents.pool`. Training cuts the same way (`distilkit.data.batching`), with the same special-token
layout read from the same post-processor (`special_tokens`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import Encoding, Tokenizer

from distilkit.core.errors import DistilkitError
from distilkit.core.long_text import WINDOWS, LongText, SpecialTokens, cut, pool_mean


@dataclass
class EncodedBatch:
    """One batch: positions of its texts in the caller's list, the model inputs, and the tokenizer's encodings.

    The arrays in `feeds` are views into the encoder's reused buffers: they are valid until the next batch is made.
    """

    indices: np.ndarray
    feeds: dict[str, np.ndarray]
    encodings: list[Encoding | Piece]

    @property
    def lengths(self) -> list[int]:
        return [len(e.ids) for e in self.encodings]


@dataclass
class Piece:
    """One model input cut from a longer text (a head+tail selection or a window), special tokens included: the two
    fields of an `Encoding` that batching reads."""

    ids: list[int]
    type_ids: list[int]


@dataclass
class Documents:
    """The model inputs of a list of texts: `rows` in text order, the text each row belongs to, each text's whole
    token count (special tokens included, as if nothing were cut) and whether some of its tokens reach no row."""

    rows: list[Encoding | Piece]
    owners: np.ndarray  # [rows] index of the text each row was cut from
    lengths: list[int]
    cut: list[bool]

    @property
    def one_row_per_text(self) -> bool:
        return len(self.rows) == len(self.lengths)

    def pool(self, outputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One output per text from one per row: a text's rows are averaged (`pool_mean`, the mean of its windows'
        logits); with one row per text the outputs are returned as they are (per-token outputs included)."""
        if self.one_row_per_text:
            return list(outputs)
        return list(pool_mean(np.stack(outputs), self.owners, len(self.lengths)))  # [texts, labels]


def special_tokens(tokenizer: Tokenizer) -> SpecialTokens:
    """The special-token layout `tokenizer`'s post-processor puts around one text, read by post-processing a probe.

    Training (`distilkit.data.batching`, on a transformers tokenizer's `backend_tokenizer`) and the runtime both take
    the layout from here, so a window gets the same ``[CLS] … [SEP]`` and type ids in either.
    """
    probe = untruncated(tokenizer)
    content = probe.encode("a", add_special_tokens=False)
    done = probe.post_process(content, None, True)
    mask, ids, types = done.special_tokens_mask, done.ids, done.type_ids
    inner = [i for i, special in enumerate(mask) if not special]
    if not inner or ids[inner[0] : inner[-1] + 1] != content.ids or any(mask[inner[0] : inner[-1] + 1]):
        raise DistilkitError("the tokenizer's post-processor does not put one text between special tokens")
    first, last = inner[0], inner[-1] + 1
    return SpecialTokens(
        prefix=tuple(ids[:first]),
        suffix=tuple(ids[last:]),
        prefix_types=tuple(types[:first]),
        suffix_types=tuple(types[last:]),
        content_type=types[first],
    )


def untruncated(tokenizer: Tokenizer) -> Tokenizer:
    """A copy of `tokenizer` that neither truncates nor pads (the encoder's own truncates to the window)."""
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy


class TextEncoder:
    """Tokenise, truncate to `max_length` (special tokens included), batch by length, pad per batch.

    `long_text` is how `documents` treats a text longer than `max_length` (sequence classification; see the module
    docstring); `encode` and `batches` always truncate.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        input_names: Sequence[str],
        max_length: int,
        pad_token_id: int,
        batch_size: int = 32,
        long_text: LongText | None = None,
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
        self.long_text = long_text or LongText()
        processor = tokenizer.post_processor
        self.specials = processor.num_special_tokens_to_add(False) if processor is not None else 0
        self._whole: Tokenizer | None = None  # head-tail and windows cut untruncated content ids themselves
        self._layout: SpecialTokens | None = None
        if not self.long_text.is_truncate:
            self._layout = special_tokens(tokenizer)
            self.specials = len(self._layout)
            self.budget = self.long_text.budget(max_length, self.specials)
            self._whole = untruncated(tokenizer)

    def encode(self, texts: Sequence[str]) -> list[Encoding]:
        """Encodings of `texts` (truncated, unpadded), in order."""
        self._check(texts)
        return self.tokenizer.encode_batch(list(texts), add_special_tokens=True)

    @staticmethod
    def _check(texts: Sequence[str]) -> None:
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise DistilkitError(f"text {i}: expected a string, got {type(text).__name__}")

    def documents(self, texts: Sequence[str]) -> Documents:
        """The model inputs of `texts` under the encoder's long-text strategy, each text tokenized once.

        truncate: the tokenizer's truncated encodings, one per text; a text's whole length is read from what the
        tokenizer cut off (`overflowing`, stride 0, each piece with its own special tokens). head-tail and windows:
        the content ids without special tokens, cut by `distilkit.core.long_text.cut` and wrapped again.
        """
        if self._whole is None or self._layout is None:
            encodings = self.encode(texts)
            lengths = [len(e.ids) + sum(len(o.ids) - self.specials for o in e.overflowing) for e in encodings]
            cut_off = [bool(e.overflowing) for e in encodings]
            return Documents(list(encodings), np.arange(len(encodings), dtype=np.int64), lengths, cut_off)
        self._check(texts)
        rows: list[Encoding | Piece] = []
        owners: list[int] = []
        lengths, cut_off = [], []
        for i, content in enumerate(self._whole.encode_batch(list(texts), add_special_tokens=False)):
            for piece in cut(content.ids, self.budget, self.long_text, self.max_length):
                rows.append(Piece(*self._layout.wrap(piece)))
                owners.append(i)
            lengths.append(len(content.ids) + self.specials)
            cut_off.append(self.long_text.strategy != WINDOWS and len(content.ids) > self.budget)
        return Documents(rows, np.asarray(owners, dtype=np.int64), lengths, cut_off)

    def batches(self, texts: Sequence[str]) -> Iterator[EncodedBatch]:
        """Batches over `texts`, shortest first; `indices` say where each row's text was in `texts`."""
        return self.batches_of(self.encode(texts))

    def batches_of(self, encodings: Sequence[Encoding | Piece]) -> Iterator[EncodedBatch]:
        """Batches over encodings made elsewhere (windows of pre-split words, `documents` rows), shortest first."""
        order = np.argsort(np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings)))
        order = order.astype(np.int64, copy=False)
        for start in range(0, len(order), self.batch_size):
            indices = order[start : start + self.batch_size]
            chosen = [encodings[i] for i in indices]
            yield EncodedBatch(indices, self._fill(chosen), chosen)

    def _fill(self, encodings: list[Encoding | Piece]) -> dict[str, np.ndarray]:
        """Write a batch into the buffers: rows padded to the batch's longest sequence (pad id, mask 0, type 0)."""
        rows = len(encodings)
        width = max(len(e.ids) for e in encodings)
        return {
            name: self._write(name, self._buffers[name][: rows * width].reshape(rows, width), encodings)
            for name in self.input_names
        }

    def padded(self, encodings: Sequence[Encoding | Piece], multiple: int = 1) -> dict[str, np.ndarray]:
        """`encodings` as one batch in the order given, in new arrays ``[rows, width]`` (not the reused buffers):
        padded to the longest, rounded up to a multiple of `multiple` tokens, but not past ``max_length``.

        A serving engine batches only requests of the same shape (Triton's dynamic batcher); rounding widths up lets
        requests of similar lengths share one, for at most `multiple - 1` padding tokens a row.
        """
        longest = max(len(e.ids) for e in encodings)
        width = max(longest, min(-(-longest // multiple) * multiple, self.max_length))
        return {
            name: self._write(name, np.empty((len(encodings), width), dtype=np.int64), encodings)
            for name in self.input_names
        }

    def _write(self, name: str, view: np.ndarray, encodings: Sequence[Encoding | Piece]) -> np.ndarray:
        """Fill `view` ``[rows, width]`` with input `name` of each encoding, padded (pad id, mask 0, type 0)."""
        view.fill(self.pad_token_id if name == "input_ids" else 0)
        for r, encoding in enumerate(encodings):
            n = len(encoding.ids)
            if name == "input_ids":
                view[r, :n] = encoding.ids
            elif name == "attention_mask":
                view[r, :n] = 1
            else:
                view[r, :n] = encoding.type_ids
        return view
