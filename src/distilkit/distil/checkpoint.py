"""Atomic training checkpoints that let a killed run continue exactly where it was.

A checkpoint is a folder `checkpoints/step-<N>` holding the trainable weights (safetensors), the optimizer state, and
`state.pt` (step, epoch, batches done in that epoch, scheduler and RNG states). It is written under a temporary name
and renamed into place, and the file `checkpoints/latest` (itself replaced atomically) names the newest complete one,
so a run killed mid-write leaves the previous checkpoint intact and never a half-written one that looks complete.
Everything is loaded with `torch.load(weights_only=True)`: no pickle code runs on resume.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from distilkit.core.atomic import new_folder, write_text

KEEP = 2  # checkpoints kept on disk; older ones are deleted once a newer one is complete


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
) -> Path:
    """Write checkpoint `step-<N>` under `root` atomically and point `latest` at it."""
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
    write_text(root / "latest", final.name)
    for old in sorted(root.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint under `root`, or None."""
    pointer = root / "latest"
    if not pointer.is_file():
        return None
    path = root / pointer.read_text().strip()
    return path if (path / "state.pt").is_file() else None


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
