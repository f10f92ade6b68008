"""Classification quality: accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix."""

from __future__ import annotations

import numpy as np
import torch

from distilkit.data.batching import encode_split, make_loader, model_inputs
from distilkit.data.classification import ClassificationSplit
from distilkit.evaluate.classification_metrics import classification_metrics


@torch.no_grad()
def predict_logits(model, tokenizer, split: ClassificationSplit, max_length: int = 128, batch_size: int = 64):
    """Logits for every example of `split`, in order (batched by length, padded per batch)."""
    model.eval()
    label2id = {name: i for i, name in model.config.id2label.items()}
    label2id = {name: int(i) for name, i in label2id.items()}
    data = encode_split(tokenizer, split, label2id, max_length)
    out = np.zeros((len(data), model.config.num_labels), dtype=np.float32)
    for batch in make_loader(data, tokenizer, batch_size, shuffle=False):
        out[batch["index"].numpy()] = model(**model_inputs(batch)).logits.float().numpy()
    return out


def evaluate_classifier(model, tokenizer, split: ClassificationSplit, max_length: int = 128, batch_size: int = 64):
    """Score a sequence classifier on a split whose labels use the model's label names."""
    unknown = sorted(set(split.labels) - set(model.config.id2label.values()))
    if unknown:
        from distilkit.core.errors import DistilkitError

        raise DistilkitError(
            f"{split.source}: labels {unknown} are not among the model's {list(model.config.id2label.values())}"
        )
    logits = predict_logits(model, tokenizer, split, max_length, batch_size)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    predicted = [names[i] for i in logits.argmax(-1)]
    return classification_metrics(split.labels, predicted, names)
