"""`python -m distilkit.runtime BUNDLE [TEXT...]`: the torch-free way to run a bundle from a shell.

`distilkit predict` does the same through the main CLI, which needs typer and rich (both in the base install); this
entry point needs only what the runtime needs (numpy, onnxruntime, tokenizers), so it also works where only those are
installed next to distilkit (`pip install --no-deps`). Both read texts the same way: the arguments, else the file,
else standard input, one text per line, blank lines skipped; both write one JSON object per text. ``--task ner``
writes a text's entities (type, character offsets, surface string, score) and ``--task pos`` one tag per word,
instead of the raw per-sub-word output of a token-classification bundle. When some texts were longer than the bundle's
``max_length``, both say so on standard error (`long_text_line`), so a user whose documents were cut to their first
hundred words learns it from the run, not from the scores.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from distilkit.core.errors import DistilkitError, at
from distilkit.runtime.predictor import Predictor


def read_texts(texts: Sequence[str] | None, file: Path | None, stdin: IO[str] | None) -> list[str]:
    """Texts from the arguments, else from `file`, else from `stdin` (one per line, blank lines skipped).

    The file and standard input are read as bytes and decoded as UTF-8 here (a leading BOM dropped), whatever the
    locale: a byte that is not UTF-8, an encoded lone surrogate included, is one line naming where it is
    (``stdin:3: not valid UTF-8``) instead of a traceback, or instead of a surrogate escape that reaches the
    tokenizer and fails every text of its batch. Arguments the shell passed as such bytes are refused the same way.
    """
    if texts and file is not None:
        raise DistilkitError("predict: give texts as arguments or --file, not both")
    if texts:
        for number, text in enumerate(texts, start=1):
            if _surrogate(text) is not None:
                raise DistilkitError(f"text argument {number}: not valid UTF-8")
        return list(texts)
    if file is not None:
        if not file.is_file():
            raise DistilkitError(f"{file}: no such file")
        content = _decode(file.read_bytes(), str(file))
    else:
        if stdin is None or stdin.isatty():
            raise DistilkitError("predict: no texts (give them as arguments, with --file, or on standard input)")
        buffer = getattr(stdin, "buffer", None)
        if buffer is not None:
            content = _decode(buffer.read(), "stdin")
        else:  # a text stream with no bytes under it (io.StringIO): its str may still hold a surrogate
            content = stdin.read()
            if (index := _surrogate(content)) is not None:
                raise at("stdin", content.count("\n", 0, index) + 1, "not valid UTF-8")
    return [line for line in content.splitlines() if line.strip()]


def _decode(data: bytes, where: str) -> str:
    """`data` as UTF-8 text, or an error naming the line (1-based, counted in newlines) of the first bad byte."""
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise at(where, data.count(b"\n", 0, e.start) + 1, "not valid UTF-8") from None


def _surrogate(text: str) -> int | None:
    """Index of the first surrogate in `text` (how Python keeps bytes that were not UTF-8, e.g. in `sys.argv`)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return e.start
    return None


PIPELINES = ("raw", "ner", "pos")


def _results(predictor: Predictor, texts: Sequence[str], task: str, lengths: list[int] | None) -> list[dict]:
    if task == "ner":
        return [{"entities": found} for found in predictor.entities(texts)]
    if task == "pos":
        return [{"words": words} for words in predictor.tag_words(texts)]
    results, counts = predictor.predict_with_lengths(texts)
    if lengths is not None:
        lengths += counts
    return results


def json_lines(
    predictor: Predictor,
    texts: Sequence[str],
    chunk: int = 1024,
    task: str = "raw",
    lengths: list[int] | None = None,
) -> Iterator[str]:
    """One compact JSON object per text, the text first so the output reads on its own.

    Texts are predicted `chunk` at a time so a long input streams out instead of waiting for the last line.
    `task` is ``raw`` (the bundle's own output), ``ner`` (entities) or ``pos`` (a tag per word). With `lengths`
    given, the token count of each text the raw task read is appended to it (ner and pos window whole words and cut
    nothing), for `long_text_line`.
    """
    if task not in PIPELINES:
        raise DistilkitError(f"task: expected one of {', '.join(PIPELINES)}, got {task!r}")
    for start in range(0, len(texts), chunk):
        part = texts[start : start + chunk]
        for text, result in zip(part, _results(predictor, part, task, lengths), strict=True):
            yield json.dumps({"text": text, **result}, ensure_ascii=False)


def long_text_line(predictor: Predictor, lengths: Sequence[int]) -> str | None:
    """The long-text summary of a run (`Predictor.report`), or None when every text fit in ``max_length``."""
    report = predictor.report(lengths)
    return report.line("texts") if report.long else None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, predict, print JSON lines; a user error is one line on stderr and exit code 2."""
    parser = argparse.ArgumentParser(prog="python -m distilkit.runtime", description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="bundle folder written by `distilkit export`")
    parser.add_argument("texts", nargs="*", help="texts to run (else --file, else standard input)")
    parser.add_argument("--file", type=Path, default=None, help="file with one text per line")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per batch")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    parser.add_argument("--task", default="raw", choices=PIPELINES, help="ner: entities; pos: a tag per word")
    args = parser.parse_args(argv)
    try:
        texts = read_texts(args.texts, args.file, sys.stdin)
        predictor = Predictor(args.bundle, batch_size=args.batch_size, threads=args.threads)
        lengths: list[int] = []
        for line in json_lines(predictor, texts, task=args.task, lengths=lengths):
            print(line)
        summary = long_text_line(predictor, lengths)
        if summary:
            print(summary, file=sys.stderr)
    except DistilkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
