"""JSON lines, read the one way every reader does: blank lines skipped, each other line one object, errors by line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from distilkit.core.errors import at


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
