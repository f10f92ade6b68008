"""The plain progress lines of `core.progress`: when a line is due, what it says, and when nothing is printed."""

from __future__ import annotations

import io

import pytest

from distilkit.core.errors import DistilkitError
from distilkit.core.progress import ENV, ProgressLog, format_duration, interval_seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def make_log(total: int = 100, interval: float = 30.0, **kwargs) -> tuple[ProgressLog, FakeClock, io.StringIO]:
    clock, out = FakeClock(), kwargs.pop("stream", io.StringIO())
    return ProgressLog("train", total, interval=interval, clock=clock, stream=out, **kwargs), clock, out


def printed(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_first_update_then_one_line_per_interval_then_the_last():
    log, clock, out = make_log(total=100, interval=30)
    for step in range(1, 101):
        clock.now += 1.0  # one step a second: lines at steps 1, 31, 61, 91 and 100
        log.update(step, losses={"kd": 0.4, "loss": 0.43125})
    steps = [line.split()[2] for line in printed(out)]
    assert steps == ["1/100", "31/100", "61/100", "91/100", "100/100"]


def test_interval_zero_prints_every_update():
    log, clock, out = make_log(total=5, interval=0)
    for step in range(1, 6):
        log.update(step)  # the clock does not even move
    assert len(printed(out)) == 5


def test_line_has_step_losses_rates_elapsed_and_eta():
    log, clock, out = make_log(total=960)
    clock.now += 39.0
    log.update(120, losses={"kd": 0.4, "loss": 0.4312}, tokens=93_600)
    assert printed(out) == [
        "[train] step 120/960 (12%) loss 0.4312 kd 0.4000 | 3.1 steps/s 2,400 tok/s | elapsed 0:00:39 eta 0:04:33"
    ]


def test_losses_keep_four_decimals_and_tiny_ones_their_digits():
    log, _, out = make_log(total=10)
    log.update(1, losses={"hid": 2.599e-05, "loss": 0.69, "ce": float("nan"), "kd": 0.0})
    assert "loss 0.6900 hid 2.599e-05 ce nan kd 0.0000 |" in printed(out)[0]


def test_resumed_run_rates_count_only_the_steps_done_here():
    log, clock, out = make_log(total=200, start=100)
    clock.now += 10.0
    log.update(110)
    assert "1.0 steps/s" in printed(out)[0] and "eta 0:01:30" in printed(out)[0]


def test_finish_prints_a_state_the_interval_held_back_and_nothing_twice():
    log, clock, out = make_log(total=100, interval=30)
    log.update(1)
    clock.now += 5
    log.update(2)  # not due
    log.finish()  # e.g. a run stopped by its time budget
    log.finish()
    assert [line.split()[2] for line in printed(out)] == ["1/100", "2/100"]


def test_stages_name_the_work_now_running_and_end_with_done():
    log, clock, out = make_log(total=3, interval=0, unit="stage", rate=False)
    log.begin("trace")
    clock.now += 2
    log.begin("validate")
    log.begin("write bundle")
    log.update(3)
    assert printed(out) == [
        "[train] stage 0/3 (0%) trace | elapsed 0:00:00 eta ?",
        "[train] stage 1/3 (33%) validate | elapsed 0:00:02 eta 0:00:04",
        "[train] stage 2/3 (66%) write bundle | elapsed 0:00:02 eta 0:00:01",
        "[train] stage 3/3 (100%) done | elapsed 0:00:02 eta 0:00:00",
    ]


def test_nothing_on_a_terminal_when_disabled_or_off_the_main_process(monkeypatch):
    for log, _, out in (
        make_log(stream=Tty()),
        make_log(enabled=False),  # quiet=True
    ):
        log.update(1)
        log.update(100)
        log.finish()
        assert not log.active and out.getvalue() == ""
    monkeypatch.setenv("RANK", "1")
    log, _, out = make_log()
    log.update(100)
    assert out.getvalue() == ""
    monkeypatch.setenv("RANK", "0")
    log, _, out = make_log()
    log.update(100)
    assert len(printed(out)) == 1


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0:00:00"),
        (59.4, "0:00:59"),
        (61, "0:01:01"),
        (3600 * 27 + 62, "27:01:02"),
        (None, "?"),
        (float("inf"), "?"),
    ],
)
def test_format_duration(seconds, shown):
    assert format_duration(seconds) == shown


def test_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert interval_seconds() == 30.0
    monkeypatch.setenv(ENV, "0")
    assert interval_seconds() == 0.0
    monkeypatch.setenv(ENV, "2.5")
    log = ProgressLog("x", 10, stream=io.StringIO())
    assert log.interval == 2.5
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv(ENV, bad)
        with pytest.raises(DistilkitError, match=ENV):
            interval_seconds()
