"""Text-classification data: read CSV, TSV, JSONL or a Hugging Face dataset into plain lists, validated.

Every check names the file and line of the offending record, because a user with a 100k-line CSV needs to know
*where* it is broken, not that `KeyError: 'label'` happened somewhere in a data collator.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from distilkit.core.errors import DistilkitError, at
from distilkit.data.lines import json_records, utf8_lines
from distilkit.data.sources import Source, Splits, hf_name_and_split, is_hf, split_sources

FILE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}


@dataclass
class ClassificationSplit:
    """One split: parallel lists of texts, optional second texts, and string labels."""

    texts: list[str]
    labels: list[str]
    pairs: list[str] | None = None
    source: str = ""

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class Columns:
    """Which columns hold the text, the optional second text, and the label."""

    text: str = "text"
    label: str = "label"
    text_pair: str | None = None


class ClassificationData(Splits[ClassificationSplit]):
    """Train/dev/test text splits with one label vocabulary, fixed by the training split."""


def records(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, record) from a CSV/TSV/JSONL file; line numbers are 1-based and count the header."""
    kind = FILE_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise at(path, None, f"unknown file type {path.suffix!r} (expected .csv, .tsv or .jsonl)")
    try:
        with path.open(encoding="utf-8", newline="") as f:
            if kind == "jsonl":
                yield from json_records(path, enumerate(f, start=1))
            else:
                reader = csv.DictReader(f, delimiter="," if kind == "csv" else "\t")
                for record in reader:
                    if None in record:
                        raise at(path, reader.line_num, "more fields than the header has")
                    yield reader.line_num, record
    except UnicodeDecodeError as e:
        for _ in utf8_lines(path):  # finds the line, and raises naming it
            pass
        raise at(path, None, f"not valid UTF-8 ({e.reason})") from None
    except csv.Error as e:
        raise at(path, None, f"malformed CSV ({e})") from None


MISSING_MARKERS = {"nan", "none", "null", "na", "n/a"}
"""What a spreadsheet, pandas or JSON writes for a missing value; never a label (``NaN`` would become a class)."""


def label_problem(label: object, column: str) -> str | None:
    """Why `label` is not a usable class label (empty, a missing-value marker, not a string or integer), or None."""
    if label is None or (isinstance(label, str) and not label.strip()):
        return f"empty label in column {column!r}"
    if isinstance(label, float) and label != label:  # NaN from JSON (json.loads accepts NaN)
        return f"missing label (NaN) in column {column!r}"
    if isinstance(label, bool) or not isinstance(label, (str, int, float)):
        return f"label in column {column!r} must be a string or a number, got {label!r}"
    if str(label).strip().lower() in MISSING_MARKERS:
        return f"missing label ({str(label).strip()}) in column {column!r}"
    return None


def read_split(path: str | Path, columns: Columns | None = None) -> ClassificationSplit:
    """Read one split from a file, refusing missing columns, empty texts and empty labels by file and line."""
    path = Path(path)
    columns = columns or Columns()
    if not path.is_file():
        raise at(path, None, "no such file")
    texts: list[str] = []
    labels: list[str] = []
    pairs: list[str] = []
    for number, record in records(path):
        for name in (columns.text, columns.label, columns.text_pair):
            if name is not None and name not in record:
                raise at(path, number, f"missing column {name!r} (found: {', '.join(map(str, record))})")
        text = record[columns.text]
        label = record[columns.label]
        if not isinstance(text, str) or not text.strip():
            raise at(path, number, f"empty text in column {columns.text!r}")
        problem = label_problem(label, columns.label)
        if problem:
            raise at(path, number, problem)
        texts.append(text)
        labels.append(str(label).strip())
        if columns.text_pair is not None:
            pair = record[columns.text_pair]
            if not isinstance(pair, str) or not pair.strip():
                raise at(path, number, f"empty text in column {columns.text_pair!r}")
            pairs.append(pair)
    if not texts:
        raise at(path, None, "no examples (the file is empty)")
    return ClassificationSplit(texts, labels, pairs if columns.text_pair else None, source=str(path))


def read_hf_split(name: str, split: str, columns: Columns | None = None) -> ClassificationSplit:
    """Read a split of a Hugging Face dataset (hub name or local folder); integer labels become their names."""
    import datasets

    columns = columns or Columns()
    datasets.disable_progress_bars()  # its bars would interleave with ours, and with a one-line error
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:  # datasets raises many types; the user needs one line, not the chain
        first = (str(e).splitlines() or [""])[0]
        raise DistilkitError(f"{name}[{split}]: cannot load dataset ({type(e).__name__}: {first})") from None
    for col in (columns.text, columns.label, columns.text_pair):
        if col is not None and col not in ds.column_names:
            raise DistilkitError(f"{name}[{split}]: missing column {col!r} (found: {', '.join(ds.column_names)})")
    feature = ds.features[columns.label]
    names = getattr(feature, "names", None)
    labels = []
    for i, value in enumerate(ds[columns.label]):
        if names and isinstance(value, int) and not 0 <= value < len(names):  # ClassLabel -1: no label
            raise DistilkitError(f"{name}[{split}] row {i}: no label (class {value}) in column {columns.label!r}")
        problem = label_problem(value, columns.label)
        if problem:
            raise DistilkitError(f"{name}[{split}] row {i}: {problem}")
        labels.append(names[value] if names else str(value).strip())
    texts = list(ds[columns.text])
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise DistilkitError(f"{name}[{split}] row {i}: empty text in column {columns.text!r}")
    pairs = list(ds[columns.text_pair]) if columns.text_pair else None
    return ClassificationSplit(texts, labels, pairs, source=f"{name}[{split}]")


def load_classification(
    train: str | Path,
    dev: str | Path | None = None,
    test: str | Path | None = None,
    columns: Columns | None = None,
) -> ClassificationData:
    """Load train (and optional dev/test) splits; a label in dev/test that train never shows is an error.

    Each argument is a file path, a folder holding train/dev/test files, or ``hf:NAME`` for a Hugging Face dataset
    (``hf:NAME`` loads its train/validation/test splits).
    """
    sources = split_sources(train, dev, test, tuple(FILE_FORMATS))
    train_split, dev_split, test_split = (_read(source, columns) for source in sources)
    label_names = sorted(set(train_split.labels))
    if len(label_names) < 2:
        raise DistilkitError(
            f"{train_split.source}: only one label ({label_names[0]!r}): a classifier needs at least two"
        )
    known = set(label_names)
    for split in (dev_split, test_split):
        if split is None:
            continue
        for i, label in enumerate(split.labels):
            if label not in known:
                line = i + 2 if split.source.endswith((".csv", ".tsv")) else None
                raise DistilkitError(
                    f"{split.source}{f':{line}' if line else ''}: label {label!r} does not occur in the training "
                    f"split (train labels: {', '.join(label_names)})"
                )
    return ClassificationData(train_split, dev_split, test_split, label_names)


def _read(source: Source | None, columns: Columns | None) -> ClassificationSplit | None:
    """One split from a file or ``hf:NAME@split`` (see `data.sources`)."""
    if source is None:
        return None
    if is_hf(source):
        return read_hf_split(*hf_name_and_split(str(source)), columns)
    return read_split(source, columns)
