"""General-distillation protocol (DistilBERT's Tables 1 and 4) on the real teacher: distil 3-layer students on raw text,
fine-tune every model on each task with one recipe, and tabulate test scores and their retention.

Rows:
  teacher           the teacher itself, fine-tuned (all-MiniLM-L6-v2: 6 layers)
  teacher-init      a 3-layer cut of the teacher (its layers [0, 3, 5]), fine-tuned with no general distillation
  general           teacher-init student distilled on the corpus with the triple loss (ce 5, mlm 2, cos 1)
  random-init       the same recipe from a randomly initialised student
  no-ce / no-mlm / no-cos   the general recipe with one loss removed
  no-head           the teacher without an MLM head: cos 1 + hidden MSE 1 + MiniLM-v2 relations 1 (way (b))

The triple-loss rows distil from the teacher with the MLM head `distilkit mlm-head` trains (way (a)). Every general
row gets the same number of optimizer steps (`--steps`), so rows differ in their losses only, not in their budget.
Every run is a `distilkit` subprocess with its own log under OUT, skipped when its results.json exists; a killed run
continues from its checkpoints (`--resume`), so the protocol can be spread over several sittings. The command below
made the README's "General distillation" table; its costs on the 2-core machine are stated there.

    python benchmarks/general_distillation.py --corpus ../shared/data/corpus --out runs/general-table \\
        --steps 800 --head-steps 600 --tasks sentiment-rt,topics-bbc --seeds 0,1,2 --finetune-epochs 1 \\
        --max-length 64 --parallel 2
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

GENERAL_ROWS = {
    "general": [],
    "random-init": ["--init", "random"],
    "no-ce": ["--alpha-kd", "0"],
    "no-mlm": ["--alpha-mlm", "0"],
    "no-cos": ["--alpha-cos", "0"],
    "no-head": ["--alpha-kd", "0", "--alpha-mlm", "0", "--alpha-cos", "1", "--alpha-hid", "1", "--alpha-rel", "1"],
}
TOKEN_TASKS = {"pos-oanc": "accuracy", "ner-bbc-silver": "f1"}  # headline metric of each token task


def run(cmd: list[str], out: Path, threads: int) -> Path:
    """Run one distilkit command into `out` (its log: out/run.log) unless out/results.json already exists."""
    if (out / "results.json").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    full = [sys.executable, "-m", "distilkit", *cmd, "--out", str(out)]
    start = time.perf_counter()
    with (out / "run.log").open("a") as log:
        log.write(" ".join(full) + "\n")
        log.flush()
        done = subprocess.run(
            full, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": str(threads)}
        )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:1])} into {out} failed: see {out / 'run.log'}")
    with (out / "wall_seconds.txt").open("a") as f:
        f.write(f"{time.perf_counter() - start:.1f}\n")
    return out


def teacher_cut(teacher: str, layers: int, out: Path) -> Path:
    """The teacher-init row's model: the student `distil-general` would start from, saved before any training."""
    from distilkit.core.atomic import save_model, write_json
    from distilkit.models.student import build_student
    from distilkit.models.teacher import load_masked_lm

    if (out / "results.json").is_file():
        return out / "model"
    model, tokenizer, _ = load_masked_lm(teacher)
    student, layer_map = build_student(model, None, layers, "teacher")
    save_model(student, tokenizer, out / "model")
    write_json(out / "results.json", {"model": str(out / "model"), "teacher": teacher, "layer_map": layer_map})
    return out / "model"


def general_cmd(row: str, args: argparse.Namespace, head_teacher: str) -> list[str]:
    teacher = args.teacher if row == "no-head" else head_teacher
    cmd = ["distil-general", "--teacher", teacher, "--corpus", *args.corpus, "--student-layers", str(args.layers)]
    cmd += ["--max-steps", str(args.steps), "--save-every", "100", "--seed", "0", "--resume", *GENERAL_ROWS[row]]
    return cmd


def finetune_cmd(model: str, task: str, seed: int, args: argparse.Namespace) -> list[str]:
    cmd = ["finetune", "--model", model, "--data", task, "--epochs", str(args.finetune_epochs), "--lr", str(args.lr)]
    cmd += ["--max-length", str(args.max_length), "--seed", str(seed), "--save-every", "100", "--resume"]
    cmd += ["--max-steps", str(args.finetune_max_steps)]
    if task in TOKEN_TASKS:
        cmd += ["--task", "token-classification", "--unseen-tags", "drop"]
    return cmd


def run_name(row: str, task: str, seed: int) -> str:
    """Fine-tune folder name; a task given as a folder is named by its last part."""
    return f"{row}-{Path(task).name}-s{seed}"


def headline(task: str, results: Path) -> float:
    test = json.loads(results.read_text())["metrics"]["test"]
    return float(test[TOKEN_TASKS.get(task, "accuracy")])


