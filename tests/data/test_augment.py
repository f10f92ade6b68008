"""Transfer-set augmentation: masked words and n-grams, deterministic, labels kept, wired into `distil --augment`."""

from __future__ import annotations

import json

import pytest

from distilkit.core.errors import DistilkitError
from distilkit.data.augment import augment_split, augment_token_split, perturb
from distilkit.data.classification import ClassificationSplit

TEXTS = [
    "a thoroughly charming and funny film with a great cast",
    "dull , predictable and far too long for its own good",
    "one",
]


def split(pairs: bool = False) -> ClassificationSplit:
    return ClassificationSplit(
        list(TEXTS), ["positive", "negative", "positive"], ["x", "y", "z"] if pairs else None, source="toy"
    )


def test_copies_follow_the_originals_and_keep_labels_and_pairs():
    out = augment_split(split(pairs=True), copies=2, mask_token="[MASK]", seed=0)
    assert len(out) == 3 * len(TEXTS)
    assert out.texts[:3] == TEXTS  # originals first, untouched
    assert out.labels == ["positive", "negative", "positive"] * 3
    assert out.pairs == ["x", "y", "z"] * 3
    for copy, source in zip(out.texts[3:], TEXTS * 2, strict=True):
        assert copy.strip()
        source_words = set(source.split())
        assert set(copy.split()) <= source_words | {"[MASK]"}  # only masking and cutting, never new words


def test_copies_differ_from_their_source_when_they_can():
    out = augment_split(split(), copies=3, mask_token="[MASK]", seed=1)
    for copy, source in zip(out.texts[3:], TEXTS * 3, strict=True):
        if len(source.split()) > 1:
            assert copy != source


def test_same_seed_same_copies_other_seed_other_copies():
    a = augment_split(split(), copies=2, mask_token="[MASK]", seed=7)
    b = augment_split(split(), copies=2, mask_token="[MASK]", seed=7)
    c = augment_split(split(), copies=2, mask_token="[MASK]", seed=8)
    assert a.texts == b.texts
    assert a.texts != c.texts


def test_masking_rate_and_ngram_lengths():
    import random

    rng = random.Random(0)
    text = " ".join(f"w{i}" for i in range(40))
    masked = [perturb(text, rng, "[MASK]", p_mask=0.1, p_ngram=0.0).split() for _ in range(500)]
    rate = sum(w == "[MASK]" for words in masked for w in words) / (500 * 40)
    assert 0.08 < rate < 0.12
    cut = [perturb(text, rng, "[MASK]", p_mask=0.0, p_ngram=1.0).split() for _ in range(200)]
    assert {len(words) for words in cut} == {1, 2, 3, 4, 5}
    for words in cut:  # a contiguous run of the source
        first = int(words[0][1:])
        assert words == [f"w{first + k}" for k in range(len(words))]


def test_zero_copies_is_the_split_itself_and_bad_settings_are_errors():
    s = split()
    assert augment_split(s, 0, "[MASK]", seed=0) is s
    with pytest.raises(DistilkitError, match="copies must be >= 0"):
        augment_split(s, -1, "[MASK]", seed=0)
    with pytest.raises(DistilkitError, match="probabilities"):
        augment_split(s, 1, "[MASK]", seed=0, p_mask=1.5)


def test_distil_with_augment_trains_on_the_larger_transfer_set(tmp_path, tiny_teacher, toy_data):
    from conftest import invoke

    teacher = tmp_path / "teacher"
    invoke("finetune", "--model", tiny_teacher, "--data", toy_data, "--out", teacher, "--epochs", 1, "--batch-size", 8)
    out = tmp_path / "student"
    invoke(
        "distil",
        "--teacher",
        teacher / "model",
        "--data",
        toy_data,
        "--out",
        out,
        "--student-layers",
        1,
        "--epochs",
        1,
        "--batch-size",
        8,
        "--augment",
        2,
    )
    results = json.loads((out / "results.json").read_text())
    assert results["transfer_examples"] == 3 * 48
    assert results["train"]["steps"] == 3 * 48 // 8


def test_token_copies_mask_words_and_keep_every_tag():
    from distilkit.data.tagged import TokenSplit

    words = [[f"w{i}" for i in range(30)], ["one"]]
    tags = [["NN"] * 15 + ["VB"] * 15, ["CD"]]
    source = TokenSplit(words, tags, source="train.conll", scheme="none", lines=[1, 32], one_word_per_line=True)
    out = augment_token_split(source, copies=2, mask_token="[MASK]", seed=0)
    assert out.sentences[:2] == words and len(out) == 6
    assert out.tags == tags * 3 and out.lines == [1, 32] * 3 and out.scheme == "none"
    for copy, original in zip(out.sentences[2:], words * 2, strict=True):
        assert len(copy) == len(original) and copy != original  # every copy masks at least one word
        assert all(w in ("[MASK]", o) for w, o in zip(copy, original, strict=True))
    again = augment_token_split(source, copies=2, mask_token="[MASK]", seed=0)
    assert again.sentences == out.sentences
    assert augment_token_split(source, 0, "[MASK]", seed=0) is source
    with pytest.raises(DistilkitError, match="p_mask"):
        augment_token_split(source, 1, "[MASK]", seed=0, p_mask=0)
