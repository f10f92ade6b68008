"""Distillation on windows: every window of a long text is an example with the teacher's soft targets of that
window, not of the document."""

from __future__ import annotations

import torch
from export_helpers import save_sharp_classifier
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from distilkit.core.long_text import LongText
from distilkit.data.batching import encode_split
from distilkit.data.classification import ClassificationSplit
from distilkit.distil.objectives import teacher_logits_for


def test_cached_soft_targets_are_the_teachers_logits_of_each_window(tmp_path):
    folder = save_sharp_classifier(tmp_path / "teacher")
    teacher = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    texts = [" ".join(["the actor was good but the plot was dull"] * 3), "good movie"]
    split = ClassificationSplit(texts, ["positive", "negative"])
    encoded = encode_split(tokenizer, split, {"negative": 0, "positive": 1}, 12, LongText("windows", 3))
    assert encoded.documents == [0, 0, 0, 0, 1]
    cached = teacher_logits_for(teacher, encoded, tokenizer, batch_size=2)
    got = cached.rows(torch.arange(len(encoded)))  # [windows, labels]
    for i, feature in enumerate(encoded.features):
        with torch.no_grad():
            want = teacher(input_ids=torch.tensor([feature["input_ids"]])).logits[0]  # [labels]
        torch.testing.assert_close(got[i], want, atol=1e-5, rtol=0)
    assert (got[0] - got[1]).abs().max() > 0.1  # the windows of one text really have different targets
