"""Classification quality: accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix.

Texts longer than the model's window are read with the training's long-text strategy (`distilkit.core.long_text`):
a windowed text's prediction is the mean of its windows' logits, one prediction per text, so the metrics count
documents, not windows.
"""

from __future__ import annotations

import numpy as np
import torch

from distilkit.core.errors import DistilkitError
from distilkit.core.long_text import LongText, pool_mean
from distilkit.data.batching import EncodedSplit, encode_split, make_loader, model_inputs
from distilkit.data.classification import ClassificationSplit
from distilkit.evaluate.classification_metrics import classification_metrics


def predict_logits(
    model,
    tokenizer,
    split: ClassificationSplit,
    max_length: int = 128,
    batch_size: int = 64,
    long_text: LongText | None = None,
) -> np.ndarray:
    """Logits ``[texts, labels]`` for every text of `split`, in order (batched by length, padded per batch); a text
    cut into windows gets the mean of its windows' logits (`pool_mean`)."""
    return _predict(model, tokenizer, split, max_length, batch_size, long_text)[0]


def _predict(
    model, tokenizer, split: ClassificationSplit, max_length: int, batch_size: int, long_text: LongText | None
) -> tuple[np.ndarray, EncodedSplit]:
    """Pooled logits per text, and the encoded examples (whose report says how many texts were long)."""
    model.eval()
    label2id = {name: int(i) for i, name in model.config.id2label.items()}
    data = encode_split(tokenizer, split, label2id, max_length, long_text)
    out = np.zeros((len(data), model.config.num_labels), dtype=np.float32)  # [examples, labels]
    with torch.no_grad():
        for batch in make_loader(data, tokenizer, batch_size, shuffle=False):
            out[batch["index"].numpy()] = model(**model_inputs(batch)).logits.float().numpy()  # [batch, labels]
    return pool_mean(out, data.documents, len(split)), data  # [texts, labels]


def evaluate_classifier(
    model,
    tokenizer,
    split: ClassificationSplit,
    max_length: int = 128,
    batch_size: int = 64,
    long_text: LongText | None = None,
):
    """Score a sequence classifier on a split whose labels use the model's label names; ``long_text`` in the
    metrics is how many of the split's texts exceeded `max_length` (`LongTextReport`)."""
    unknown = sorted(set(split.labels) - set(model.config.id2label.values()))
    if unknown:
        raise DistilkitError(
            f"{split.source}: labels {unknown} are not among the model's {list(model.config.id2label.values())}"
        )
    logits, data = _predict(model, tokenizer, split, max_length, batch_size, long_text)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    predicted = [names[i] for i in logits.argmax(-1)]
    metrics = classification_metrics(split.labels, predicted, names)
    if data.report is not None:
        metrics["long_text"] = data.report.to_json()
    return metrics
