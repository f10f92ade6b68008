"""Transfer sets for `distil --transfer`: unlabelled texts the teacher labels, read, deduplicated against the task.

A student trained on the labelled split alone sees the teacher's function only where its soft targets are nearly the
gold labels; many more inputs labelled by the teacher are where distillation pays (see `data.transfer_sets`). Each
source is a `.txt` file (one text a line, blank lines skipped), a `.csv`/`.tsv`/`.jsonl` file (its `column`), a
Hugging Face dataset `hf:NAME` (its train split, or `hf:NAME@split`), or a transfer-set name fetched on first use.

Leakage is refused by construction: a text whose normal form (`normal_form`) equals that of any dev or test text of
the task is left out and counted, and so is a repeat within the pool; a text also in the training split is kept
(it is the teacher's soft target on an input the student sees anyway) and counted. For token classification each text
is a sentence, split into words as BERT splits them (`core.words.words_with_offsets`, the runtime's rule).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from distilkit.core.errors import DistilkitError, at
from distilkit.core.words import words_with_offsets
from distilkit.data.classification import ClassificationData, ClassificationSplit, records
from distilkit.data.lines import utf8_lines
from distilkit.data.sources import hf_name_and_split, is_hf
from distilkit.data.tagged import TokenData, TokenSplit

TEXT_SUFFIXES = (".txt",)
RECORD_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")
_WORD = re.compile(r"\w+")


def normal_form(text: str) -> str:
    """What two texts must share to count as the same: their word characters, casefolded, one space apart.

    Stricter than comparing stripped, casefolded, whitespace-collapsed strings (every such match is one here too),
    because corpora re-tokenise: Pang & Lee's copy of a Rotten Tomatoes snippet reads ``the rock is destined ...
    " conan "`` where sentiment-rt reads ``The Rock is destined ... ``Conan''``.
    """
    return " ".join(_WORD.findall(text.casefold()))


@dataclass
class SourceReport:
    """What one source gave: texts read, and how many were left out or also found in the training split."""

    source: str
    read: int = 0
    kept: int = 0
    dev_test_dropped: int = 0
    duplicates_dropped: int = 0
    train_overlap: int = 0


@dataclass
class TransferPool:
    """The transfer texts left after deduplication and the cap, in source order; `sentences` holds their words for
    token classification. `report` is what results.json records."""

    texts: list[str]
    sentences: list[list[str]] | None
    sources: list[SourceReport] = field(default_factory=list)
    capped_from: int | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def as_split(self, label_names: list[str]) -> ClassificationSplit | TokenSplit:
        """The pool as a split to encode like the training split. Its labels are placeholders (the first label
        name): the teacher gives the targets, and for tagged sentences the placeholders only mark the positions
        (each word's first sub-word) a tag is read at."""
        placeholder = label_names[0]
        if self.sentences is not None:
            tags = [[placeholder] * len(words) for words in self.sentences]
            return TokenSplit(self.sentences, tags, source="transfer set")
        return ClassificationSplit(list(self.texts), [placeholder] * len(self.texts), source="transfer set")

    def report(self) -> dict:
        return {
            "texts": len(self.texts),
            "dev_test_dropped": sum(s.dev_test_dropped for s in self.sources),
            "duplicates_dropped": sum(s.duplicates_dropped for s in self.sources),
            "train_overlap": sum(s.train_overlap for s in self.sources),
            "capped_from": self.capped_from,
            "sources": [vars(s) for s in self.sources],
        }

    def line(self) -> str:
        """One line for the log: how many texts, from where, and what dedup did."""
        r = self.report()
        names = ", ".join(s.source for s in self.sources)
        capped = f", a seeded sample of {r['capped_from']:,}" if r["capped_from"] else ""
        return (
            f"transfer set: {r['texts']:,} texts from {names}{capped} ({r['dev_test_dropped']:,} equal to a dev/test "
            f"text and {r['duplicates_dropped']:,} repeats left out; {r['train_overlap']:,} also in train, kept)"
        )


def read_transfer_texts(source: str, column: str = "text") -> list[str]:
    """The non-blank texts of one source, each stripped; a bad source is one line naming the file (and line)."""
    if is_hf(source):
        return _hf_texts(source, column)
    path = Path(source).expanduser()
    if not path.exists():
        from distilkit.data.fetch import TRANSFER_SETS, get_dataset  # pip machinery: only for a known name

        if source in TRANSFER_SETS:
            path = get_dataset(source) / TRANSFER_SETS[source].files[0]
        else:
            raise at(path, None, f"no such file (nor a known transfer set: {', '.join(TRANSFER_SETS)})")
    if path.is_dir():
        raise at(path, None, "a transfer set is a file (.txt one text a line, .csv, .tsv or .jsonl), not a folder")
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        texts = [line.strip() for _, line in utf8_lines(path)]
    elif suffix in RECORD_SUFFIXES:
        texts = list(_column(path, column))
    else:
        raise at(path, None, f"unknown file type {path.suffix!r} (expected .txt, .csv, .tsv or .jsonl)")
    texts = [t for t in texts if t]
    if not texts:
        raise at(path, None, "no texts (the file is empty)")
    return texts


def _column(path: Path, column: str) -> Iterable[str]:
    for number, record in records(path):
        if column not in record:
            found = ", ".join(map(str, record))
            raise at(path, number, f"missing column {column!r} (found: {found}); see --transfer-column")
        value = record[column]
        if not isinstance(value, str):
            raise at(path, number, f"text in column {column!r} must be a string, got {value!r}")
        yield value.strip()


def _hf_texts(source: str, column: str) -> list[str]:
    import datasets

    name, split = hf_name_and_split(source, default_split="train")
    datasets.disable_progress_bars()
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:  # datasets raises many types; the user needs one line, not the chain
        first = (str(e).splitlines() or [""])[0]
        raise DistilkitError(f"{name}[{split}]: cannot load dataset ({type(e).__name__}: {first})") from None
    if column not in ds.column_names:
        raise DistilkitError(f"{name}[{split}]: missing column {column!r} (found: {', '.join(ds.column_names)})")
    texts = [t.strip() for t in ds[column] if isinstance(t, str) and t.strip()]
    if not texts:
        raise DistilkitError(f"{name}[{split}]: no texts in column {column!r}")
    return texts


def split_texts(split: ClassificationSplit | TokenSplit | None) -> list[str]:
    """The texts of a split as dedup compares them: texts (and second texts), or a sentence's words joined."""
    if split is None:
        return []
    if isinstance(split, TokenSplit):
        return [" ".join(words) for words in split.sentences]
    return list(split.texts) + list(split.pairs or [])


def load_transfer(
    sources: Sequence[str],
    data: ClassificationData | TokenData,
    column: str = "text",
    max_texts: int = 0,
    seed: int = 0,
) -> TransferPool:
    """The transfer texts of `sources` for the task of `data`: dev/test texts and repeats left out, then at most
    `max_texts` of them (0: all), a sample fixed by `seed` kept in source order.

    `seed` is the sample's own (`--transfer-seed`), not the training seed: runs of several training seeds then share
    one sample, hence one stored teacher pass (`distil.teacher_outputs`)."""
    if max_texts < 0:
        raise DistilkitError(f"transfer_max: must be >= 0 (got {max_texts})")
    if isinstance(data.train, ClassificationSplit) and data.train.pairs is not None:
        raise DistilkitError("transfer: a transfer set holds single texts, but this task classifies text pairs")
    held_out = {normal_form(t) for split in (data.dev, data.test) for t in split_texts(split)}
    train = {normal_form(t) for t in split_texts(data.train)}
    seen: set[str] = set()
    kept: list[tuple[str, SourceReport, bool]] = []  # (text, its source, also in train)
    reports = []
    for source in sources:
        report = SourceReport(source)
        for text in read_transfer_texts(source, column):
            report.read += 1
            key = normal_form(text)
            if key in held_out:
                report.dev_test_dropped += 1
            elif key in seen:
                report.duplicates_dropped += 1
            else:
                seen.add(key)
                kept.append((text, report, key in train))
        reports.append(report)
    capped_from = None
    if 0 < max_texts < len(kept):
        capped_from = len(kept)
        kept = [kept[i] for i in sorted(random.Random(seed).sample(range(len(kept)), max_texts))]
    for _, report, in_train in kept:  # counted after the cap: what the run really uses
        report.kept += 1
        report.train_overlap += in_train
    texts = [text for text, _, _ in kept]
    sentences = None
    if isinstance(data.train, TokenSplit):
        sentences = [[w for w, _, _ in words_with_offsets(t)] for t in texts]
    if not texts:
        raise DistilkitError(f"transfer: no text of {', '.join(sources)} is left once dev/test texts are left out")
    return TransferPool(texts, sentences, reports, capped_from)
