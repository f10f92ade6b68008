"""A training command's --out: refused when it holds another run, replaced only on --overwrite, continued only with
the run's own settings; options that are not finite numbers never reach the disk."""

from __future__ import annotations

import hashlib

from conftest import invoke
from typer.testing import CliRunner

from distilkit.cli import app
from distilkit.core.errors import DistilkitError


def _finetune(teacher, data, out, *extra):
    return ["finetune", "--model", teacher, "--data", data, "--out", out, "--epochs", 1, "--batch-size", 8, *extra]


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _error(*args) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert isinstance(result.exception, DistilkitError), result.output
    return str(result.exception)


def test_a_run_into_another_runs_folder_is_refused_and_nothing_of_it_is_lost(tmp_path, tiny_teacher, toy_data):
    out = tmp_path / "ft"
    invoke(*_finetune(tiny_teacher, toy_data, out))
    before = _digest(out)
    message = _error(*_finetune(tiny_teacher, toy_data, out, "--seed", 1))
    earlier = "results.json, model, checkpoints, train_log.jsonl, train_log.csv"
    assert message == f"{out}: holds an earlier run ({earlier}); --resume continues it, --overwrite replaces it"
    assert _digest(out) == before
    (out / "notes.txt").write_text("mine")
    invoke(*_finetune(tiny_teacher, toy_data, out, "--seed", 1, "--overwrite"))
    after = _digest(out)
    assert after["model.safetensors"] != before["model.safetensors"] and (out / "notes.txt").read_text() == "mine"
    assert "seed: 1" in (out / "config.yaml").read_text()


def test_resume_with_other_settings_is_refused_and_config_yaml_is_not_rewritten(tmp_path, tiny_teacher, toy_data):
    out = tmp_path / "ft"
    invoke(*_finetune(tiny_teacher, toy_data, out, "--save-every", 2))
    config = (out / "config.yaml").read_bytes()
    message = _error(*_finetune(tiny_teacher, toy_data, out, "--save-every", 2, "--resume", "--lr", 0.001))
    assert message == (
        f"{out / 'config.yaml'}: --resume with settings that differ from the run's (lr 5e-05 → 0.001); "
        "resume with the run's own settings, or start again with --overwrite"
    )
    assert (out / "config.yaml").read_bytes() == config
    invoke(*_finetune(tiny_teacher, toy_data, out, "--save-every", 2, "--resume"))  # the run's own settings: fine
    assert (out / "config.yaml").read_bytes() == config


def test_options_that_are_not_finite_numbers_are_refused_before_anything_is_written(tmp_path, tiny_teacher, toy_data):
    out = tmp_path / "ft"
    assert _error(*_finetune(tiny_teacher, toy_data, out, "--lr", "inf")) == "lr: expected a finite number, got inf"
    assert not out.exists()
    distil = ["distil", "--teacher", tiny_teacher, "--data", toy_data, "--out", out, "--alpha-hid", "inf"]
    assert _error(*distil) == "alpha_hid: expected a finite number, got inf"
    assert not out.exists()
