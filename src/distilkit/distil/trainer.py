"""The one training loop: fine-tuning and distillation differ only in the objective they hand it.

Built on Accelerate so the same code runs in one process or under `accelerate launch` / `torchrun` (DDP). It owns
what every run needs: AdamW with warm-up and linear decay, gradient accumulation, clipping, seeds, a progress bar
(plain lines from `core.progress` when stdout is not a terminal), JSON-lines, CSV and TensorBoard logs, atomic
checkpoints with exact resume (same batches, optimizer, scheduler and RNG state), and a wall-time budget that ends a
long run cleanly with a checkpoint.

Forward passes run at `TrainConfig.precision`: "fp32", or "bf16" under `torch.autocast("cpu", torch.bfloat16)`
(weights, gradients and optimizer state stay fp32: only matrix products and the activations between them are bf16).
"auto" (the default) is bf16 on a CPU that multiplies bf16 natively (AVX-512 BF16 or AMX BF16, `core.machine`) and
fp32 elsewhere, where PyTorch would emulate bf16 more slowly than fp32; `$DISTILKIT_PRECISION` (fp32 or bf16) says
what "auto" means on a machine, e.g. to pin a series of runs to fp32. With bf16 a step ran 2.4x (all-MiniLM-L6-v2)
and 3.3x (all-mpnet-base-v2) faster and the accuracy after a full run did not move beyond seed noise (README,
"Training precision"). Resume stays exact under bf16 (tests/distil/test_resume.py); what bf16 gives up is that 2
processes x 4 examples and 1 x 8 match to fp32 noise (tests/process/test_ddp.py runs at fp32). The precision actually
used goes to results.json (the summary's "precision").

Under N processes each global batch of N × batch_size examples is drawn as one batch and split between the processes
(Accelerate's `split_batches`): the run then sees the same batches, in the same order, as one process with
N × batch_size, so a result does not depend on how many processes produced it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import DataLoaderConfiguration, DistributedDataParallelKwargs, set_seed
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import nn
from transformers import get_linear_schedule_with_warmup

from distilkit.core.errors import DistilkitError, require_finite
from distilkit.core.machine import has_fast_bf16
from distilkit.core.progress import ProgressLog
from distilkit.core.run_folder import require_same_settings
from distilkit.data.batching import TrainData, make_loader
from distilkit.distil.checkpoint import Progress as RunProgress
from distilkit.distil.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint, saved_config
from distilkit.distil.run_log import RunLog


@dataclass
class TrainConfig:
    """Optimisation settings shared by `finetune` and `distil`."""

    epochs: int = 1
    max_steps: int = 0  # optimizer steps; > 0 overrides epochs
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    seed: int = 0
    save_every: int = 0  # optimizer steps between checkpoints; 0: only the final state
    freeze_embeddings: bool = False
    adam_eps: float = 1e-8  # torch's default; a large value turns AdamW into momentum SGD (the DDP test uses that)
    max_minutes: float = 0.0  # wall-time budget of this invocation; 0: none. Ends with a checkpoint, resumable.
    precision: str = "auto"  # auto | bf16 | fp32: the precision of forward passes (see `resolve_precision`)

    def __post_init__(self) -> None:
        require_finite(self, "lr", "weight_decay", "warmup_ratio", "max_grad_norm", "adam_eps", "max_minutes")
        if self.precision not in PRECISIONS:
            raise DistilkitError(f"precision: expected one of {', '.join(PRECISIONS)}, got {self.precision!r}")


PRECISIONS = ("auto", "bf16", "fp32")


PRECISION_ENV = "DISTILKIT_PRECISION"
"""Environment variable that fixes what "auto" resolves to (fp32 or bf16), whatever the CPU."""


def resolve_precision(precision: str) -> str:
    """The precision a run uses: "bf16" or "fp32" as asked; "auto" is `$DISTILKIT_PRECISION` if set, else bf16 where
    `core.machine.has_fast_bf16` and fp32 elsewhere (bf16 asked on a CPU without it is emulated: slower, still
    correct)."""
    if precision not in PRECISIONS:
        raise DistilkitError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    pinned = os.environ.get(PRECISION_ENV, "")
    if pinned:
        if pinned not in ("bf16", "fp32"):
            raise DistilkitError(f"${PRECISION_ENV}: expected bf16 or fp32, got {pinned!r}")
        return pinned
    return "bf16" if has_fast_bf16() else "fp32"


def autocast(precision: str) -> AbstractContextManager:
    """The context a forward pass runs in at `precision` (resolved or "auto"): bf16 autocast on the CPU, or nothing."""
    if resolve_precision(precision) == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


PER_INVOCATION = ("max_minutes",)
"""TrainConfig fields a resumed run may change: they bound this sitting, not what is trained."""


def _check_resumed_config(checkpoint: Path, cfg: TrainConfig) -> None:
    """Refuse to resume with settings other than the run's own: the schedule, batches and RNG streams of the
    checkpoint belong to them, and silently mixing them would train something nobody asked for."""
    saved = saved_config(checkpoint)
    if saved is not None:
        require_same_settings(checkpoint, saved, asdict(cfg), PER_INVOCATION)


class Objective(nn.Module):
    """What a training step minimises. `model` is the network being trained (saved at the end); any other
    submodule (e.g. a projection for a hidden-state loss) is trained with it and checkpointed, but not exported."""

    model: nn.Module
    # True when some trainable parameters may get no gradient in a step (e.g. only last-layer attention relations
    # are distilled): DDP must then look for them each step, which costs time, so it is only turned on when needed.
    leaves_parameters_unused: bool = False

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError


def _optimizer(module: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW without weight decay on biases and LayerNorms (the BERT convention); fused where supported (4x faster
    optimizer step on CPU, measured in perf-notes)."""
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        return torch.optim.AdamW(groups, lr=cfg.lr, eps=cfg.adam_eps, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=cfg.lr, eps=cfg.adam_eps)


