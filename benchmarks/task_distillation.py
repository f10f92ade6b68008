"""Task-distillation experiment: a fine-tuned teacher, the distilled student, and its two ablations, over seeds.

Rows (all students have the same depth and the same training budget):
  distilled         student initialised from the teacher's mapped layers, trained on the teacher's soft targets
  labels-only       the same student, trained on gold labels alone (no distillation)
  random-distilled  a randomly initialised student of the same shape, distilled the same way

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


def summarise(args: argparse.Namespace, seeds: list[int]) -> dict:
    teacher = json.loads((args.teacher.parent / "results.json").read_text())["metrics"]["test"]
    rows = {"teacher": {"accuracy": mean_sd([teacher["accuracy"]]), "macro_f1": mean_sd([teacher["macro_f1"]])}}
    for variant in VARIANTS:
        results = [json.loads((args.out / f"{variant}-s{s}" / "results.json").read_text()) for s in seeds]
        rows[variant] = {
            metric: mean_sd([r["metrics"]["test"][metric] for r in results]) for metric in ("accuracy", "macro_f1")
        }
        rows[variant]["train_seconds"] = mean_sd([r["train"]["train_seconds"] for r in results])
        for metric in ("accuracy", "macro_f1"):
            rows[variant][f"retention_{metric}"] = rows[variant][metric]["mean"] / rows["teacher"][metric]["mean"]
    return {
        "data": args.data,
        "teacher": str(args.teacher),
        "seeds": seeds,
        "student_layers": args.student_layers,
        "epochs": args.epochs,
        "lr": args.lr,
        "distil_args": args.distil_args,
        "rows": rows,
    }


def to_markdown(summary: dict) -> str:
    lines = [
        f"Task distillation on {summary['data']} (test split), {summary['student_layers']}-layer students, "
        f"{summary['epochs']} epochs, seeds {summary['seeds']}, distil args `{summary['distil_args']}`",
        "",
        "| model | accuracy (mean ± sd) | macro-F1 (mean ± sd) | retention acc | retention F1 | train s |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in summary["rows"].items():
        acc, f1 = row["accuracy"], row["macro_f1"]
        ret_a = f"{row['retention_accuracy']:.2%}" if "retention_accuracy" in row else "—"
        ret_f = f"{row['retention_macro_f1']:.2%}" if "retention_macro_f1" in row else "—"
        secs = f"{row['train_seconds']['mean']:.0f}" if "train_seconds" in row else "—"
        lines.append(
            f"| {name} | {acc['mean']:.4f} ± {acc['sd']:.4f} | {f1['mean']:.4f} ± {f1['sd']:.4f} | {ret_a} | {ret_f} "
            f"| {secs} |"
        )
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
    if set(variants) == set(VARIANTS):
        summary = summarise(args, seeds)
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        (args.out / "summary.md").write_text(to_markdown(summary))
        print(to_markdown(summary))


if __name__ == "__main__":
    main()
