"""Checkpoints: 2N steps in one go == N steps, a crash, a resume, N more — bit for bit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import save_tiny_model, toy_rows, write_csv

from distilkit.core.machine import has_fast_bf16
from distilkit.data.batching import encode_split
from distilkit.data.classification import load_classification
from distilkit.distil.checkpoint import latest_checkpoint
from distilkit.distil.objectives import DistilObjective, DistilWeights, FinetuneObjective
from distilkit.distil.trainer import TrainConfig, train
from distilkit.models.student import build_student
from distilkit.models.teacher import load_classifier


class Crash(Exception):
    pass


def _setup(tmp_path: Path, distil: bool):
    teacher_dir = save_tiny_model(tmp_path / "teacher", layers=4, seed=3)
    write_csv(tmp_path / "data" / "train.csv", toy_rows(30))
    data = load_classification(tmp_path / "data")
    teacher, tokenizer = load_classifier(teacher_dir, data.label_names)
    encoded = encode_split(tokenizer, data.train, teacher.config.label2id, 32)
    if not distil:
        return FinetuneObjective(teacher), encoded, tokenizer
    student, layer_map = build_student(teacher, student_layers=2)
    weights = DistilWeights(alpha_kd=1.0, alpha_ce=0.5, alpha_hid=1.0)  # live teacher + a trained projection path
    return DistilObjective(student, teacher, layer_map, weights), encoded, tokenizer


def _run(tmp_path: Path, out: Path, cfg: TrainConfig, distil: bool, crash_at: int | None = None, resume=False):
    objective, encoded, tokenizer = _setup(tmp_path / out.name, distil)

    def on_step(step: int) -> None:
        if crash_at is not None and step == crash_at:
            raise Crash

    try:
        train(objective, encoded, tokenizer, cfg, out, resume=resume, on_step=on_step, quiet=True)
    except Crash:
        return None
    return {k: v.clone() for k, v in objective.state_dict().items()}


@pytest.mark.parametrize(
    ("distil", "grad_accum", "batch_size"),
    [(False, 1, 4), (True, 2, 4), (False, 2, 7)],  # 30 examples: 8 batches an epoch, or 5 with the last partial
)
def test_resume_after_crash_gives_identical_weights(tmp_path, distil, grad_accum, batch_size):
    # Crash at step 5, save every 2 steps: the resumed run restarts from step 4 and crosses epoch boundaries.
    cfg = TrainConfig(epochs=3, batch_size=batch_size, grad_accum=grad_accum, lr=1e-3, save_every=2, seed=7)
    whole = _run(tmp_path, tmp_path / "whole", cfg, distil)
    assert _run(tmp_path, tmp_path / "broken", cfg, distil, crash_at=5) is None
    assert latest_checkpoint(tmp_path / "broken" / "checkpoints").name == "step-4"
    resumed = _run(tmp_path, tmp_path / "broken", cfg, distil, resume=True)
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key


@pytest.mark.parametrize("distil", [False, True])
def test_bf16_resume_after_crash_gives_identical_weights(tmp_path, distil):
    """bf16 autocast must keep exact resume too: the fp32 master weights, optimizer and RNG state are what is saved,
    and oneDNN's bf16 kernels give the same bits for the same inputs."""
    if not has_fast_bf16():
        pytest.skip("this CPU has neither AVX-512 BF16 nor AMX BF16: bf16 would be emulated, so it is never used")
    cfg = TrainConfig(epochs=3, batch_size=4, grad_accum=2, lr=1e-3, save_every=2, seed=7, precision="bf16")
    whole = _run(tmp_path, tmp_path / "whole", cfg, distil)
    fp32 = _run(tmp_path, tmp_path / "fp32", TrainConfig(**{**cfg.__dict__, "precision": "fp32"}), distil)
    assert any(not torch.equal(whole[k], fp32[k]) for k in whole), "bf16 autocast was not in effect"
    assert _run(tmp_path, tmp_path / "broken", cfg, distil, crash_at=5) is None
    resumed = _run(tmp_path, tmp_path / "broken", cfg, distil, resume=True)
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert whole[key].dtype == torch.float32, key  # autocast leaves the weights fp32
        assert torch.equal(whole[key], resumed[key]), key


def test_training_changes_weights_and_differs_by_seed(tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=4, lr=1e-3)
    a = _run(tmp_path, tmp_path / "a", cfg, distil=False)
    b = _run(tmp_path, tmp_path / "b", TrainConfig(epochs=1, batch_size=4, lr=1e-3, seed=1), distil=False)
    objective, _, _ = _setup(tmp_path / "fresh", distil=False)
    start = objective.state_dict()
    key = "model.bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(a[key], start[key])
    assert not torch.equal(a[key], b[key])


def test_half_written_checkpoint_is_ignored(tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=4, lr=1e-3, save_every=2)
    _run(tmp_path, tmp_path / "run", cfg, distil=False, crash_at=3)
    root = tmp_path / "run" / "checkpoints"
    # A crash while writing step 4 leaves only a temporary folder: `latest` still names the complete step 2.
    (root / ".tmp-step-4").mkdir()
    (root / ".tmp-step-4" / "trainable.safetensors").write_bytes(b"partial")
    assert latest_checkpoint(root).name == "step-2"
    assert sorted(p.name for p in root.glob("step-*")) == ["step-2"]
