"""Where a step of general distillation spends its time: the real training loop (`distil.trainer.train`) on the real
corpus, a few steps under torch.profiler, with the teacher's and the student's encoders and masked-LM heads labelled.

Prints tokens per second (from the unprofiled steps) and a table of phases, each as CPU time per step and share of the
step: data (masking and padding), teacher encoder, student encoder, both MLM heads, the losses and the rest of the
forward, backward, optimizer (AdamW, fused) and what is left (gradient clipping, scheduler, logging). The 20 costliest
operators go to OUT/ops.txt, a Chrome trace to OUT/trace.json.

    python benchmarks/general_profile.py --teacher runs/head/model --corpus ../shared/data/corpus --out runs/profile
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from distilkit.distil.general_objective import GeneralWeights
from distilkit.distil.trainer import TrainConfig, train
from distilkit.models.heads import head_of
from distilkit.recipes.general import prepare_general

DATA = "enumerate(DataLoader)"  # torch's own label of the loader's __next__
OPTIMIZER = ("Optimizer.step", "Optimizer.zero_grad")
BACKWARD = "autograd::engine::evaluate_function"


def label(module: nn.Module, name: str) -> None:
    """Mark every forward of `module` as a profiler range called `name`."""
    ranges: list[record_function] = []

    def enter(*_):
        ranges.append(record_function(name))
        ranges[-1].__enter__()

    def leave(*_):
        ranges.pop().__exit__(None, None, None)

    module.register_forward_pre_hook(enter)
    module.register_forward_hook(leave)


def phases(prof: profile, steps: int) -> dict[str, float]:
    """CPU milliseconds per step of each phase, from the profiler's totals (ranges nest, so each label's total holds
    the operators it ran; backward nodes and optimizer calls do not nest in each other)."""
    totals: dict[str, float] = {}
    for event in prof.key_averages():
        key, ms = event.key, event.cpu_time_total / 1000
        if key.startswith(DATA):
            totals["data"] = totals.get("data", 0.0) + ms
        elif key.startswith(BACKWARD):
            totals["backward"] = totals.get("backward", 0.0) + ms
        elif key.startswith(OPTIMIZER):
            totals["optimizer"] = totals.get("optimizer", 0.0) + ms
        elif key in ("teacher encoder", "student encoder", "teacher head", "student head", "objective"):
            totals[key] = ms
    forward = totals.pop("objective", 0.0)
    named = sum(totals.get(k, 0.0) for k in ("teacher encoder", "student encoder", "teacher head", "student head"))
    totals["losses + rest of forward"] = forward - named
    return {k: v / steps for k, v in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True, help="masked-LM teacher (e.g. the output of distilkit mlm-head)")
    parser.add_argument("--corpus", nargs="+", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--student-layers", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup-steps", type=int, default=10)
    parser.add_argument("--timed-steps", type=int, default=40, help="unprofiled steps for tokens/s")
    parser.add_argument("--profiled-steps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--no-head", action="store_true", help="the head-less recipe: cos 1, hid 1, rel 1")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    weights = (
        GeneralWeights(alpha_kd=0, alpha_mlm=0, alpha_cos=1, alpha_hid=1, alpha_rel=1)
        if args.no_head
        else GeneralWeights()
    )
    setup = prepare_general(args.teacher, args.corpus, weights, student_layers=args.student_layers)
    objective = setup.objective
    label(objective, "objective")
    label(objective.teacher.base_model, "teacher encoder")
    label(objective.model.base_model, "student encoder")
    if weights.uses_head:
        label(head_of(objective.teacher), "teacher head")
        label(head_of(objective.model), "student head")

    batch_tokens: list[int] = []  # real tokens of each step's batch (one batch a step: no accumulation)
    objective.register_forward_pre_hook(lambda _m, inputs: batch_tokens.append(int(inputs[0]["attention_mask"].sum())))
    warm, timed, profiled = max(1, args.warmup_steps), args.timed_steps, args.profiled_steps
    total = warm + timed + profiled
    marks: dict[int, float] = {}
    prof = profile(activities=[ProfilerActivity.CPU])

    def on_step(step: int) -> None:
        marks[step] = time.perf_counter()
        if step == warm + timed:
            prof.start()
        if step == total:
            prof.stop()

    cfg = TrainConfig(max_steps=total, batch_size=args.batch_size, lr=5e-4, seed=0)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = train(objective, setup.data, setup.tokenizer, cfg, args.out / "run", on_step=on_step, quiet=True)
    timed_tokens = sum(batch_tokens[warm : warm + timed])  # steps warm+1 .. warm+timed
    timed_seconds = marks[warm + timed] - marks[warm]
    per_step = phases(prof, profiled)
    step_ms = 1000 * (marks[total] - marks[warm + timed]) / profiled
    per_step["other (clipping, scheduler, logs, profiler)"] = step_ms - sum(per_step.values())

    result = {
        "teacher": args.teacher,
        "weights": vars(weights),
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "tokens_per_second": timed_tokens / timed_seconds,
        "seconds_per_step": timed_seconds / timed,
        "profiled_step_ms": step_ms,
        "phases_ms_per_step": per_step,
        "train_summary": summary,
    }
    (args.out / "profile.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "ops.txt").write_text(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
    prof.export_chrome_trace(str(args.out / "trace.json"))
    print(
        f"{result['tokens_per_second']:.0f} tokens/s, {result['seconds_per_step']:.2f} s/step "
        f"({torch.get_num_threads()} threads, batch {args.batch_size})"
    )
    print("| phase | ms/step | share |\n|---|---|---|")
    for name, ms in sorted(per_step.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {ms:.0f} | {ms / step_ms:.1%} |")


if __name__ == "__main__":
    main()
