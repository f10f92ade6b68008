"""Evaluation reads long texts as training did: a windowed text is one prediction, the mean of its windows' logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from export_helpers import hand_windows, save_sharp_classifier
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from distilkit.core.long_text import LongText
from distilkit.data.batching import encode_split
from distilkit.data.classification import ClassificationData, ClassificationSplit
from distilkit.evaluate.classifier import evaluate_classifier, predict_logits
from distilkit.evaluate.scoring import long_text_summary, score_splits

LONG = " ".join(["the actor was good but the plot was dull", "a boring story", "it is fun"] * 2)
TEXTS = [LONG, "good movie", "bad film " * 9, "a sad and long story of an actor " * 2]
SPLIT = ClassificationSplit(TEXTS, ["positive", "negative", "negative", "positive"], source="dev.csv")


@pytest.fixture(scope="module")
def model_and_tokenizer(tmp_path_factory):
    folder = save_sharp_classifier(tmp_path_factory.mktemp("models") / "sharp")
    return AutoModelForSequenceClassification.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def window_logits(model, tokenizer, text: str, max_length: int, stride: int) -> np.ndarray:
    """The model's logits on each window of `text`, cut by hand, one window at a time (no padding)."""
    content = tokenizer(text, add_special_tokens=False)["input_ids"]
    out = []
    for window in hand_windows(content, max_length - 2, stride):
        ids = torch.tensor([[tokenizer.cls_token_id, *window, tokenizer.sep_token_id]])  # [1, window + 2]
        with torch.no_grad():
            out.append(model(input_ids=ids).logits[0].numpy())  # [labels]
    return np.stack(out)  # [windows, labels]


def test_windows_pool_to_one_prediction_per_document_the_mean_of_its_window_logits(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    windows = LongText("windows", 2)
    got = predict_logits(model, tokenizer, SPLIT, max_length=10, long_text=windows)
    assert got.shape == (len(TEXTS), 2)
    per_text = [window_logits(model, tokenizer, text, 10, 2) for text in TEXTS]
    assert [len(w) for w in per_text][0] >= 4  # the long text is many windows
    np.testing.assert_allclose(got, np.stack([w.mean(0) for w in per_text]), atol=1e-5)
    assert np.abs(got[0] - per_text[0][0]).max() > 0.1  # not the first window alone (truncation)
    truncated = predict_logits(model, tokenizer, SPLIT, max_length=10)
    np.testing.assert_allclose(truncated[0], per_text[0][0], atol=1e-5)  # truncate reads the first window only
    metrics = evaluate_classifier(model, tokenizer, SPLIT, max_length=10, long_text=windows)
    assert metrics["n"] == len(TEXTS) and sum(map(sum, metrics["confusion_matrix"])) == len(TEXTS)  # documents
    assert metrics["long_text"]["long"] == 3 and metrics["long_text"]["inputs"] == sum(map(len, per_text))


def test_results_gather_the_report_of_every_split(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    head_tail = LongText("head-tail")
    data = ClassificationData(train=SPLIT, dev=SPLIT, test=None, label_names=["negative", "positive"])
    metrics = score_splits(model, tokenizer, data, 10, long_text=head_tail)
    train = encode_split(tokenizer, SPLIT, {"negative": 0, "positive": 1}, 10, head_tail)
    summary = long_text_summary(head_tail, 10, train, metrics)
    assert summary["strategy"] == "head-tail" and summary["stride"] is None and summary["max_length"] == 10
    assert set(summary["splits"]) == {"train", "dev"} and "long_text" not in metrics["dev"]
    assert summary["splits"]["dev"]["long"] == 3 and summary["splits"]["dev"]["head"] == 2
