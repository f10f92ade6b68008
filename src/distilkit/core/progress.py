"""Progress as plain log lines, for runs whose stdout is not a terminal (nohup, CI, ``distilkit run > log``, notebooks).

A rich progress bar only draws on a terminal: redirected, a long training run prints nothing for many minutes. So when
stdout is not a terminal, training, teacher-output caching, export and bench print one plain line at a steady interval
instead, e.g.::

    [train] step 120/960 (12%) loss 0.4312 kd 0.4000 | 3.1 steps/s 2,400 tok/s | elapsed 0:00:39 eta 0:04:31

A line is printed for the first update, for the last one (the total reached) and otherwise at most once every
``$DISTILKIT_PROGRESS_SECONDS`` seconds (default 30; 0 prints every update). The lines go to stdout, flushed: the bar
they replace draws on stdout, so the lines land where the bar would have and where the command's own output goes
(``cmd > log`` keeps both, in order). Only the main process of a multi-process run prints (``$RANK`` unset or 0),
and nothing is printed on a terminal, where the bar shows the same thing.

Standard library only: the torch-free layers (export, bench) use it too.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from distilkit.core.errors import DistilkitError

ENV = "DISTILKIT_PROGRESS_SECONDS"
DEFAULT_SECONDS = 30.0


def interval_seconds() -> float:
    """Seconds between two lines: ``$DISTILKIT_PROGRESS_SECONDS``, else 30 (frequent enough to see a run is alive,
    rare enough that a day-long run writes a few thousand lines)."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not math.isfinite(seconds) or seconds < 0:
        raise DistilkitError(f"{ENV}: expected a number of seconds >= 0, got {raw!r}")
    return seconds


def on_terminal(stream: TextIO | None = None) -> bool:
    """True when `stream` (default: the current stdout) is a terminal, where the rich bar draws itself."""
    stream = stream if stream is not None else sys.stdout
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


def main_process() -> bool:
    """True unless this is a non-main process of a multi-process run (torchrun and accelerate set ``$RANK``): N
    processes printing the same progress would only repeat each other."""
    return os.environ.get("RANK", "0").strip() in ("", "0")


def format_duration(seconds: float | None) -> str:
    """``H:MM:SS`` (hours unbounded), as rich's bar shows time; ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _number(x: float) -> str:
    """A rate with as many digits as are worth reading: 2,400 / 31.2 / 3.1 / 0.42."""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:.1f}"
    return f"{x:.2g}"


def _loss(x: float) -> str:
    """Four decimals, as the bar and the run log show them, so a trend reads down a column; tiny or huge losses
    (a hidden-state loss near 0) keep four significant digits instead of turning into 0.0000."""
    return f"{x:.4f}" if x == 0 or 1e-3 <= abs(x) < 1e5 else f"{x:.4g}"


def _plural(unit: str) -> str:
    return unit + ("es" if unit.endswith(("s", "x", "ch", "sh")) else "s")


class ProgressLog:
    """Plain progress lines for one loop of `total` units, or nothing (on a terminal, quiet, not the main process).

    `update` records the latest state and prints a line when one is due (see the module docstring); `finish` prints
    the last state if it has not been printed (a run that stops before its total). `start` is where a resumed run
    begins: rates and the ETA count only the units done here. `rate=False` leaves out units/s, for units of unequal
    size (export stages, bench's mixed steps) where a rate says nothing. `clock` and `stream` are for tests.
    """

    def __init__(
        self,
        name: str,
        total: int,
        *,
        unit: str = "step",
        start: int = 0,
        enabled: bool = True,
        rate: bool = True,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        stream: TextIO | None = None,
    ):
        self.name, self.total, self.unit, self.show_rate = name, total, unit, rate
        self.clock, self.stream = clock, stream
        self.active = enabled and main_process() and not on_terminal(stream)
        self.interval = (interval if interval is not None else interval_seconds()) if self.active else DEFAULT_SECONDS
        self.started = clock()
        self.start = self.completed = start
        self.losses: dict[str, float] = {}
        self.tokens: int | None = None
        self.note = ""
        self._begun = start
        self._last_print: float | None = None
        self._pending = False

    def update(
        self,
        completed: int,
        *,
        losses: Mapping[str, float] | None = None,
        tokens: int | None = None,
        note: str | None = None,
    ) -> None:
        """Record that `completed` units are done (`tokens`: how many tokens they held, counted from `start`)."""
        self.completed = completed
        if losses is not None:
            self.losses = dict(losses)
        if tokens is not None:
            self.tokens = tokens
        if note is not None:
            self.note = note
        elif completed >= self.total:
            self.note = "done" if self.note else ""  # a stage's name would be stale once everything is done
        if not self.active:
            return
        now = self.clock()
        if self._last_print is None or completed >= self.total or now - self._last_print >= self.interval:
            self._print(now)
        else:
            self._pending = True

    def begin(self, note: str) -> None:
        """Work named `note` starts, everything begun before it having finished: for stages of unequal length."""
        self.update(self._begun, note=note)
        self._begun += 1

    def finish(self) -> None:
        """Print the last state if the interval held it back."""
        if self.active and self._pending:
            self._print(self.clock())

    def line(self, now: float | None = None) -> str:
        """The progress line for the current state."""
        now = self.clock() if now is None else now
        elapsed = max(now - self.started, 0.0)
        done_here = self.completed - self.start
        rate = done_here / elapsed if elapsed > 0 and done_here > 0 else None
        eta = (self.total - self.completed) / rate if rate else (0.0 if self.completed >= self.total else None)
        percent = int(100 * self.completed / self.total) if self.total > 0 else 100
        head = f"[{self.name}] {self.unit} {self.completed:,}/{self.total:,} ({percent}%)"
        if self.note:
            head += f" {self.note}"
        if self.losses:
            ordered = sorted(self.losses.items(), key=lambda kv: kv[0] != "loss")  # the total loss first
            head += " " + " ".join(f"{k} {_loss(v)}" for k, v in ordered)
        parts = [head]
        if self.show_rate and rate is not None:
            speed = f"{_number(rate)} {_plural(self.unit)}/s"
            if self.tokens is not None:
                speed += f" {self.tokens / elapsed:,.0f} tok/s"
            parts.append(speed)
        parts.append(f"elapsed {format_duration(elapsed)} eta {format_duration(eta)}")
        return " | ".join(parts)

    def _print(self, now: float) -> None:
        # sys.stdout looked up now, not at import: test runners and notebooks swap it.
        print(self.line(now), file=self.stream if self.stream is not None else sys.stdout, flush=True)
        self._last_print, self._pending = now, False
