"""Atomic training checkpoints that let a killed run continue exactly where it was.

A checkpoint is a folder `checkpoints/step-<N>` holding the trainable weights (safetensors), the optimizer state, and
`state.pt` (step, epoch, batches done in that epoch, scheduler and RNG states). It is written under a temporary name
and renamed into place, and the file `checkpoints/latest` (itself replaced atomically) names the newest complete one,
so a run killed mid-write leaves the previous checkpoint intact and never a half-written one that looks complete.
Everything is loaded with `torch.load(weights_only=True)`: no pickle code runs on resume.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from distilkit.core.atomic import new_folder, write_json, write_text
from distilkit.core.errors import DistilkitError

KEEP = 2  # checkpoints kept on disk; older ones are deleted once a newer one is complete
CONFIG_FILE = "train_config.json"


@dataclass
class Progress:
    """Where training stands: optimizer steps done, current epoch, batches of that epoch already consumed."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0


def save_checkpoint(
    root: Path,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    progress: Progress,
    config: dict | None = None,
) -> Path:
    """Write checkpoint `step-<N>` under `root` atomically and point `latest` at it.

    `config` (the run's `TrainConfig` as a dict) is stored beside the weights, so a resume can refuse settings that
    differ from the ones the run started with. Pruning keeps this checkpoint and the KEEP - 1 before it; anything
    else under `root` (an earlier, longer run's higher steps included) is removed only after `latest` names this one.
    """
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{progress.step}"
    with new_folder(final) as tmp:
        state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
        save_file(_untie(state), tmp / "trainable.safetensors")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(
            {
                "progress": asdict(progress),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "python_rng": random.getstate(),
            },
            tmp / "state.pt",
        )
        if config is not None:
            write_json(tmp / CONFIG_FILE, config)
    write_text(root / "latest", final.name)
    earlier = [p for p in root.glob("step-*") if _step(p) < progress.step]
    kept = {final, *sorted(earlier, key=_step)[len(earlier) - (KEEP - 1) :]}
    for old in root.glob("step-*"):
        if old not in kept:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _step(path: Path) -> int:
    try:
        return int(path.name.split("-")[1])
    except (IndexError, ValueError):
        return -1


def saved_config(path: Path) -> dict | None:
    """The `TrainConfig` a checkpoint was written with (None for checkpoints older than this record)."""
    file = path / CONFIG_FILE
    return json.loads(file.read_text()) if file.is_file() else None


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint under `root`, or None when there is none.

    A `latest` naming a folder that is gone or incomplete is an error, not a silent restart from step 0: the steps
    it stood for would be lost without a word.
    """
    pointer = root / "latest"
    if not pointer.is_file():
        return None
    name = pointer.read_text().strip()
    path = root / name
    if not (path / "state.pt").is_file():
        raise DistilkitError(
            f"{pointer}: names checkpoint {name!r}, which is missing or incomplete; "
            "restore it, or start again with --overwrite"
        )
    return path


def load_checkpoint(
    path: Path,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> Progress:
    """Restore weights, optimizer, scheduler and RNG states; return where training stood."""
    module.load_state_dict(load_file(path / "trainable.safetensors"), strict=True)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    state = torch.load(path / "state.pt", weights_only=True)
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    version, internal, gauss = state["python_rng"]
    random.setstate((version, tuple(internal), gauss))
    return Progress(**state["progress"])


def _untie(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """safetensors refuses tensors sharing memory (tied embeddings); store a copy of each later alias."""
    seen: set[int] = set()
    out = {}
    for k, v in state.items():
        ptr = v.untyped_storage().data_ptr()
        out[k] = v.clone() if ptr in seen else v
        seen.add(ptr)
    return out
