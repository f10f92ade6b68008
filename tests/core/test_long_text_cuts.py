"""Cutting long texts (head-tail, windows), pooling windows back, and the long-text report: ids only, no tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

from distilkit.core.errors import DistilkitError
from distilkit.core.long_text import (
    LongText,
    SpecialTokens,
    cut,
    head_tail,
    long_text_report,
    pool_mean,
    report_line,
    window_spans,
)

BERT = SpecialTokens(prefix=(101,), suffix=(102,), prefix_types=(0,), suffix_types=(0,))


def test_head_tail_keeps_the_first_quarter_and_the_last_rest():
    ids = list(range(1000, 1100))  # 100 tokens into a budget of 20
    kept = head_tail(ids, 20)
    assert len(kept) == 20
    assert kept[:5] == ids[:5]  # round(0.25 * 20) = 5 from the head
    assert kept[5:] == ids[-15:]  # the other 15 from the tail
    assert head_tail(ids[:20], 20) == ids[:20]  # a text within the budget is whole
    kept = head_tail(list(range(500)), 126)  # the default budget: 128 minus [CLS] and [SEP]
    assert kept[:32] == list(range(32)) and kept[32:] == list(range(500 - 94, 500))  # round(31.5) = 32


@pytest.mark.parametrize(
    ("n", "budget", "stride"), [(0, 6, 2), (5, 6, 2), (6, 6, 2), (7, 6, 2), (40, 6, 2), (41, 10, 0)]
)
def test_windows_cover_every_token_overlap_by_the_stride_and_fit(n, budget, stride):
    spans = window_spans(n, budget, stride)
    assert spans[0][0] == 0 and spans[-1][1] == n
    covered = set()
    for start, end in spans:
        assert end - start <= budget
        covered.update(range(start, end))
    assert covered == set(range(n))
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end - start == stride  # consecutive windows share exactly `stride` tokens
    ids = list(range(7, 7 + n))
    windows = cut(ids, budget, LongText("windows", stride), max_length=budget + len(BERT))
    assert windows == [ids[a:b] for a, b in spans]
    for window in windows:
        input_ids, type_ids = BERT.wrap(window)
        assert len(input_ids) <= budget + len(BERT)  # max_length, special tokens included
        assert input_ids[0] == 101 and input_ids[-1] == 102 and input_ids[1:-1] == window
        assert type_ids == [0] * len(input_ids)


def test_the_default_stride_is_a_quarter_of_max_length_and_must_leave_windows_advancing():
    assert LongText("windows").stride_for(128) == 32
    assert LongText("windows").budget(128, 2) == 126
    with pytest.raises(DistilkitError, match="must be smaller than the 6 text tokens"):
        LongText("windows", 6).budget(8, 2)
    with pytest.raises(DistilkitError, match="long_text: expected one of truncate, head-tail, windows, got 'middle'"):
        LongText("middle")
    with pytest.raises(DistilkitError, match="does not support text pairs"):
        LongText("head-tail").refuse_pairs("train.csv")
    LongText().refuse_pairs("train.csv")  # truncate handles pairs, as it always did


def test_pooling_is_the_mean_of_each_documents_window_logits():
    logits = np.array([[1.0, 2.0], [3.0, -2.0], [5.0, 0.0], [0.5, 0.5]], dtype=np.float32)  # [windows, labels]
    pooled = pool_mean(logits, [0, 0, 0, 1], 2)
    assert pooled.dtype == np.float32
    np.testing.assert_allclose(pooled, [[3.0, 0.0], [0.5, 0.5]])
    same = pool_mean(logits, [0, 1, 2, 3], 4)
    assert same is logits  # one row per document: nothing to pool, truncate stays bit for bit
    with pytest.raises(ValueError, match="at least one row"):
        pool_mean(logits, [0, 0, 2, 2], 3)


def test_report_says_how_many_texts_were_cut_and_by_how_much():
    lengths = [20, 512, 4211, 130, 128]
    report = long_text_report(lengths, 128, 2, LongText())
    assert (report.texts, report.long, report.median_tokens, report.max_tokens) == (5, 3, 512, 4211)
    assert report.line("train texts") == (
        "long texts: 3 of 5 train texts exceed 128 tokens (median 512, max 4,211 tokens); "
        "strategy truncate keeps the first 126"
    )
    head_tail_line = long_text_report(lengths, 128, 2, LongText("head-tail")).line("dev texts")
    assert head_tail_line.endswith("strategy head-tail keeps the first 32 and the last 94")
    windows = long_text_report([10, 130, 400], 128, 2, LongText("windows"))
    assert windows.inputs == 1 + 2 + 4  # 128 content tokens: 2 windows; 398: 4 (starting at 0, 94, 188, 282)
    assert "7 windows of up to 128 tokens for 3 texts, overlapping by 32" in windows.line()
    assert report_line(report.to_json(), "train texts") == report.line("train texts")
    assert long_text_report([3, 4], 128, 2, LongText()).line("test texts") == (
        "long texts: 0 of 2 test texts exceed 128 tokens"
    )
