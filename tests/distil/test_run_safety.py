"""Nothing lost: a diverged run stops at the step it diverged, resumes refuse other settings, checkpoints and logs of
one run never clobber another's (issue: poison inputs, reused output folders, diverged runs)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import save_tiny_model, toy_rows, write_csv

from distilkit.core.errors import DistilkitError
from distilkit.data.batching import encode_split
from distilkit.data.classification import load_classification
from distilkit.distil.checkpoint import Progress, latest_checkpoint, save_checkpoint
from distilkit.distil.objectives import FinetuneObjective
from distilkit.distil.trainer import TrainConfig, train
from distilkit.models.teacher import load_classifier


class Crash(Exception):
    pass


class NanAt(FinetuneObjective):
    """Fine-tuning whose loss turns NaN from the `at`-th forward pass on (a diverging run)."""

    def __init__(self, model, at: int):
        super().__init__(model)
        self.calls, self.at = 0, at

    def forward(self, batch):
        self.calls += 1
        loss, logs = super().forward(batch)
        return (loss * math.nan if self.calls >= self.at else loss), logs


def _setup(tmp_path):
    folder = save_tiny_model(tmp_path / "teacher", layers=2, seed=3)
    write_csv(tmp_path / "data" / "train.csv", toy_rows(30))
    data = load_classification(tmp_path / "data")
    model, tokenizer = load_classifier(folder, data.label_names)
    return model, tokenizer, encode_split(tokenizer, data.train, model.config.label2id, 32)


def test_a_non_finite_loss_stops_the_run_at_its_step_and_keeps_the_last_finite_checkpoint(tmp_path):
    model, tokenizer, data = _setup(tmp_path)
    cfg = TrainConfig(epochs=2, batch_size=4, lr=1e-3, save_every=2)
    with pytest.raises(DistilkitError, match=r"step 3: the loss is nan, the run diverged; the last finite checkpoint"):
        train(NanAt(model, at=3), data, tokenizer, cfg, tmp_path / "run", quiet=True)
    root = tmp_path / "run" / "checkpoints"
    assert latest_checkpoint(root).name == "step-2"
    assert sorted(p.name for p in root.glob("step-*")) == ["step-2"]


def test_non_finite_settings_are_refused():
    for field in ("lr", "weight_decay", "max_grad_norm"):
        with pytest.raises(DistilkitError, match=f"{field}: expected a finite number, got inf"):
            TrainConfig(**{field: math.inf})


def test_resume_refuses_other_training_settings_than_the_checkpoint_was_written_with(tmp_path):
    model, tokenizer, data = _setup(tmp_path)
    cfg = TrainConfig(epochs=1, batch_size=4, lr=1e-3, save_every=2)

    def crash(step: int) -> None:
        if step == 3:
            raise Crash

    with pytest.raises(Crash):
        train(FinetuneObjective(model), data, tokenizer, cfg, tmp_path / "run", on_step=crash, quiet=True)
    changed = TrainConfig(epochs=1, batch_size=8, lr=1e-2, save_every=2)
    with pytest.raises(DistilkitError, match=r"differ from the run's \(batch_size 4 → 8, lr 0.001 → 0.01\)"):
        train(FinetuneObjective(model), data, tokenizer, changed, tmp_path / "run", resume=True, quiet=True)
    longer_sitting = TrainConfig(epochs=1, batch_size=4, lr=1e-3, save_every=2, max_minutes=5)  # may change
    train(FinetuneObjective(model), data, tokenizer, longer_sitting, tmp_path / "run", resume=True, quiet=True)


def test_a_resumed_log_holds_every_step_once(tmp_path):
    model, tokenizer, data = _setup(tmp_path)
    cfg = TrainConfig(epochs=1, batch_size=4, lr=1e-3, save_every=2)  # 8 steps

    def crash(step: int) -> None:
        if step == 5:
            raise Crash

    out = tmp_path / "run"
    with pytest.raises(Crash):
        train(FinetuneObjective(model), data, tokenizer, cfg, out, on_step=crash, quiet=True)
    train(FinetuneObjective(model), data, tokenizer, cfg, out, resume=True, quiet=True)
    steps = [json.loads(line)["step"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))
    csv_steps = [int(line.split(",")[0]) for line in (out / "train_log.csv").read_text().splitlines()[1:]]
    assert csv_steps == list(range(1, 9))


def test_a_dangling_latest_is_an_error_not_a_silent_restart(tmp_path):
    model, tokenizer, data = _setup(tmp_path)
    root = tmp_path / "run" / "checkpoints"
    root.mkdir(parents=True)
    (root / "latest").write_text("step-8")
    with pytest.raises(DistilkitError, match=r"latest: names checkpoint 'step-8', which is missing or incomplete"):
        train(FinetuneObjective(model), data, tokenizer, TrainConfig(), tmp_path / "run", resume=True, quiet=True)


def test_pruning_never_deletes_the_checkpoint_just_written(tmp_path):
    """Stale higher steps of an earlier, longer run used to outrank the new checkpoint and get it deleted."""
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    root = tmp_path / "checkpoints"
    for step in (10, 12):
        save_checkpoint(root, model, optimizer, scheduler, Progress(step=step))
    for step in (2, 4, 6):
        written = save_checkpoint(root, model, optimizer, scheduler, Progress(step=step))
        assert written.is_dir() and latest_checkpoint(root) == written
    assert sorted(p.name for p in root.glob("step-*")) == ["step-4", "step-6"]