def _cpu_processes() -> bool:
    """True when launched as several processes (torchrun, accelerate launch) on a machine without CUDA.

    Accelerate turns to CPU processes talking over gloo only when told to (`cpu=True`); otherwise, under torchrun on a
    CPU machine, it silently runs N independent single-process trainings.
    """
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def process_state() -> PartialState:
    """The process group this run belongs to; anything that asks before `train` starts must ask here, because the
    first caller fixes Accelerate's state for the whole process."""
    return PartialState(cpu=_cpu_processes())


def _all_agree(accelerator: Accelerator, flag: bool) -> bool:
    """True on every process as soon as it is true on any: clocks differ, and all must stop at the same step."""
    if accelerator.num_processes == 1:
        return flag
    return bool(accelerator.reduce(torch.tensor([float(flag)]), reduction="sum").item() > 0)


def _stop_if_diverged(accelerator: Accelerator, what: str, value: torch.Tensor, step: int, ckpt_root: Path) -> None:
    """A loss or gradient norm that is no longer finite ends the run before the optimizer takes the step, so the last
    checkpoint stays the last finite state, and the error names the step instead of a NaN model being saved."""
    if _all_agree(accelerator, not bool(torch.isfinite(value.detach()).all())):
        last = ckpt_root / "latest"
        kept = "no checkpoint was written"
        if last.is_file():
            kept = f"the last finite checkpoint is {ckpt_root / last.read_text().strip()}"
        raise DistilkitError(
            f"step {step}: the {what} is {float(value.detach()):g}, the run diverged; {kept} "
            "(a lower --lr usually helps)"
        )


def _mean_over_processes(accelerator: Accelerator, logs: dict[str, float]) -> dict[str, float]:
    """Each process only sees its share of the batch: log the mean over processes, not the main process's share."""
    if accelerator.num_processes == 1 or not logs:
        return logs
    values = accelerator.reduce(torch.tensor(list(logs.values()), dtype=torch.float64), reduction="mean")
    return dict(zip(logs, values.tolist(), strict=True))