def summarise(rows: list[str], tasks: list[str], seeds: list[int], out: Path) -> dict:
    """Per row and task: mean ± sd of the test headline over seeds; per row: the macro score over tasks and its
    retention against the teacher."""
    table: dict[str, dict] = {}
    for row in rows:
        scores = {}
        for task in tasks:
            files = [out / "finetune" / run_name(row, task, s) / "results.json" for s in seeds]
            values = [headline(task, f) for f in files if f.is_file()]
            if values:
                sd = statistics.stdev(values) if len(values) > 1 else 0.0
                scores[task] = {"mean": statistics.fmean(values), "sd": sd, "n": len(values)}
        complete = len(scores) == len(tasks)
        table[row] = {
            "tasks": scores,
            "macro": statistics.fmean(s["mean"] for s in scores.values()) if complete else None,
        }
        distilled = out / row / "results.json"
        if row in GENERAL_ROWS and distilled.is_file():
            train = json.loads(distilled.read_text())["train"]
            table[row]["distil"] = {k: train[k] for k in ("steps", "train_seconds", "tokens_per_second", "final_loss")}
    base = table.get("teacher", {}).get("macro")
    for row in table.values():
        row["retention"] = row["macro"] / base if base and row["macro"] is not None else None
    return {"tasks": tasks, "seeds": seeds, "rows": table}


def cell(score: dict, seeds: int) -> str:
    """mean ± sd over the seeds; one run is shown alone, and a count below the protocol's seeds is shown."""
    text = f"{score['mean']:.4f}" if score["n"] == 1 else f"{score['mean']:.4f} ± {score['sd']:.4f}"
    return text if score["n"] == seeds else f"{text} (n={score['n']})"


def to_markdown(summary: dict, args: argparse.Namespace) -> str:
    tasks = summary["tasks"]
    budget = f"{args.finetune_max_steps} steps" if args.finetune_max_steps else f"{args.finetune_epochs} epochs"
    lines = [
        f"General distillation: {args.layers}-layer students, {args.steps} steps on {' '.join(args.corpus)}; "
        f"fine-tuned {budget} at lr {args.lr}, seeds {summary['seeds']} (test splits)",
        "",
        "| row | " + " | ".join(tasks) + " | macro | retention | distillation |",
        "|---|" + "---|" * (len(tasks) + 3),
    ]
    for name, row in summary["rows"].items():
        cells = [cell(row["tasks"][t], len(summary["seeds"])) if t in row["tasks"] else "—" for t in tasks]
        macro = f"{row['macro']:.4f}" if row["macro"] is not None else "—"
        retention = f"{row['retention']:.1%}" if row["retention"] is not None else "—"
        d = row.get("distil")
        cost = f"{d['steps']} steps, {d['train_seconds'] / 60:.0f} min, {d['tokens_per_second']:.0f} tok/s" if d else ""
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {macro} | {retention} | {cost} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="+", required=True, help="text files or folders")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--teacher", default="all-MiniLM-L6-v2", help="bare encoder (no MLM head)")
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2000, help="optimizer steps of every general row")
    parser.add_argument("--head-steps", type=int, default=1000, help="optimizer steps of the MLM head")
    parser.add_argument("--rows", default=",".join(["teacher", "teacher-init", *GENERAL_ROWS]))
    parser.add_argument("--tasks", default="sentiment-rt,topics-bbc")
    parser.add_argument("--seeds", default="0", help="fine-tuning seeds")
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--finetune-max-steps", type=int, default=0, help="> 0: overrides --finetune-epochs")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time; cores are shared among them")
    args = parser.parse_args()
    rows, tasks = args.rows.split(","), args.tasks.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    threads = max(1, (os.cpu_count() or 1) // args.parallel)

    models = {"teacher": args.teacher}
    if "teacher-init" in rows:
        models["teacher-init"] = str(teacher_cut(args.teacher, args.layers, args.out / "teacher-init"))
    general = [r for r in rows if r in GENERAL_ROWS]
    head_teacher = str(args.out / "head" / "model")
    if any(r != "no-head" for r in general):
        head = ["mlm-head", "--teacher", args.teacher, "--corpus", *args.corpus, "--max-steps", str(args.head_steps)]
        run([*head, "--save-every", "100", "--resume"], args.out / "head", os.cpu_count() or 1)
    with ThreadPoolExecutor(args.parallel) as pool:
        jobs = {r: pool.submit(run, general_cmd(r, args, head_teacher), args.out / r, threads) for r in general}
        models.update({r: str(job.result() / "model") for r, job in jobs.items()})
        finetunes = [
            pool.submit(run, finetune_cmd(models[r], t, s, args), args.out / "finetune" / run_name(r, t, s), threads)
            for r in rows
            for t in tasks
            for s in seeds
        ]
        for job in finetunes:
            print(f"done: {job.result()}", flush=True)
    summary = summarise(rows, tasks, seeds, args.out)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "summary.md").write_text(to_markdown(summary, args))
    print(to_markdown(summary, args))


if __name__ == "__main__":
    main()
