"""Score a model on whatever labelled split it is given: a classifier on texts, a tagger on sentences of words."""

from __future__ import annotations

from distilkit.data.classification import ClassificationData, ClassificationSplit
from distilkit.data.tagged import TokenData, TokenSplit
from distilkit.evaluate.classifier import evaluate_classifier
from distilkit.evaluate.tagger import evaluate_tagger


def score(model, tokenizer, split: ClassificationSplit | TokenSplit, max_length: int, stride: int = 32) -> dict:
    """`evaluate_tagger` for a token split (windows of `stride` shared sub-words), else `evaluate_classifier`."""
    if isinstance(split, TokenSplit):
        return evaluate_tagger(model, tokenizer, split, max_length, stride)
    return evaluate_classifier(model, tokenizer, split, max_length)


def score_splits(model, tokenizer, data: ClassificationData | TokenData, max_length: int, stride: int = 32) -> dict:
    """Metrics of the dev and test splits that `data` has, by split name."""
    return {
        name: score(model, tokenizer, split, max_length, stride)
        for name, split in (("dev", data.dev), ("test", data.test))
        if split is not None
    }
