"""Token-classification data (NER, POS): read CoNLL, JSONL or a Hugging Face dataset into word and tag lists, validated.

Tagging schemes are normalised to IOB2 on the way in (`data.tag_schemes`); plain tags such as POS stay as they are.

As for classification, every check names the file and line of the offending token: a 700k-line CoNLL file with one
ragged line is otherwise a ``ValueError`` deep inside a collator.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from distilkit.core.errors import DistilkitError, at
from distilkit.data.lines import json_records, utf8_lines
from distilkit.data.sources import Source, Splits, hf_name_and_split, is_hf, split_sources
from distilkit.data.tag_schemes import OUTSIDE, normalise, resolve_scheme

FILE_FORMATS = {".conll": "conll", ".txt": "conll", ".jsonl": "jsonl", ".json": "jsonl"}
DOCSTART = "-DOCSTART-"


@dataclass
class TokenSplit:
    """One split: sentences as word lists and their tags, one tag per word, tags already normalised to IOB2.

    ``scheme`` records what the source used before normalisation (``iob1``, ``iob2``, ``bioes``, or ``none`` for
    plain tags), and ``lines`` where each sentence starts, so later checks (a dev tag unseen in train) can still name
    the file and line.
    """

    sentences: list[list[str]]
    tags: list[list[str]]
    source: str = ""
    scheme: str = "none"
    lines: list[int] = field(default_factory=list)
    one_word_per_line: bool = False

    def __len__(self) -> int:
        return len(self.sentences)

    @property
    def is_bio(self) -> bool:
        """Whether the tags are entity tags (IOB2 after normalisation) rather than plain tags such as POS."""
        return self.scheme != "none"

    def where(self, sentence: int, word: int = 0) -> str:
        """``file:line`` of a word (CoNLL: its own line; JSONL: its record's line), or ``name[split] row i``."""
        if not self.lines:
            return f"{self.source} row {sentence}"
        line = self.lines[sentence] + (word if self.one_word_per_line else 0)
        return f"{self.source}:{line}"


class TokenData(Splits[TokenSplit]):
    """Train/dev/test tagged splits with one tag vocabulary (`label_names`, also `tag_names`), fixed by train."""

    @property
    def is_bio(self) -> bool:
        return self.train.is_bio

    @property
    def tag_names(self) -> list[str]:
        return self.label_names

    @property
    def tag2id(self) -> dict[str, int]:
        return {tag: i for i, tag in enumerate(self.label_names)}


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise at(path, None, "no such file")
    return path


def read_conll(path: str | Path, tag_column: int = -1, scheme: str = "auto", token_column: int = 0) -> TokenSplit:
    """Read a CoNLL-style file: one word a line with its columns, a blank line between sentences.

    Columns are tab-separated if the first word line holds a tab (then a word may contain spaces), otherwise
    separated by runs of spaces; every later line must have as many columns as that first one, since a ragged line
    almost always means a shifted or truncated column rather than a deliberate variation. ``-DOCSTART-`` lines end a
    sentence and are skipped.
    """
    path, scheme = _existing(path), resolve_scheme(scheme)
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    lines: list[int] = []
    words: list[str] = []
    word_tags: list[str] = []
    separator: str | None = None
    width = 0
    first_line = 0

    def close() -> None:
        if words:
            sentences.append(words.copy())
            tags.append(word_tags.copy())
            words.clear()
            word_tags.clear()

    for number, raw in utf8_lines(path):
        line = raw.rstrip("\r\n")
        if not line.strip():
            close()
            continue
        if line.split()[0] == DOCSTART:  # before the column checks: its width often differs from the data's
            close()
            continue
        if separator is None:
            separator = "\t" if "\t" in line else " "
            width, first_line = len(_columns(line, separator)), number
            for column, what in ((token_column, "word"), (tag_column, "tag")):
                if not -width <= column < width:
                    raise at(path, number, f"no {what} column {column} (the line has {width} columns)")
        columns = _columns(line, separator)
        if len(columns) != width:
            split_by = "tab" if separator == "\t" else "space"
            raise at(
                path,
                number,
                f"{len(columns)} {split_by}-separated columns, but the first line (line {first_line}) has {width}",
            )
        word, tag = columns[token_column], columns[tag_column]
        if not word:
            raise at(path, number, "empty word")
        if not tag:
            raise at(path, number, "empty tag")
        if not words:
            lines.append(number)
        words.append(word)
        word_tags.append(tag)
    close()
    if not sentences:
        raise at(path, None, "no sentences (the file is empty)")
    split = TokenSplit(sentences, tags, str(path), lines=lines, one_word_per_line=True)
    return normalise(split, scheme)


def _columns(line: str, separator: str) -> list[str]:
    if separator == "\t":
        return [column.strip() for column in line.split("\t")]
    return line.split()


def read_token_jsonl(
    path: str | Path, tokens_key: str = "tokens", tags_key: str = "tags", scheme: str = "auto"
) -> TokenSplit:
    """Read one JSON object per line holding parallel lists of words and string tags."""
    path, scheme = _existing(path), resolve_scheme(scheme)
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    lines: list[int] = []
    for number, record in json_records(path, utf8_lines(path)):
        for key in (tokens_key, tags_key):
            if key not in record:
                raise at(path, number, f"missing key {key!r} (found: {', '.join(map(str, record))})")
            value = record[key]
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise at(path, number, f"{key!r} must be a list of strings")
        words, word_tags = record[tokens_key], record[tags_key]
        if len(words) != len(word_tags):
            raise at(path, number, f"{len(words)} {tokens_key} but {len(word_tags)} {tags_key}")
        if not words:
            raise at(path, number, f"empty sentence (no {tokens_key})")
        for i, (word, tag) in enumerate(zip(words, word_tags, strict=True)):
            if not word.strip():
                raise at(path, number, f"empty word at position {i}")
            if not tag.strip():
                raise at(path, number, f"empty tag at position {i}")
        sentences.append(words)
        tags.append([tag.strip() for tag in word_tags])
        lines.append(number)
    if not sentences:
        raise at(path, None, "no sentences (the file is empty)")
    return normalise(TokenSplit(sentences, tags, str(path), lines=lines), scheme)


def read_hf_token_split(
    name: str, split: str, tokens_key: str = "tokens", tags_key: str = "tags", scheme: str = "auto"
) -> TokenSplit:
    """Read a split of a Hugging Face dataset (hub name or local folder); integer tags become their ClassLabel names.

    Pass ``tags_key="ner_tags"`` or ``"pos_tags"`` for CoNLL-2003-style datasets.
    """
    import datasets

    scheme = resolve_scheme(scheme)
    where = f"{name}[{split}]"
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:  # datasets raises many types; the user needs one line, not the chain
        first = (str(e).splitlines() or [""])[0]
        raise DistilkitError(f"{where}: cannot load dataset ({type(e).__name__}: {first})") from None
    for key in (tokens_key, tags_key):
        if key not in ds.column_names:
            raise DistilkitError(f"{where}: missing column {key!r} (found: {', '.join(ds.column_names)})")
    inner = getattr(ds.features[tags_key], "feature", None)  # Sequence/List(ClassLabel) keeps the names here
    names = getattr(inner, "names", None)
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    for row, (words, row_tags) in enumerate(zip(ds[tokens_key], ds[tags_key], strict=True)):
        if not isinstance(words, list) or not isinstance(row_tags, list):
            raise DistilkitError(f"{where} row {row}: {tokens_key!r} and {tags_key!r} must be lists")
        if len(words) != len(row_tags):
            raise DistilkitError(f"{where} row {row}: {len(words)} {tokens_key} but {len(row_tags)} {tags_key}")
        if not words:
            raise DistilkitError(f"{where} row {row}: empty sentence (no {tokens_key})")
        sentences.append([str(word) for word in words])
        tags.append([names[t] if names and isinstance(t, int) else str(t).strip() for t in row_tags])
    if not sentences:
        raise DistilkitError(f"{where}: no sentences (the split is empty)")
    return normalise(TokenSplit(sentences, tags, where), scheme)


def read_token_split(
    path: str | Path,
    tag_column: int = -1,
    scheme: str = "auto",
    tokens_key: str = "tokens",
    tags_key: str = "tags",
) -> TokenSplit:
    """Read one split from a ``.conll``/``.txt`` (CoNLL) or ``.jsonl``/``.json`` (JSON lines) file."""
    path = Path(path)
    kind = FILE_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise at(path, None, f"unknown file type {path.suffix!r} (expected {', '.join(FILE_FORMATS)})")
    if kind == "conll":
        return read_conll(path, tag_column=tag_column, scheme=scheme)
    return read_token_jsonl(path, tokens_key=tokens_key, tags_key=tags_key, scheme=scheme)


def load_token_data(
    train: str | Path,
    dev: str | Path | None = None,
    test: str | Path | None = None,
    tag_column: int = -1,
    scheme: str = "auto",
    tokens_key: str = "tokens",
    tags_key: str = "tags",
    unseen_tags: str = "error",
) -> TokenData:
    """Load train (and optional dev/test) splits; a tag in dev/test that train never shows is an error.

    ``unseen_tags="drop"`` instead leaves the sentences holding such a tag out of dev/test, with a warning that
    counts them and names the first: a model cannot predict a tag it never saw, and a shipped split may hold one
    stray tag (pos-oanc's dev has a single ``NN|JJ``) that would otherwise forbid using the split at all.

    Each argument is a file path, a folder holding train/dev/test files (``.conll``, ``.txt`` or ``.jsonl``), or
    ``hf:NAME`` for a Hugging Face dataset (``hf:NAME`` loads its train/validation/test splits; ``hf:NAME@split``
    names one split). For entity tags the vocabulary is ``O`` then ``B-``/``I-`` of every type train shows, sorted
    by type: a type seen only as single-word entities in train still gets its ``I-`` tag, so a dev entity of two
    words of that type is not refused.
    """
    options = {"tag_column": tag_column, "scheme": scheme, "tokens_key": tokens_key, "tags_key": tags_key}
    sources = split_sources(train, dev, test, tuple(FILE_FORMATS))
    train_split, dev_split, test_split = (_read(source, options) for source in sources)
    if train_split.is_bio:
        types = sorted({tag[2:] for sentence in train_split.tags for tag in sentence if tag != OUTSIDE})
        tag_names = [OUTSIDE] + [f"{p}-{t}" for t in types for p in "BI"]
    else:
        tag_names = sorted({tag for sentence in train_split.tags for tag in sentence})
    if unseen_tags not in UNSEEN_TAG_POLICIES:
        raise DistilkitError(f"unseen_tags: expected one of {', '.join(UNSEEN_TAG_POLICIES)}, got {unseen_tags!r}")
    dev_split, test_split = (
        None if split is None else _check_tags(split, train_split, tag_names, unseen_tags)
        for split in (dev_split, test_split)
    )
    return TokenData(train_split, dev_split, test_split, tag_names)


UNSEEN_TAG_POLICIES = ("error", "drop")


def require_known_tags(split: TokenSplit, names: list[str], owner: str = "model") -> None:
    """Refuse to score a split holding a tag the `owner` (a model or bundle) cannot predict, naming file and line."""
    known = set(names)
    for i, sentence in enumerate(split.tags):
        for j, tag in enumerate(sentence):
            if tag not in known:
                raise DistilkitError(f"{split.where(i, j)}: tag {tag!r} is not among the {owner}'s tags {names}")


def _check_tags(split: TokenSplit, train: TokenSplit, tag_names: list[str], policy: str) -> TokenSplit:
    """`split` with every tag known to train: an error at the first unknown one, or (``drop``) without its sentences."""
    if split.is_bio != train.is_bio:
        kinds = {True: "entity (BIO) tags", False: "plain tags"}
        raise DistilkitError(
            f"{split.source}: has {kinds[split.is_bio]} but the training split has {kinds[train.is_bio]}"
        )
    known = set(tag_names)
    unseen = [(i, j) for i, sentence in enumerate(split.tags) for j, tag in enumerate(sentence) if tag not in known]
    if not unseen:
        return split
    i, j = unseen[0]
    tag = split.tags[i][j]
    if policy == "error":
        shown = ", ".join(sorted({t[2:] for t in tag_names[1:]})) if split.is_bio else ", ".join(tag_names)
        what = "entity types" if split.is_bio else "tags"
        raise DistilkitError(
            f"{split.where(i, j)}: tag {tag!r} does not occur in the training split (train {what}: {shown}); "
            "--unseen-tags drop leaves such sentences out"
        )
    dropped = sorted({i for i, _ in unseen})
    keep = [k for k in range(len(split)) if k not in set(dropped)]
    warnings.warn(
        f"{split.where(i, j)}: tag {tag!r} does not occur in the training split; "
        f"{len(dropped)} of {len(split)} sentences with unseen tags left out",
        stacklevel=2,
    )
    return TokenSplit(
        sentences=[split.sentences[k] for k in keep],
        tags=[split.tags[k] for k in keep],
        source=split.source,
        scheme=split.scheme,
        lines=[split.lines[k] for k in keep] if split.lines else [],
        one_word_per_line=split.one_word_per_line,
    )


def _read(source: Source | None, options: dict) -> TokenSplit | None:
    """One split from a file or ``hf:NAME@split`` (see `data.sources`)."""
    if source is None:
        return None
    if is_hf(source):
        name, split = hf_name_and_split(str(source))
        return read_hf_token_split(
            name, split, tokens_key=options["tokens_key"], tags_key=options["tags_key"], scheme=options["scheme"]
        )
    return read_token_split(source, **options)
