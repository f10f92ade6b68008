"""Texts longer than the model's window, for sequence classification: how they are cut, pooled back and reported.

A BERT-family classifier reads at most ``max_length`` tokens, special tokens included. Cutting every text at that
length (``truncate``, what the tokenizer does) throws away everything after the first ~100 words of a 700-word news
story. Two other strategies, chosen with ``--long-text`` and applied identically at training, evaluation and
inference (training in `distilkit.data.batching`, the runtime in `distilkit.runtime.encoding`):

* ``head-tail`` keeps the first quarter of the token budget from the start of the text and the rest from its end.
  Sun et al. (2019), "How to Fine-Tune BERT for Text Classification", found head+tail the best single cut for long
  documents (IMDb, Sogou): a review's verdict, a story's conclusion, sits at its end as often as at its start.
* ``windows`` cuts the text into overlapping windows, each a model input of at most ``max_length`` tokens. At
  training every window is an example carrying its document's label; at evaluation and inference the document's
  logits are the mean of its windows' logits (`pool_mean`).

This module works on lists of token ids only (no tokenizer, no torch): the callers tokenize a text *without*
special tokens, cut the ids here, and re-add the special tokens with `SpecialTokens.wrap`, whose layout comes from
the tokenizer's own post-processor (`distilkit.runtime.encoding.special_tokens`). ``truncate`` stays the tokenizer's
own truncation everywhere, so the default does exactly what it did before these strategies existed.

`LongTextReport` says how many texts were longer than the window and by how much, from token counts the callers
already have: the report costs no second tokenization.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from distilkit.core.errors import DistilkitError

TRUNCATE = "truncate"
HEAD_TAIL = "head-tail"
WINDOWS = "windows"
STRATEGIES = (TRUNCATE, HEAD_TAIL, WINDOWS)
HEAD_FRACTION = 0.25  # of the token budget taken from the start by head-tail; Sun et al.'s best: 128 head + 382 tail


@dataclass(frozen=True)
class LongText:
    """The long-text strategy and, for ``windows``, how many tokens consecutive windows share (None: a quarter of
    ``max_length``, so a sentence cut by one window edge is read whole in the next)."""

    strategy: str = TRUNCATE
    stride: int | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise DistilkitError(f"long_text: expected one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if self.stride is not None and (isinstance(self.stride, bool) or not isinstance(self.stride, int)):
            raise DistilkitError(f"long_text_stride: expected an integer, got {self.stride!r}")
        if self.stride is not None and self.stride < 0:
            raise DistilkitError(f"long_text_stride: expected a number >= 0, got {self.stride}")

    @property
    def is_truncate(self) -> bool:
        return self.strategy == TRUNCATE

    def stride_for(self, max_length: int) -> int:
        """The stride windows use at `max_length` (the default, ``max_length // 4``, when none was given)."""
        return max_length // 4 if self.stride is None else self.stride

    def budget(self, max_length: int, specials: int) -> int:
        """Content tokens one model input holds (`max_length` minus the special tokens), checked for this strategy:
        windows must advance, so the stride has to be smaller than the budget."""
        budget = max_length - specials
        if budget < 1:
            raise DistilkitError(f"max_length {max_length} leaves no room for text after {specials} special tokens")
        if self.strategy == WINDOWS and self.stride_for(max_length) >= budget:
            raise DistilkitError(
                f"long_text_stride: {self.stride_for(max_length)} must be smaller than the {budget} text tokens a "
                f"window of max_length {max_length} holds"
            )
        return budget

    def to_json(self, max_length: int) -> dict[str, Any]:
        """What bundle.json and results.json record: the strategy, and the stride windows used (else null)."""
        return {"strategy": self.strategy, "stride": self.stride_for(max_length) if self.strategy == WINDOWS else None}

    def refuse_pairs(self, source: str) -> None:
        """head-tail and windows cut one text; a pair has two, and which of them to cut has no single answer."""
        if not self.is_truncate:
            raise DistilkitError(
                f"{source}: --long-text {self.strategy} does not support text pairs (--text-pair-column); use truncate"
            )


def head_count(budget: int) -> int:
    """Tokens head-tail keeps from the start of a text: a quarter of the budget, rounded; the rest are the end's."""
    return round(HEAD_FRACTION * budget)


def head_tail(ids: Sequence[int], budget: int) -> list[int]:
    """The first ``head_count(budget)`` and the last ``budget - head`` ids; a text within the budget is kept whole."""
    if len(ids) <= budget:
        return list(ids)
    head = head_count(budget)
    tail = budget - head
    return list(ids[:head]) + (list(ids[len(ids) - tail :]) if tail else [])


def window_spans(n: int, budget: int, stride: int) -> list[tuple[int, int]]:
    """Token ranges [start, end) covering ``n`` tokens: windows of `budget` tokens, consecutive ones sharing exactly
    `stride` (the last window ends at ``n`` and may be shorter). An empty text is one empty window.

    The same rule as Hugging Face's ``return_overflowing_tokens`` with ``stride``: starts at multiples of
    ``budget - stride``, until a window reaches the end.
    """
    if not 0 <= stride < budget:
        raise ValueError(f"stride must be in [0, {budget}), got {stride}")
    spans = []
    start = 0
    while True:
        end = min(start + budget, n)
        spans.append((start, end))
        if end >= n:
            return spans
        start += budget - stride


def cut(ids: Sequence[int], budget: int, long_text: LongText, max_length: int) -> list[list[int]]:
    """The content ids of each model input a text becomes under head-tail (one) or windows (one per window).

    ``truncate`` is not cut here: the tokenizer's own truncation does it, so the default stays bit for bit what it
    was (and equals ``[ids[:budget]]``).
    """
    if long_text.strategy == HEAD_TAIL:
        return [head_tail(ids, budget)]
    if long_text.strategy == WINDOWS:
        return [list(ids[a:b]) for a, b in window_spans(len(ids), budget, long_text.stride_for(max_length))]
    raise ValueError("truncate is the tokenizer's own truncation; cut() handles head-tail and windows")


@dataclass(frozen=True)
class SpecialTokens:
    """Where a tokenizer puts its special tokens around one text (``[CLS] text [SEP]`` for BERT), and the type ids
    of every position, as learnt from its post-processor; `wrap` turns cut content ids back into a model input."""

    prefix: tuple[int, ...]
    suffix: tuple[int, ...]
    prefix_types: tuple[int, ...]
    suffix_types: tuple[int, ...]
    content_type: int = 0

    def __len__(self) -> int:
        return len(self.prefix) + len(self.suffix)

    def wrap(self, ids: Sequence[int]) -> tuple[list[int], list[int]]:
        """Input ids and token type ids of content `ids` with the special tokens put back."""
        return (
            [*self.prefix, *ids, *self.suffix],
            [*self.prefix_types, *([self.content_type] * len(ids)), *self.suffix_types],
        )


def pool_mean(values: np.ndarray, documents: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    """Per document, the mean of its rows' logits: ``values`` ``[rows, labels]`` → ``[n, labels]``.

    Why the mean of logits, not of probabilities: softmax(mean of the windows' logits) is proportional to the
    geometric mean of the windows' class distributions, a normalised product of experts. Each window's evidence
    multiplies in: a window that is confident about a class moves the document, a window with nothing to say (flat
    logits) barely does, and one window's strong "no" can veto a class, where averaging probabilities would let a
    majority of lukewarm windows outvote it. It is also shift-invariant per window, like softmax itself. Every
    window weighs the same (the last, shorter one included): a window is an example at training too.

    A document of one row gets that row unchanged, so one-input-per-text strategies pool to themselves.
    """
    values = np.asarray(values)
    owners = np.asarray(documents, dtype=np.int64)
    if len(owners) != len(values):
        raise ValueError(f"{len(values)} rows but {len(owners)} document indices")
    counts = np.bincount(owners, minlength=n)
    if len(counts) != n or (counts == 0).any():
        raise ValueError("every document needs at least one row")
    if len(owners) == n and (owners == np.arange(n)).all():
        return values
    sums = np.zeros((n, *values.shape[1:]), dtype=np.float64)  # [n, labels]
    np.add.at(sums, owners, values.astype(np.float64))
    return (sums / counts.reshape(-1, *([1] * (values.ndim - 1)))).astype(values.dtype)  # [n, labels]


@dataclass(frozen=True)
class LongTextReport:
    """How many texts of a split were longer than ``max_length`` tokens (special tokens included), how long those
    were, and what the strategy did with them: what `finetune`, `distil`, `evaluate`, `export` and the runtime say,
    and results.json / bundle.json record."""

    texts: int
    long: int
    median_tokens: int | None  # of the long texts
    max_tokens: int | None
    max_length: int
    strategy: str
    stride: int | None
    kept: int  # content tokens a truncated or head-tail text keeps
    head: int | None  # head-tail: how many of them come from the start
    inputs: int  # model inputs the texts became (windows: more than texts)
    pairs: bool = False  # text pairs: truncation shortens the longer text of the pair first

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self, what: str = "texts") -> str:
        """E.g. ``long texts: 1,203 of 1,701 train texts exceed 128 tokens (median 512, max 4,211 tokens); strategy
        truncate keeps the first 126``."""
        head = f"long texts: {self.long:,} of {self.texts:,} {what} exceed {self.max_length:,} tokens"
        if not self.long:
            return head
        head += f" (median {self.median_tokens:,}, max {self.max_tokens:,} tokens); strategy {self.strategy} "
        if self.strategy == TRUNCATE and self.pairs:
            return head + f"shortens the longer text of each pair until the pair fits in {self.max_length:,}"
        if self.strategy == TRUNCATE:
            return head + f"keeps the first {self.kept:,}"
        if self.strategy == HEAD_TAIL:
            return head + f"keeps the first {self.head:,} and the last {self.kept - (self.head or 0):,}"
        return head + (
            f"reads them whole: {self.inputs:,} windows of up to {self.max_length:,} tokens for {self.texts:,} texts, "
            f"overlapping by {self.stride:,}"
        )


def long_text_report(
    lengths: Sequence[int], max_length: int, specials: int, long_text: LongText, pairs: bool = False
) -> LongTextReport:
    """The report of texts (or text pairs) whose whole token counts, special tokens included, are `lengths`."""
    long = [n for n in lengths if n > max_length]
    budget = max(max_length - specials, 0)
    inputs = len(lengths)
    stride = None
    if long_text.strategy == WINDOWS:
        stride = long_text.stride_for(max_length)
        inputs = sum(len(window_spans(n - specials, budget, stride)) for n in lengths)
    return LongTextReport(
        texts=len(lengths),
        long=len(long),
        median_tokens=round(statistics.median(long)) if long else None,
        max_tokens=max(long) if long else None,
        max_length=max_length,
        strategy=long_text.strategy,
        stride=stride,
        kept=budget,
        head=head_count(budget) if long_text.strategy == HEAD_TAIL else None,
        inputs=inputs,
        pairs=pairs,
    )


def report_line(report: dict[str, Any], what: str) -> str:
    """`LongTextReport.line` of a report read back from JSON (results.json, bundle.json, an evaluate --out file)."""
    return LongTextReport(**report).line(what)
