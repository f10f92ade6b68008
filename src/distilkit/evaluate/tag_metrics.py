"""Token-classification metrics: entity-level precision/recall/F1 (NER) and token accuracy (POS).

Entities are scored with seqeval in strict IOB2 mode: an entity counts only if its type and both boundaries match,
and an ``I-X`` that starts nothing is not an entity at all. This is the CoNLL-style number papers report for
BERT-family NER, and the same decoding `distilkit.data.alignment.spans_from_bio` uses, so the spans an application
gets are the ones that were scored. Token accuracy would flatter NER (most tokens are ``O``), so it is for plain tags.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

TagBatch = Sequence[Sequence[str]]


def _check_shapes(gold_tags: TagBatch, pred_tags: TagBatch) -> None:
    """Refuse misaligned inputs by sentence: seqeval would otherwise compare shifted tags without complaint."""
    if len(gold_tags) != len(pred_tags):
        raise ValueError(f"{len(gold_tags)} gold sentences but {len(pred_tags)} predicted")
    for i, (gold, pred) in enumerate(zip(gold_tags, pred_tags, strict=True)):
        if len(gold) != len(pred):
            raise ValueError(f"sentence {i}: {len(gold)} gold tags but {len(pred)} predicted")


def _check_iob2(tags: TagBatch, what: str) -> None:
    for i, sentence in enumerate(tags):
        for j, tag in enumerate(sentence):
            if tag != "O" and not (tag[:2] in ("B-", "I-") and len(tag) > 2):
                raise ValueError(f"{what} sentence {i} word {j}: {tag!r} is not an IOB2 tag (O, B-X or I-X)")


def entity_metrics(gold_tags: TagBatch, pred_tags: TagBatch) -> dict:
    """Entity precision, recall and F1, micro-averaged over all entities, plus macro F1 and per-type figures.

    Returns ``{"precision", "recall", "f1", "macro_f1", "per_type": {type: {"precision", "recall", "f1",
    "support"}}}`` as plain floats and ints. ``per_type`` covers every type in gold or predictions (a type only
    predicted has support 0 and F1 0), and ``macro_f1`` is the unweighted mean over those types, so spurious types
    pull it down. With no entity at all on either side every figure is 0.0.
    """
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    _check_shapes(gold_tags, pred_tags)
    _check_iob2(gold_tags, "gold")
    _check_iob2(pred_tags, "predicted")
    gold = [list(s) for s in gold_tags]
    pred = [list(s) for s in pred_tags]
    with warnings.catch_warnings():  # seqeval warns (and returns nan macro) when there are no entities
        warnings.simplefilter("ignore")
        report = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    per_type = {
        kind: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }
        for kind, row in sorted(report.items())
        if not kind.endswith(" avg")
    }
    micro = report["micro avg"]
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "macro_f1": sum(row["f1"] for row in per_type.values()) / len(per_type) if per_type else 0.0,
        "per_type": per_type,
    }


def token_accuracy(gold_tags: TagBatch, pred_tags: TagBatch) -> float:
    """Share of tokens whose predicted tag equals the gold tag, over all tokens of all sentences."""
    _check_shapes(gold_tags, pred_tags)
    total = sum(len(s) for s in gold_tags)
    if total == 0:
        raise ValueError("no tokens to score")
    correct = sum(
        g == p for gold, pred in zip(gold_tags, pred_tags, strict=True) for g, p in zip(gold, pred, strict=True)
    )
    return correct / total


def tag_metrics(gold: TagBatch, predicted: TagBatch, entities: bool) -> dict:
    """Token accuracy always; for entity (BIO) tags also entity precision/recall/F1, micro and per type.

    ``accuracy`` is the headline for plain tags (POS) and ``f1`` (micro entity F1) for entities, where token
    accuracy is flattered by the many ``O`` tokens.
    """
    metrics: dict = {"accuracy": token_accuracy(gold, predicted), "words": sum(len(s) for s in gold)}
    if entities:
        metrics.update(entity_metrics(gold, predicted))
    metrics["headline"] = "f1" if entities else "accuracy"
    return metrics
