"""Width pruning's Pareto front: accuracy against latency from raw text, for a distilled student and its pruned
variants (PyTorch, fp32 and INT8 bundles), with the unpruned teacher as the reference.

For each pruning point HEADS:FFN (fractions of every layer's heads and feed-forward neurons removed) and its seeds:

  prune      `distilkit prune STUDENT --heads H --ffn F --seed S`            (scored on --examples training examples)
  distilled  `distilkit distil --teacher T --student PRUNED` with the soft targets (and --alpha-hid hidden states)
  labels     the same pruned student trained on the gold labels alone (--alpha-kd 0 --alpha-ce 1): what distillation
             adds to the recovery
  bundles    `distilkit export --quantize dynamic --data D` of each distilled seed (INT8: MatMul and Attention
             weights; `--int8 auto` for the fastest variant within 1 point of fp32 on dev, as `distilkit run` ships,
             whose choice rests on timings that other load on the machine can sway), and `--quantize none` of seed 0

The unpruned student gets the same two exports. Then one `distilkit bench --timing text` run times the teacher (the
reference), the unpruned student and every point's seed-0 models side by side (latency b1 s128 and s32, throughput b32,
parameters, disk). Accuracy is on the test split: mean ± sd over seeds for PyTorch models (their results.json) and INT8
bundles (the torch-free runtime on the test texts), the bench's one run elsewhere. Every step is skipped when its
output exists, so an interrupted run resumes and finished runs are reused; `--extra NAME=PATH` adds other model
folders or bundles to the bench. Writes OUT/pareto.{json,md,png}.

    python benchmarks/pruning_pareto.py --data sentiment-rt --teacher runs/t/model --student runs/s/model \\
        --points 0:0.5,0.25:0.5 --full 0.5:0.75 --out runs/pareto-rt

--points run seed 0 (--seeds) of the distilled variant only; each --full point runs --full-seeds (0,1,2) of every
variant, which the table's mean ± sd and the labels-only comparison need.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = {
    "distilled": ["--alpha-kd", "1"],
    "labels": ["--alpha-kd", "0", "--alpha-ce", "1", "--alpha-hid", "0"],
}


def run(cmd: list[str], out: Path, done: Path) -> Path:
    """Run a distilkit command (logged to OUT/run.log) unless `done` exists already."""
    if done.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    full = [sys.executable, "-m", "distilkit", *cmd]
    start = time.perf_counter()
    with (out.parent / f"{out.name}.log").open("a") as log:
        log.write(" ".join(full) + "\n")
        log.flush()
        finished = subprocess.run(full, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed: see {out.parent / f'{out.name}.log'}")
    print(f"done in {time.perf_counter() - start:.0f} s: {out}", flush=True)
    return out


def point_name(point: tuple[float, float]) -> str:
    return f"h{point[0]:g}-f{point[1]:g}"


def prune(args: argparse.Namespace, point: tuple[float, float], seed: int) -> Path:
    out = args.out / "prune" / f"{point_name(point)}-s{seed}"
    cmd = ["prune", str(args.student), "--data", args.data, "--heads", str(point[0]), "--ffn", str(point[1])]
    cmd += ["--seed", str(seed), "--examples", str(args.examples), "--max-length", str(args.max_length)]
    return run([*cmd, "--out", str(out), "--overwrite"], out, out / "results.json") / "model"


def recover(args: argparse.Namespace, pruned: Path, variant: str, name: str, seed: int) -> Path:
    out = args.out / variant / f"{name}-s{seed}"
    cmd = ["distil", "--teacher", str(args.teacher), "--student", str(pruned), "--data", args.data]
    cmd += ["--epochs", str(args.epochs), "--lr", str(args.lr), "--max-length", str(args.max_length)]
    cmd += ["--seed", str(seed), "--precision", args.precision, "--save-every", "100", "--resume"]
    cmd += VARIANTS[variant] + (["--alpha-hid", str(args.alpha_hid)] if variant == "distilled" else [])
    cmd += args.distil_args.split()
    return run([*cmd, "--out", str(out)], out, out / "results.json") / "model"


def export(args: argparse.Namespace, model: Path, out: Path, quantize: str) -> Path:
    cmd = ["export", str(model), "--out", str(out), "--quantize", quantize, "--data", args.data, "--threads", "1"]
    return run([*cmd, "--max-length", str(args.max_length)], out, out / "bundle.json")


def bundle_accuracy(bundle: Path, args: argparse.Namespace) -> float:
    """Test accuracy of a bundle from raw text with the torch-free runtime (cached next to it)."""
    cached = bundle / "test_accuracy.json"
    if cached.is_file():
        return json.loads(cached.read_text())["accuracy"]
    from distilkit.data.spec import DataSpec
    from distilkit.runtime import Predictor

    test = DataSpec(args.data).load().test
    predicted = [p["label"] for p in Predictor(bundle, threads=1).predict(test.texts)]
    accuracy = sum(p == g for p, g in zip(predicted, test.labels, strict=True)) / len(test.labels)
    cached.write_text(json.dumps({"accuracy": accuracy, "n": len(test.labels)}) + "\n")
    return accuracy


def bench(args: argparse.Namespace, models: dict[str, Path]) -> dict:
    out = args.out / "bench"
    cmd = ["bench", *(f"{name}={path}" for name, path in models.items()), "--test", args.data, "--timing", "text"]
    cmd += ["--runs", str(args.bench_runs), "--threads", "1", "--max-length", str(args.max_length), "--out", str(out)]
    run(cmd, out, out / "report.json")
    return json.loads((out / "report.json").read_text())


def mean_sd(values: list[float]) -> dict:
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def test_accuracy(model: Path) -> float:
    return json.loads((model.parent / "results.json").read_text())["metrics"]["test"]["accuracy"]


def rows_of(args: argparse.Namespace, report: dict, accuracy: dict[str, dict]) -> list[dict]:
    """One row per benched model: its bench figures and its accuracy (over seeds where there are several)."""
    teacher = report["models"][0]
    base_int8 = next(m for m in report["models"] if m["name"] == "student-int8")
    rows = []
    for m in report["models"]:
        acc = accuracy.get(m["name"]) or mean_sd([m["metrics"]["accuracy"]])
        rows.append({
            "name": m["name"],
            "kind": m["kind"],
            "params": m["params"],
            "disk_bytes": m["disk_bytes"],
            "b1_s128_ms": m["latency_ms"]["b1_s128"]["p50"],
            "b1_s32_ms": m["latency_ms"]["b1_s32"]["p50"],
            "b32_seq_s": m["throughput_seq_s"]["b32_s128"],
            "accuracy": acc,
            "retention": acc["mean"] / teacher["metrics"]["accuracy"],
            "speedup_vs_teacher": teacher["latency_ms"]["b1_s128"]["p50"] / m["latency_ms"]["b1_s128"]["p50"],
            "speedup_vs_student_int8": base_int8["latency_ms"]["b1_s128"]["p50"] / m["latency_ms"]["b1_s128"]["p50"],
        })  # fmt: skip
    return rows


def pareto(rows: list[dict]) -> set[str]:
    """Names of the rows no other row beats on both latency (b1 s128) and mean accuracy."""
    return {
        r["name"]
        for r in rows
        if not any(
            o["b1_s128_ms"] <= r["b1_s128_ms"]
            and o["accuracy"]["mean"] >= r["accuracy"]["mean"]
            and (o["b1_s128_ms"], o["accuracy"]["mean"]) != (r["b1_s128_ms"], r["accuracy"]["mean"])
            for o in rows
        )
    }


def to_markdown(summary: dict) -> str:
    front = pareto(summary["rows"])
    lines = [
        f"Pruning Pareto table on {summary['data']} (test split); latency from raw text, p50, 1 thread, one bench run "
        f"({summary['machine']}); accuracy mean ± sd over n seeds; * on the Pareto front",
        "",
        "| model | kind | params (M) | disk (MB) | b1 s128 ms | b1 s32 ms | b32 seq/s | accuracy | n | retention "
        "| × teacher | × student INT8 |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in summary["rows"]:
        acc = r["accuracy"]
        lines.append(
            f"| {r['name']}{' *' if r['name'] in front else ''} | {r['kind']} | {r['params'] / 1e6:.1f} "
            f"| {r['disk_bytes'] / 1e6:.1f} | {r['b1_s128_ms']:.2f} | {r['b1_s32_ms']:.2f} | {r['b32_seq_s']:.1f} "
            f"| {acc['mean']:.4f} ± {acc['sd']:.4f} | {acc['n']} | {r['retention']:.1%} "
            f"| {r['speedup_vs_teacher']:.2f} | {r['speedup_vs_student_int8']:.2f} |"
        )
    lines += [
        "",
        "Recovery, PyTorch test accuracy (mean ± sd over seeds): distilled from the teacher vs labels only",
        "",
    ]
    lines += ["| point | pruned, no recovery | distilled | labels only |", "|---|---|---|---|"]
    for name, rec in summary["recovery"].items():
        cells = [f"{rec[k]['mean']:.4f} ± {rec[k]['sd']:.4f}" if k in rec else "—" for k in ("pruned", *VARIANTS)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_png(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, front = summary["rows"], pareto(summary["rows"])
    fig, ax = plt.subplots(figsize=(9, 6))
    marks = {"torch": "o", "bundle": "s"}
    for r in rows:
        colour = "tab:red" if "int8" in r["name"] else "tab:blue" if "fp32" in r["name"] else "tab:gray"
        ax.errorbar(r["b1_s128_ms"], r["accuracy"]["mean"], yerr=r["accuracy"]["sd"], fmt=marks[r["kind"]],
                    color=colour, capsize=3)  # fmt: skip
        ax.annotate(r["name"], (r["b1_s128_ms"], r["accuracy"]["mean"]), fontsize=7, xytext=(4, 3),
                    textcoords="offset points")  # fmt: skip
    line = sorted((r["b1_s128_ms"], r["accuracy"]["mean"]) for r in rows if r["name"] in front)
    ax.step(
        [x for x, _ in line], [y for _, y in line], where="post", color="black", linewidth=0.8, label="Pareto front"
    )
    ax.set_xscale("log")
    ax.set_xlabel("latency, batch 1 × 128 tokens from raw text, p50 (ms, log scale)")
    ax.set_ylabel("test accuracy (mean ± sd over seeds)")
    ax.set_title(f"{summary['data']}: pruned students (red INT8, blue fp32 bundles, grey PyTorch)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="dataset name or folder")
    parser.add_argument("--teacher", type=Path, required=True, help="the unpruned teacher's model folder")
    parser.add_argument("--student", type=Path, required=True, help="the distilled student to prune (model folder)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--points", default="0:0.5,0.25:0.5,0.5:0.75", help="HEADS:FFN fractions, comma-separated")
    parser.add_argument("--seeds", default="0", help="seeds of the --points (distilled only)")
    parser.add_argument("--full", action="append", default=[], help="HEADS:FFN run with --full-seeds and every variant")
    parser.add_argument("--full-seeds", default="0,1,2")
    parser.add_argument("--examples", type=int, default=512, help="training examples pruning scores on")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--alpha-hid", type=float, default=1.0, help="hidden-state loss weight of 'distilled'")
    parser.add_argument(
        "--precision",
        default="auto",
        help="recovery runs: auto (bf16 with AVX-512 BF16 or AMX BF16, else fp32), fp32 or bf16",
    )
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--distil-args", default="", help="extra options for every recovery run")
    parser.add_argument("--int8", default="dynamic", help="--quantize of the INT8 bundles: dynamic, static or auto")
    parser.add_argument("--bench-runs", type=int, default=20)
    parser.add_argument("--extra", action="append", default=[], help="NAME=PATH of another model or bundle to bench")
    parser.add_argument("--no-bench", action="store_true", help="train and export only")
    args = parser.parse_args()

    def parse(text: str) -> tuple[float, float]:
        heads, ffn = (float(x) for x in text.split(":"))
        return heads, ffn

    full = [parse(p) for p in args.full]
    points = list(dict.fromkeys([*(parse(p) for p in args.points.split(",") if p), *full]))
    sweep_seeds, full_seeds = ([int(x) for x in text.split(",")] for text in (args.seeds, args.full_seeds))

    bundles = args.out / "bundles"
    benched = {"teacher": args.teacher, "student": args.student}
    benched["student-fp32"] = export(args, args.student, bundles / "student-fp32", "none")
    benched["student-int8"] = export(args, args.student, bundles / "student-int8", args.int8)
    accuracy: dict[str, dict] = {}
    recovery: dict[str, dict] = {}
    for point in points:
        name = point_name(point)
        seeds, variants = (full_seeds, list(VARIANTS)) if point in full else (sweep_seeds, ["distilled"])
        pruned = {seed: prune(args, point, seed) for seed in seeds}
        recovery[name] = {"pruned": mean_sd([test_accuracy(m) for m in pruned.values()])}
        for variant in variants:
            models = {seed: recover(args, pruned[seed], variant, name, seed) for seed in seeds}
            recovery[name][variant] = mean_sd([test_accuracy(m) for m in models.values()])
            if variant != "distilled":
                continue
            benched[name] = models[seeds[0]]
            accuracy[name] = recovery[name][variant]
            benched[f"{name}-fp32"] = export(args, models[seeds[0]], bundles / f"{name}-s{seeds[0]}-fp32", "none")
            int8 = [export(args, models[s], bundles / f"{name}-s{s}-int8", args.int8) for s in seeds]  # for the sd
            benched[f"{name}-int8"] = int8[0]
            accuracy[f"{name}-int8"] = mean_sd([bundle_accuracy(b, args) for b in int8])
    benched.update({k: Path(v) for k, v in (e.split("=", 1) for e in args.extra)})
    if args.no_bench:
        return
    report = bench(args, benched)
    machine = report["machine"]
    summary = {
        "data": args.data,
        "seeds": {point_name(p): full_seeds if p in full else sweep_seeds for p in points},
        "points": [list(p) for p in points],
        "settings": {k: str(v) for k, v in vars(args).items()},
        "machine": f"{machine['cpu']}, {machine['cores']} cores, {', '.join(machine.get('vector_extensions', []))}, "
        f"load {machine.get('load_avg_start')}",
        "rows": rows_of(args, report, accuracy),
        "recovery": recovery,
        "int8_choices": {
            path.name: json.loads((path / "bundle.json").read_text())["quantization"].get("name")
            for path in sorted(bundles.glob("*-int8"))
        },
    }
    (args.out / "pareto.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "pareto.md").write_text(to_markdown(summary))
    write_png(summary, args.out / "pareto.png")
    print(to_markdown(summary))


if __name__ == "__main__":
    main()
