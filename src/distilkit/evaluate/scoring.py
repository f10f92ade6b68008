"""Score a model on whatever labelled split it is given: a classifier on texts, a tagger on sentences of words."""

from __future__ import annotations

from typing import Any

from distilkit.core.long_text import LongText
from distilkit.data.batching import EncodedSplit
from distilkit.data.classification import ClassificationData, ClassificationSplit
from distilkit.data.tagged import TokenData, TokenSplit
from distilkit.evaluate.classifier import evaluate_classifier
from distilkit.evaluate.tagger import evaluate_tagger


def score(
    model,
    tokenizer,
    split: ClassificationSplit | TokenSplit,
    max_length: int,
    stride: int = 32,
    long_text: LongText | None = None,
) -> dict:
    """`evaluate_tagger` for a token split (windows of `stride` shared sub-words), else `evaluate_classifier` (long
    texts read with `long_text`, as at training)."""
    if isinstance(split, TokenSplit):
        return evaluate_tagger(model, tokenizer, split, max_length, stride)
    return evaluate_classifier(model, tokenizer, split, max_length, long_text=long_text)


def score_splits(
    model,
    tokenizer,
    data: ClassificationData | TokenData,
    max_length: int,
    stride: int = 32,
    long_text: LongText | None = None,
) -> dict:
    """Metrics of the dev and test splits that `data` has, by split name."""
    return {
        name: score(model, tokenizer, split, max_length, stride, long_text)
        for name, split in (("dev", data.dev), ("test", data.test))
        if split is not None
    }


def long_text_summary(
    long_text: LongText, max_length: int, train: EncodedSplit, metrics: dict[str, dict]
) -> dict[str, Any] | None:
    """results.json's ``long_text``: the strategy, and per split (train from the training encoding, dev and test
    taken out of their metrics) how many texts exceeded `max_length`; None for token classification, whose
    sentences are windowed by words and never cut."""
    if train.report is None:
        return None
    splits = {"train": train.report.to_json()}
    for name, split_metrics in metrics.items():
        if "long_text" in split_metrics:
            splits[name] = split_metrics.pop("long_text")
    return {**long_text.to_json(max_length), "max_length": max_length, "splits": splits}
