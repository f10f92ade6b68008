"""The corpus cache: every input format, streamed into memory-mapped ids, keyed by corpus and tokenizer, reused."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from conftest import make_tokenizer
from general_helpers import write_corpus

from distilkit.core.errors import DistilkitError
from distilkit.data.corpus import MIN_TOKENS, CorpusSequences, build_cache, corpus_files, iter_paragraphs


@pytest.fixture
def tokenizer(tmp_path):
    return make_tokenizer(tmp_path / "tok")


def test_reads_txt_gz_jsonl_and_folders(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("first paragraph\n\n  second one  \n")
    with gzip.open(folder / "sub" / "b.txt.gz", "wt") as f:
        f.write("gzipped line\n")
    (folder / "c.jsonl").write_text(json.dumps({"text": "json line", "id": 1}) + "\n\n")
    (folder / "ignored.csv").write_text("x\n")
    files = corpus_files([folder])
    assert [f.name for f in files] == ["a.txt", "c.jsonl", "b.txt.gz"]
    assert [p for f in files for p in iter_paragraphs(f)] == [
        "first paragraph",
        "second one",
        "json line",
        "gzipped line",
    ]


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(DistilkitError, match="no such corpus"):
        corpus_files([tmp_path / "missing"])
    (tmp_path / "x.csv").write_text("a\n")
    with pytest.raises(DistilkitError, match="must end in"):
        corpus_files([tmp_path / "x.csv"])
    (tmp_path / "bad.jsonl").write_text('{"body": "no text field"}\n')
    with pytest.raises(DistilkitError, match=r"bad.jsonl:1: .*'text'"):
        list(iter_paragraphs(tmp_path / "bad.jsonl"))


def test_cache_holds_the_token_ids_and_counts(tmp_path, tokenizer):
    corpus = write_corpus(tmp_path / "c.txt", lines=30)
    cache = build_cache([corpus], tokenizer, tmp_path / "cache")
    lines = corpus.read_text().splitlines()
    expected = [tokenizer(line, add_special_tokens=False)["input_ids"] for line in lines]
    assert isinstance(cache.ids, np.memmap)
    for i, ids in enumerate(expected):
        assert cache.ids[cache.offsets[i] : cache.offsets[i + 1]].tolist() == ids
    flat = [t for ids in expected for t in ids]
    assert cache.counts.tolist() == np.bincount(flat, minlength=len(tokenizer)).tolist()


def test_cache_is_reused_and_rebuilt_when_corpus_or_tokenizer_change(tmp_path, tokenizer):
    corpus = write_corpus(tmp_path / "c.txt", lines=30)
    first = build_cache([corpus], tokenizer, tmp_path / "cache")
    assert first.build_seconds > 0
    written = (first.folder / "ids.bin").stat().st_mtime_ns
    again = build_cache([corpus], tokenizer, tmp_path / "cache")
    assert again.folder == first.folder and again.build_seconds == 0.0
    assert (again.folder / "ids.bin").stat().st_mtime_ns == written  # not rewritten
    corpus.write_text(corpus.read_text() + "one more line\n")
    assert build_cache([corpus], tokenizer, tmp_path / "cache").folder != first.folder
    other = make_tokenizer(tmp_path / "tok2")
    other.add_tokens(["brandnewword"])
    assert build_cache([corpus], other, tmp_path / "cache").folder not in (first.folder,)
    assert len(list((tmp_path / "cache").iterdir())) == 3  # no temporary folders left behind


def test_sequences_are_cut_to_max_length_and_short_ones_dropped(tmp_path, tokenizer):
    corpus = write_corpus(tmp_path / "c.txt", lines=60)
    cache = build_cache([corpus], tokenizer, tmp_path / "cache")
    grouped = CorpusSequences(cache, 16, tokenizer.cls_token_id, tokenizer.sep_token_id, pack=False)
    lengths = grouped.lengths()
    assert max(lengths) == 16 and min(lengths) >= MIN_TOKENS
    ids = grouped.token_ids(0)
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id and len(ids) == lengths[0]
    # Paragraph windows never cross paragraph boundaries; every kept token appears once.
    para = cache.offsets
    for start, n in zip(grouped.starts, grouped.lens, strict=True):
        owner = np.searchsorted(para, start, side="right") - 1
        assert start + n <= para[owner + 1]
    packed = CorpusSequences(cache, 16, tokenizer.cls_token_id, tokenizer.sep_token_id, pack=True)
    assert set(packed.lengths()) == {16}
    assert 0 <= cache.num_tokens - (packed.num_tokens() - 2 * len(packed)) < 14  # only the last partial window dropped
