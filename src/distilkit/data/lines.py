"""Text files read line by line, the one way every reader does: UTF-8 checked per line so an error names its true
line (decoding the whole file reports an offset within an internal 8 KB chunk), a leading byte-order mark dropped,
and JSON lines (blank lines skipped, each other line one object)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from distilkit.core.errors import at


def utf8_lines(path: Path, reason: bool = True) -> Iterator[tuple[int, str]]:
    """(1-based line number, line with its line end) of a UTF-8 file; a line that is not UTF-8 is
    ``FILE:N: not valid UTF-8`` (with the decoder's reason when `reason`)."""
    with Path(path).open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise at(path, number, f"not valid UTF-8 ({e.reason})" if reason else "not valid UTF-8") from None
            yield number, line.removeprefix("\ufeff") if number == 1 else line


def json_records(path: Path, lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of `lines` ((number, text) pairs of the file `path`)."""
    for number, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise at(path, number, f"invalid JSON ({e.msg})") from None
        if not isinstance(record, dict):
            raise at(path, number, "expected a JSON object per line")
        yield number, record
