"""Training precision: bf16 detection from the CPU flags, the --precision switch, autocast in effect, and the
precision used recorded in results.json. (The bf16 exact-resume check lives with the others in test_resume.py.)"""

from __future__ import annotations

import json

import pytest
import torch
from conftest import invoke, save_tiny_model, toy_rows, write_csv
from typer.testing import CliRunner

from distilkit.cli import app
from distilkit.core.errors import DistilkitError
from distilkit.core.machine import has_fast_bf16
from distilkit.data.batching import encode_split
from distilkit.data.classification import load_classification
from distilkit.distil import trainer
from distilkit.distil.objectives import FinetuneObjective, teacher_logits_for
from distilkit.distil.trainer import TrainConfig, resolve_precision, train
from distilkit.models.teacher import load_classifier


@pytest.mark.parametrize(
    ("flags", "fast"),
    [("avx2 fma avx512f", False), ("avx2 avx512f avx512_bf16", True), ("avx2 amx_tile amx_bf16", True), ("", False)],
)
def test_fast_bf16_is_read_from_the_cpu_flags(flags, fast):
    assert has_fast_bf16(f"processor\t: 0\nflags\t\t: {flags}\n") is fast


def test_auto_is_bf16_where_the_cpu_has_it_unless_the_environment_says_otherwise(monkeypatch):
    monkeypatch.delenv("DISTILKIT_PRECISION")
    for fast, used in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(trainer, "has_fast_bf16", lambda fast=fast: fast)
        assert resolve_precision("auto") == used and TrainConfig().precision == "auto"
        monkeypatch.setenv("DISTILKIT_PRECISION", "fp32" if fast else "bf16")
        assert resolve_precision("auto") == ("fp32" if fast else "bf16")
        monkeypatch.delenv("DISTILKIT_PRECISION")
    assert resolve_precision("bf16") == "bf16" and resolve_precision("fp32") == "fp32"
    with pytest.raises(DistilkitError, match="precision: expected one of auto, bf16, fp32, got 'fp16'"):
        TrainConfig(precision="fp16")
    monkeypatch.setenv("DISTILKIT_PRECISION", "fp16")
    with pytest.raises(DistilkitError, match=r"^\$DISTILKIT_PRECISION: expected bf16 or fp32, got 'fp16'$"):
        resolve_precision("auto")


@pytest.fixture
def tiny(tmp_path):
    folder = save_tiny_model(tmp_path / "model", layers=2)
    write_csv(tmp_path / "data" / "train.csv", toy_rows(16))
    data = load_classification(tmp_path / "data")
    model, tokenizer = load_classifier(folder, data.label_names)
    return model, tokenizer, encode_split(tokenizer, data.train, model.config.label2id, 32)


@pytest.mark.parametrize(
    ("asked", "used", "dtype"), [("auto", "fp32", torch.float32), ("bf16", "bf16", torch.bfloat16)]
)
def test_the_forward_runs_at_the_precision_asked_and_the_summary_says_so(tmp_path, tiny, asked, used, dtype):
    model, tokenizer, encoded = tiny
    seen = []
    model.classifier.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    cfg = TrainConfig(max_steps=2, batch_size=8, precision=asked)
    summary = train(FinetuneObjective(model), encoded, tokenizer, cfg, tmp_path / "out", quiet=True)
    assert summary["precision"] == used and summary["config"]["precision"] == asked
    assert seen and set(seen) == {dtype}
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast never casts the weights


def test_cached_teacher_logits_at_bf16_are_fp32_and_close_to_the_fp32_ones(tiny):
    model, tokenizer, encoded = tiny
    fp32 = teacher_logits_for(model, encoded, tokenizer, quiet=True, precision="fp32").values
    bf16 = teacher_logits_for(model, encoded, tokenizer, quiet=True, precision="bf16").values
    assert bf16.dtype == torch.float32 and not torch.equal(fp32, bf16)
    torch.testing.assert_close(bf16, fp32, rtol=0.05, atol=0.05)


def test_cli_precision_is_recorded_and_a_bad_value_is_refused_before_anything_is_written(
    tmp_path, tiny_teacher, toy_data
):
    out = tmp_path / "ft"
    invoke(
        "finetune", "--model", tiny_teacher, "--data", toy_data, "--out", out, "--max-steps", 1, "--precision", "bf16"
    )
    assert json.loads((out / "results.json").read_text())["train"]["precision"] == "bf16"
    with pytest.raises(DistilkitError, match="^precision: expected one of auto, bf16, fp32, got 'fp16'$"):
        invoke("finetune", "--model", tiny_teacher, "--data", toy_data, "--out", tmp_path / "x", "--precision", "fp16")
    assert not (tmp_path / "x").exists()
    for command in ("finetune", "distil", "distil-general", "mlm-head"):
        assert "--precision" in CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output, command
