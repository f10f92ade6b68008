"""Token-classification quality: one prediction per word (windows merged back), then entity P/R/F1 or token accuracy.

Scoring is per word, never per sub-word: the model's prediction for a word is read at its first sub-word (the
position its label was trained on), and a sentence longer than the window comes back as exactly one prediction per
word through `merge_windows`, so the metric sees the same sentences, word for word, as the gold file.
"""

from __future__ import annotations

import numpy as np
import torch

from distilkit.core.words import merge_windows
from distilkit.data.batching import encode_token_split, make_loader, model_inputs
from distilkit.data.tagged import TokenSplit, require_known_tags
from distilkit.evaluate.tag_metrics import tag_metrics


@torch.no_grad()
def predict_word_logits(
    model, tokenizer, split: TokenSplit, max_length: int = 128, stride: int = 32, batch_size: int = 64
) -> list[np.ndarray]:
    """Logits ``[words, tags]`` for every sentence of `split`, in order, one row per word."""
    model.eval()
    tag2id = {tag: int(i) for i, tag in model.config.id2label.items()}
    data, windows = encode_token_split(tokenizer, split, tag2id, max_length, stride)
    per_window: list[np.ndarray] = [np.empty(0)] * len(windows)
    for batch in make_loader(data, tokenizer, batch_size, shuffle=False):
        logits = model(**model_inputs(batch)).logits.float().numpy()
        for row, i in enumerate(batch["index"].tolist()):
            per_window[i] = logits[row, : len(windows[i]["input_ids"])]
    return merge_windows(windows, per_window)


def evaluate_tagger(
    model, tokenizer, split: TokenSplit, max_length: int = 128, stride: int = 32, batch_size: int = 64
) -> dict:
    """Score a token classifier on a split whose tags are among the model's tags (see `tag_metrics`)."""
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    require_known_tags(split, names)
    logits = predict_word_logits(model, tokenizer, split, max_length, stride, batch_size)
    predicted = [[names[k] for k in sentence.argmax(-1)] for sentence in logits]
    return tag_metrics(split.tags, predicted, split.is_bio)
