"""Dynamic masking: 15% of tokens, 80/10/10, specials never touched, rarer tokens chosen more often."""

from __future__ import annotations

import numpy as np
import pytest

from distilkit.core.tasks import IGNORE_INDEX as IGNORE
from distilkit.data.masking import Masker, MaskingConfig

CLS, SEP, MASK, PAD = 2, 3, 4, 0
SPECIALS = [PAD, 1, CLS, SEP, MASK]
VOCAB = 50


def _masker(counts=None, **cfg) -> Masker:
    counts = np.full(VOCAB, 100) if counts is None else counts
    return Masker(counts, SPECIALS, MASK, MaskingConfig(**cfg))


def _sequence(rng, n=100) -> np.ndarray:
    return np.concatenate(([CLS], rng.integers(5, VOCAB, n), [SEP]))


def test_fifteen_percent_eighty_ten_ten_and_specials_untouched():
    masker, rng = _masker(), np.random.default_rng(0)
    targets = masked = kept = randomised = total = 0
    for _ in range(400):
        ids = _sequence(rng)
        out, labels = masker(ids, rng)
        chosen = labels != IGNORE
        assert (labels[chosen] == ids[chosen]).all()
        assert out[0] == CLS and out[-1] == SEP and not chosen[0] and not chosen[-1]
        assert (out[~chosen] == ids[~chosen]).all()
        assert not np.isin(out[chosen & (out != MASK)], SPECIALS).any()  # random replacements are never specials
        total += len(ids) - 2
        targets += chosen.sum()
        masked += (out[chosen] == MASK).sum()
        kept += (out[chosen] == ids[chosen]).sum()
        randomised += ((out[chosen] != MASK) & (out[chosen] != ids[chosen])).sum()
    assert targets / total == pytest.approx(0.15, abs=0.002)
    assert masked / targets == pytest.approx(0.8, abs=0.02)
    # A random replacement equal to the original counts as kept: 1/45 of the random tenth.
    assert kept / targets == pytest.approx(0.1 + 0.1 / 45, abs=0.015)
    assert randomised / targets == pytest.approx(0.1 - 0.1 / 45, abs=0.015)


def test_rare_tokens_are_chosen_more_often_by_count_to_the_minus_point_seven():
    counts = np.full(VOCAB, 1000)
    counts[10] = 1_000_000  # a very frequent token...
    counts[11] = 1000  # ...and a rarer one, present as often in the test sequences
    rate = {}
    for smoothing in (0.7, 0.0):
        masker, rng = _masker(counts, smoothing=smoothing), np.random.default_rng(1)
        hits, seen = {10: 0, 11: 0}, {10: 0, 11: 0}
        for _ in range(3000):
            ids = np.concatenate(([CLS], np.tile([10, 11], 20), rng.integers(12, VOCAB, 60), [SEP]))
            _, labels = masker(ids, rng)
            for tok in hits:
                hits[tok] += (labels == tok).sum()
                seen[tok] += (ids == tok).sum()
        rate[smoothing] = {tok: hits[tok] / seen[tok] for tok in hits}
    assert rate[0.0][10] == pytest.approx(rate[0.0][11], rel=0.1)  # no smoothing: uniform
    # Weights differ by 1000^0.7 ≈ 126: the frequent token is almost never chosen, the rare one more than uniformly.
    assert rate[0.7][10] < 0.01 * rate[0.7][11]
    assert rate[0.7][11] > rate[0.0][11]


def test_masks_depend_on_seed_epoch_and_index_only(tmp_path):
    from conftest import make_tokenizer
    from general_helpers import write_corpus

    from distilkit.recipes.general import masked_corpus

    tokenizer = make_tokenizer(tmp_path / "tok")
    corpus = write_corpus(tmp_path / "c.txt", lines=50)
    data, _ = masked_corpus([corpus], tokenizer, 32, cache_root=tmp_path / "cache")
    first = data[3]["input_ids"].copy()
    assert (data[3]["input_ids"] == first).all()  # same epoch, same mask whatever came before
    data.set_epoch(1)
    assert not (data[3]["input_ids"] == first).all()  # a new epoch re-masks
    data.set_epoch(0)
    assert (data[3]["input_ids"] == first).all()
