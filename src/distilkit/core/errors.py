"""User-facing errors.

Anything the user can fix (a bad file, a missing column, an unknown teacher) is raised as `DistilkitError`; the CLI
prints its message on one line and exits non-zero instead of showing a traceback.
"""

from __future__ import annotations


class DistilkitError(Exception):
    """An error caused by the user's input, reported as one line, e.g. ``train.csv:12: empty text``."""


def require_finite(owner: object, *names: str) -> None:
    """Refuse a setting that is not a finite number (``--lr inf`` trains to NaN and would still "succeed")."""
    import math

    for name in names:
        value = getattr(owner, name)
        if isinstance(value, (int, float)) and not math.isfinite(value):
            raise DistilkitError(f"{name}: expected a finite number, got {value}")


def require_fraction(name: str, value: float) -> None:
    """Refuse a fraction of units to remove outside [0, 1): removing all of them leaves no model."""
    if not 0.0 <= value < 1.0:
        raise DistilkitError(f"{name}: expected the fraction to remove in [0, 1), got {value:g}")


def at(path: object, line: int | None, message: str) -> DistilkitError:
    """Build an error that names the file (and line, 1-based, when known)."""
    where = f"{path}:{line}" if line is not None else f"{path}"
    return DistilkitError(f"{where}: {message}")
