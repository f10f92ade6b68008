"""Training examples of long texts: truncate as before, head-tail as one example, windows as one example each."""

from __future__ import annotations

import pytest
from conftest import make_tokenizer
from export_helpers import hand_windows

from distilkit.core.errors import DistilkitError
from distilkit.core.long_text import LongText
from distilkit.data.batching import encode_split
from distilkit.data.classification import ClassificationSplit
from distilkit.data.spec import DataSpec

LABELS = {"negative": 0, "positive": 1}
LONG = " ".join(["the actor was good but the plot was dull"] * 3)  # 27 words, one token each
TEXTS = [LONG, "good movie", "a very dull story " * 5, ""]
SPLIT = ClassificationSplit(TEXTS, ["positive", "negative", "negative", "positive"], source="train.csv")


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return make_tokenizer(tmp_path_factory.mktemp("tok"))


def test_truncate_is_the_tokenizers_truncation_bit_for_bit_and_counts_the_cut_texts(tokenizer):
    encoded = encode_split(tokenizer, SPLIT, LABELS, 12)
    want = tokenizer(TEXTS, truncation=True, max_length=12)
    assert [f["input_ids"] for f in encoded.features] == want["input_ids"]
    assert [f["token_type_ids"] for f in encoded.features] == want["token_type_ids"]
    assert [f["attention_mask"] for f in encoded.features] == want["attention_mask"]
    assert list(encoded.features[0]) == ["input_ids", "attention_mask", "token_type_ids"]
    assert encoded.labels == [1, 0, 0, 1] and encoded.documents == [0, 1, 2, 3]
    report = encoded.report
    whole = [len(ids) for ids in tokenizer(TEXTS)["input_ids"]]
    assert whole == [29, 4, 22, 2]  # what the report must have measured without tokenizing again
    assert (report.texts, report.long, report.max_tokens, report.median_tokens) == (4, 2, 29, 26)  # 25.5 rounds to 26
    assert report.line("train texts") == (
        "long texts: 2 of 4 train texts exceed 12 tokens (median 26, max 29 tokens); "
        "strategy truncate keeps the first 10"
    )


def test_every_window_is_an_example_carrying_its_documents_label(tokenizer):
    encoded = encode_split(tokenizer, SPLIT, LABELS, 12, LongText("windows", 3))
    content = tokenizer(TEXTS, add_special_tokens=False)["input_ids"]
    expected_docs = [d for d, ids in enumerate(content) for _ in hand_windows(ids, 10, 3)]
    assert encoded.documents == expected_docs and expected_docs.count(0) == 4  # 27 tokens: windows at 0, 7, 14, 21
    assert encoded.labels == [[1, 0, 0, 1][d] for d in encoded.documents]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    for doc in range(len(TEXTS)):
        rows = [f for f, d in zip(encoded.features, encoded.documents, strict=True) if d == doc]
        windows = hand_windows(content[doc], 10, 3)
        assert [r["input_ids"] for r in rows] == [[cls, *w, sep] for w in windows]
        for row in rows:
            assert len(row["input_ids"]) <= 12
            assert row["attention_mask"] == [1] * len(row["input_ids"])
            assert row["token_type_ids"] == [0] * len(row["input_ids"])
    assert encoded[5]["index"] == 5  # the key a teacher's cached soft targets are looked up by: per window
    assert encoded.report.inputs == len(encoded) and encoded.report.strategy == "windows"


def test_head_tail_keeps_the_first_and_last_tokens(tokenizer):
    encoded = encode_split(tokenizer, SPLIT, LABELS, 12, LongText("head-tail"))
    content = tokenizer(LONG, add_special_tokens=False)["input_ids"]
    first = encoded.features[0]["input_ids"]
    assert first == [tokenizer.cls_token_id, *content[:2], *content[-8:], tokenizer.sep_token_id]  # round(2.5) = 2
    assert encoded.features[1]["input_ids"] == tokenizer("good movie")["input_ids"]  # short texts are whole
    assert len(encoded) == len(TEXTS) and encoded.documents == [0, 1, 2, 3]
    assert encoded.report.line().endswith("strategy head-tail keeps the first 2 and the last 8")


def test_pairs_truncate_as_before_and_refuse_other_strategies(tokenizer):
    pairs = ClassificationSplit(TEXTS[:3], ["positive", "negative", "negative"], pairs=["bad film", LONG, "fun"])
    encoded = encode_split(tokenizer, pairs, LABELS, 12)
    want = tokenizer(pairs.texts, pairs.pairs, truncation=True, max_length=12)
    assert [f["input_ids"] for f in encoded.features] == want["input_ids"]
    assert [f["token_type_ids"] for f in encoded.features] == want["token_type_ids"]
    assert encoded.report.long == 3 and encoded.report.pairs
    assert "shortens the longer text of each pair" in encoded.report.line()
    with pytest.raises(DistilkitError, match=r"^train\.csv: --long-text windows does not support text pairs"):
        encode_split(
            tokenizer, ClassificationSplit(["a"], ["positive"], ["b"], "train.csv"), LABELS, 12, LongText("windows")
        )


def test_token_classification_refuses_long_text_strategies():
    with pytest.raises(DistilkitError, match="long_text: windows is for sequence-classification"):
        DataSpec("x", task="token-classification", long_text=LongText("windows"))