def train(
    objective: Objective,
    data: TrainData,
    tokenizer,
    cfg: TrainConfig,
    out_dir: Path,
    resume: bool = False,
    on_step: Callable[[int], None] | None = None,
    quiet: bool = False,
) -> dict:
    """Train `objective.model` on `data`; checkpoints go to `out_dir/checkpoints`. Returns a summary dict.

    `on_step(step)` is called after every optimizer step (after any checkpoint of that step): tests use it to
    simulate a crash at a chosen step.
    """
    ddp = DistributedDataParallelKwargs(find_unused_parameters=objective.leaves_parameters_unused)
    accelerator = Accelerator(
        cpu=_cpu_processes(),
        gradient_accumulation_steps=cfg.grad_accum,
        dataloader_config=DataLoaderConfiguration(split_batches=True),
        kwargs_handlers=[ddp],
    )
    set_seed(cfg.seed)
    precision = resolve_precision(cfg.precision)
    if cfg.freeze_embeddings:
        objective.model.get_input_embeddings().weight.requires_grad_(False)
    global_batch = cfg.batch_size * accelerator.num_processes
    loader = make_loader(data, tokenizer, global_batch, seed=cfg.seed, shuffle=True)
    sampler = loader.batch_sampler
    steps_per_epoch = math.ceil(len(loader) / cfg.grad_accum)
    total_steps = cfg.max_steps if cfg.max_steps > 0 else steps_per_epoch * cfg.epochs
    optimizer = _optimizer(objective, cfg)
    # The scheduler is stepped by hand once per optimizer step: Accelerate's wrapper would step it once per process.
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    objective, optimizer, loader = accelerator.prepare(objective, optimizer, loader)

    ckpt_root = out_dir / "checkpoints"
    progress = RunProgress()
    if resume and (ckpt := latest_checkpoint(ckpt_root)) is not None:
        _check_resumed_config(ckpt, cfg)
        progress = load_checkpoint(ckpt, accelerator.unwrap_model(objective), optimizer, scheduler)
        accelerator.print(f"resuming from {ckpt} (step {progress.step})")

    out_dir.mkdir(parents=True, exist_ok=True)
    log = RunLog(out_dir, after_step=progress.step) if accelerator.is_main_process else None
    # Off a terminal the bar draws nothing until the end: plain lines at a steady interval take its place.
    lines = ProgressLog("train", total_steps, start=progress.step, enabled=not quiet and accelerator.is_main_process)
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.2f} step/s  {task.fields[tokens]:.0f} tok/s  {task.fields[losses]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=quiet or not accelerator.is_main_process or lines.active,
    )
    start, seen_tokens, last_loss = time.perf_counter(), 0, float("nan")
    budget_hit = False
    objective.train()
    with bar:
        task = bar.add_task("train", total=total_steps, completed=progress.step, rate=0.0, tokens=0.0, losses="")
        step_logs: dict[str, float] = {}
        while progress.step < total_steps and not budget_hit:
            sampler.set_epoch(progress.epoch)
            data.set_epoch(progress.epoch)
            # Accumulation phase restarts each epoch, so a resumed run syncs on the same batches as an unbroken one.
            accelerator.step = progress.batches_in_epoch
            for batch in accelerator.skip_first_batches(loader, progress.batches_in_epoch):
                progress.batches_in_epoch += 1
                with accelerator.accumulate(objective):
                    with autocast(precision):  # the forward only: autograd runs each op's backward in its dtype
                        loss, logs = objective(batch)
                    _stop_if_diverged(accelerator, "loss", loss, progress.step + 1, ckpt_root)
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                        norm = accelerator.clip_grad_norm_(objective.parameters(), cfg.max_grad_norm)
                        _stop_if_diverged(accelerator, "gradient norm", norm, progress.step + 1, ckpt_root)
                    optimizer.step()
                    optimizer.zero_grad()
                for k, v in logs.items():
                    step_logs[k] = step_logs.get(k, 0.0) + v / cfg.grad_accum
                seen_tokens += int(batch["attention_mask"].sum()) * accelerator.num_processes
                if not accelerator.sync_gradients:
                    continue
                scheduler.step()
                progress.step += 1
                if progress.batches_in_epoch == len(loader):  # the epoch is done: a checkpoint here resumes at the next
                    progress.epoch, progress.batches_in_epoch = progress.epoch + 1, 0
                step_logs = _mean_over_processes(accelerator, step_logs)
                last_loss = step_logs.get("loss", float("nan"))
                elapsed = max(time.perf_counter() - start, 1e-9)
                losses = "  ".join(f"{k} {v:.4f}" for k, v in step_logs.items())
                bar.update(
                    task,
                    completed=progress.step,
                    rate=progress.step / elapsed,
                    tokens=seen_tokens / elapsed,
                    losses=losses,
                )
                lines.update(progress.step, losses=step_logs, tokens=seen_tokens)
                if log is not None:
                    log.write(
                        {
                            "step": progress.step,
                            "epoch": progress.epoch,
                            "lr": scheduler.get_last_lr()[0],
                            "tokens_per_second": seen_tokens / elapsed,
                            **step_logs,
                        }
                    )
                step_logs = {}
                budget_hit = cfg.max_minutes > 0 and _all_agree(accelerator, elapsed >= cfg.max_minutes * 60)
                if (
                    progress.step == total_steps
                    or budget_hit
                    or (cfg.save_every and progress.step % cfg.save_every == 0)
                ):
                    accelerator.wait_for_everyone()
                    if accelerator.is_main_process:
                        model = accelerator.unwrap_model(objective)
                        save_checkpoint(ckpt_root, model, optimizer, scheduler, progress, asdict(cfg))
                if on_step is not None:
                    on_step(progress.step)
                if progress.step >= total_steps or budget_hit:
                    break
    lines.finish()
    if log is not None:
        log.close()
    elapsed = time.perf_counter() - start
    summary = {
        "steps": progress.step,
        "train_seconds": round(elapsed, 2),
        "tokens_per_second": round(seen_tokens / max(elapsed, 1e-9), 1),
        "final_loss": last_loss,
        "stopped_by_time_budget": budget_hit and progress.step < total_steps,
        "precision": precision,
        "config": asdict(cfg),
    }
    objective.eval()
    return summary
