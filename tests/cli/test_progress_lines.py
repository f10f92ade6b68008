"""Runs whose stdout is not a terminal (typer's CliRunner is not one) print plain progress lines, not a rich bar."""

from __future__ import annotations

import re

from conftest import invoke

from distilkit.core.progress import ENV

NUMBER = r"[\d.,]+(?:e[-+]\d+)?"
TIMES = r"elapsed \d+:\d\d:\d\d eta (?:\d+:\d\d:\d\d|\?)"
TRAIN = re.compile(
    rf"^\[train\] step (\d+)/(\d+) \((\d+)%\) loss ({NUMBER})(?: \w+ {NUMBER})* \| "
    rf"{NUMBER} steps/s {NUMBER} tok/s \| {TIMES}$",
    re.MULTILINE,
)


def train_lines(output: str) -> list[tuple[int, int, int]]:
    return [(int(m[1]), int(m[2]), int(m[3])) for m in TRAIN.finditer(output)]


def test_finetune_off_a_terminal_prints_a_line_per_step_with_losses_rates_and_eta(
    tmp_path, tiny_teacher, toy_data, monkeypatch
):
    monkeypatch.setenv(ENV, "0")
    out = tmp_path / "ft"
    result = invoke("finetune", "--model", tiny_teacher, "--data", toy_data, "--out", out, "--max-steps", 4)
    assert train_lines(result.stdout) == [(1, 4, 25), (2, 4, 50), (3, 4, 75), (4, 4, 100)], result.stdout
    last = [line for line in result.stdout.splitlines() if line.startswith("[train]")][-1]
    assert last.endswith("eta 0:00:00")
    assert "━" not in result.stdout  # the rich bar is replaced, not printed as well


def test_default_interval_prints_the_first_and_the_last_step_of_a_short_run(
    tmp_path, tiny_teacher, toy_data, monkeypatch
):
    monkeypatch.delenv(ENV, raising=False)
    result = invoke("finetune", "--model", tiny_teacher, "--data", toy_data, "--out", tmp_path / "ft", "--max-steps", 5)
    assert [step for step, _, _ in train_lines(result.stdout)] == [1, 5]


def test_distil_reports_the_teacher_pass_and_every_loss(tmp_path, tiny_teacher, toy_data, monkeypatch):
    monkeypatch.setenv(ENV, "0")
    args = ("--data", toy_data, "--out", tmp_path / "st", "--max-steps", 2, "--batch-size", 8, "--alpha-ce", 0.5)
    result = invoke("distil", "--teacher", tiny_teacher, "--student-layers", 2, *args)
    teacher = re.findall(r"^\[teacher logits\] batch (\d+)/(\d+) .*tok/s \| elapsed", result.stdout, re.MULTILINE)
    assert teacher == [("1", "1")]  # 48 examples, batches of 64
    lines = [line for line in result.stdout.splitlines() if line.startswith("[train]")]
    assert len(lines) == 2 and all(re.search(rf"loss {NUMBER} kd {NUMBER} ce {NUMBER} \|", x) for x in lines)
    assert train_lines(result.stdout) == [(1, 2, 50), (2, 2, 100)]
