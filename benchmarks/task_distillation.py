"""Task-distillation experiment: a fine-tuned teacher, the distilled student, and its two ablations, over seeds.

Rows (all students have the same depth and the same training budget):
  distilled         student initialised from the teacher's mapped layers, trained on the teacher's soft targets
  labels-only       the same student, trained on gold labels alone (no distillation)
  random-distilled  a randomly initialised student of the same shape, distilled the same way
  distilled-transfer  the distilled row, with the teacher also labelling the `--transfer` texts (same steps with
                    `--distil-args "--max-steps N"`; the teacher's outputs are stored once and reused by every seed)

Each run is a `distilkit distil` subprocess with its own log, skipped when its results.json exists (so a killed
experiment resumes), `--parallel` of them at a time with the cores shared out. The summary gives test accuracy and
macro-F1 as mean ± sd over seeds and the retention student/teacher, in summary.json and summary.md.

    python benchmarks/task_distillation.py --data sentiment-rt --teacher runs/t/model --out runs/exp-sentiment
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

VARIANTS = {
    "distilled": ["--init", "teacher"],
    "labels-only": ["--init", "teacher", "--alpha-kd", "0", "--alpha-ce", "1", "--alpha-hid", "0"],
    "random-distilled": ["--init", "random"],
    "distilled-transfer": ["--init", "teacher"],
}


def run_one(variant: str, seed: int, args: argparse.Namespace, threads: int) -> Path:
    out = args.out / f"{variant}-s{seed}"
    if (out / "results.json").is_file():
        return out
    cmd = [
        sys.executable,
        "-m",
        "distilkit",
        "distil",
        "--teacher",
        str(args.teacher),
        "--data",
        args.data,
        "--out",
        str(out),
        "--student-layers",
        str(args.student_layers),
        "--epochs",
        str(args.epochs),
        "--lr",
        str(args.lr),
        "--max-length",
        str(args.max_length),
        "--seed",
        str(seed),
        "--save-every",
        "50",
        "--resume",
        *args.distil_args.split(),
        *VARIANTS[variant],
    ]
    if variant == "distilled-transfer":
        if not args.transfer:
            raise SystemExit("--variants distilled-transfer: name the texts with --transfer")
        cmd += [opt for source in args.transfer for opt in ("--transfer", source)] + args.transfer_args.split()
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with (out / "run.log").open("a") as log:
        log.write(" ".join(cmd) + "\n")
        log.flush()
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{variant} seed {seed} failed: see {out / 'run.log'}")
    (out / "wall_seconds.txt").write_text(f"{time.perf_counter() - start:.1f}\n")
    return out


def mean_sd(values: list[float]) -> dict:
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "values": values,
    }


METRICS = ("accuracy", "macro_f1", "f1")
"""Test metrics summarised, those a task reports: accuracy and macro-F1 for texts, token accuracy (and entity F1)."""


def summarise(args: argparse.Namespace, seeds: list[int], variants: list[str]) -> dict:
    teacher = json.loads((args.teacher.parent / "results.json").read_text())["metrics"]["test"]
    metrics = [m for m in METRICS if isinstance(teacher.get(m), float)]
    rows = {"teacher": {m: mean_sd([teacher[m]]) for m in metrics}}
    for variant in variants:
        results = [json.loads((args.out / f"{variant}-s{s}" / "results.json").read_text()) for s in seeds]
        rows[variant] = {m: mean_sd([r["metrics"]["test"][m] for r in results]) for m in metrics}
        for m in metrics:
            rows[variant][f"retention_{m}"] = rows[variant][m]["mean"] / rows["teacher"][m]["mean"]
        rows[variant]["train_seconds"] = mean_sd([r["train"]["train_seconds"] for r in results])
        rows[variant]["wall_seconds"] = mean_sd(
            [float((args.out / f"{variant}-s{s}" / "wall_seconds.txt").read_text()) for s in seeds]
        )
        rows[variant]["precision"] = sorted({r["train"].get("precision", "fp32") for r in results})
    return {
        "data": args.data,
        "teacher": str(args.teacher),
        "seeds": seeds,
        "student_layers": args.student_layers,
        "epochs": args.epochs,
        "lr": args.lr,
        "distil_args": args.distil_args,
        "transfer": args.transfer,
        "transfer_args": args.transfer_args,
        "metrics": metrics,
        "rows": rows,
    }


def to_markdown(summary: dict) -> str:
    metrics = summary["metrics"]
    lines = [
        f"Task distillation on {summary['data']} (test split), {summary['student_layers']}-layer students, "
        f"{summary['epochs']} epochs, seeds {summary['seeds']}, distil args `{summary['distil_args']}`",
        "",
        "| model | " + " | ".join(f"{m} (mean ± sd) | retention" for m in metrics) + " | train s | wall s |",
        "|---|" + "---|---|" * len(metrics) + "---|---|",
    ]
    for name, row in summary["rows"].items():
        cells = []
        for m in metrics:
            ret = row.get(f"retention_{m}")
            cells += [f"{row[m]['mean']:.4f} ± {row[m]['sd']:.4f}", f"{ret:.2%}" if ret is not None else "—"]
        for key in ("train_seconds", "wall_seconds"):
            cells.append(f"{row[key]['mean']:.0f}" if key in row else "—")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="dataset name or folder")
    parser.add_argument("--teacher", type=Path, required=True, help="fine-tuned teacher's model folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--student-layers", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--distil-args", default="", help="extra options for every distil run, e.g. '--alpha-hid 1'")
    parser.add_argument("--transfer", action="append", default=[], help="distilled-transfer: a transfer set (repeat)")
    parser.add_argument("--transfer-args", default="", help="distilled-transfer: e.g. '--transfer-max 10000'")
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time; cores are shared among them")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per run (default: cores / parallel)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = args.variants.split(",")
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.parallel)
    jobs = [(v, s) for s in seeds for v in variants]
    with ThreadPoolExecutor(args.parallel) as pool:
        for out in pool.map(lambda job: run_one(job[0], job[1], args, threads), jobs):
            print(f"done: {out}", flush=True)
    summary = summarise(args, seeds, variants)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "summary.md").write_text(to_markdown(summary))
    print(to_markdown(summary))


if __name__ == "__main__":
    main()
