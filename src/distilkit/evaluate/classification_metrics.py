"""Classification quality from label names alone: no torch, so the torch-free bench worker scores bundles with it."""

from __future__ import annotations

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def classification_metrics(gold: list[str], predicted: list[str], label_names: list[str]) -> dict:
    """Accuracy, macro-F1, per-class P/R/F1/support and the confusion matrix (rows gold, columns predicted)."""
    p, r, f, support = precision_recall_fscore_support(
        gold, predicted, labels=label_names, average=None, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=label_names, average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(support[i])}
            for i, name in enumerate(label_names)
        },
        "labels": list(label_names),
        "confusion_matrix": confusion_matrix(gold, predicted, labels=label_names).tolist(),
        "n": len(gold),
    }
