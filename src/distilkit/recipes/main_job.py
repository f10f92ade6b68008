"""The main job (`distilkit run`): fine-tune the teacher, distil a student, ship it as an INT8 bundle, bench all three.

Stages: fine-tune the teacher → distil a student → export the student (ONNX, checked against PyTorch, INT8 chosen
within the accuracy budget on the dev split) → bench teacher, student and bundle side by side from raw text
(`report.{json,md,png}`). Each stage writes into runs/<name>/ and is skipped when its result is already there, so a
killed `run` picks up at the stage it was in (and a stage's own checkpoints let training resume mid-way).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from distilkit.core.atomic import write_config, write_json
from distilkit.data import classification
from distilkit.data.sources import split_file
from distilkit.data.spec import DataSpec
from distilkit.distil.objectives import DistilWeights
from distilkit.distil.trainer import TrainConfig
from distilkit.recipes.distil import distil
from distilkit.recipes.finetune import finetune


@dataclass
class MainJob:
    """Settings of the main job; the defaults are the documented offline demo (19 min measured on 2 cores, README)."""

    name: str = "main"
    teacher: str = "all-MiniLM-L6-v2"
    data: str = "sentiment-rt"
    student_layers: int = 3
    teacher_epochs: int = 3
    student_epochs: int = 3
    runs_dir: Path = Path("runs")
    bench_runs: int = 20
    seed: int = 0
    max_length: int = 128
    quantize: str = "auto"  # the bundle: the fastest INT8 variant within `budget` points of fp32 on dev
    budget: float = 1.0
    weights: DistilWeights = field(default_factory=lambda: DistilWeights(alpha_kd=1.0, alpha_ce=0.0, alpha_hid=0.0))

    @property
    def out(self) -> Path:
        return self.runs_dir / self.name


def _stage(done: Path, label: str, console: Console, fn) -> tuple[dict, float]:
    """Run `fn()` unless `done` (the stage's results.json or bundle.json) already holds its result; returns
    (result, seconds)."""
    if done.is_file():
        console.print(f"[dim]{label}: already done ({done})[/dim]")
        return json.loads(done.read_text()), 0.0
    console.rule(label)
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def run_main_job(job: MainJob, params: dict, console: Console) -> dict:
    """Run every stage of the main job and print the side-by-side table."""
    from distilkit.bench import ModelSpec, run_bench
    from distilkit.bench.report import render_table

    total_start = time.perf_counter()
    write_config(job.out, params)
    spec = DataSpec(job.data)
    teacher_out, student_out = job.out / "teacher", job.out / "student"
    resume = True  # every stage picks up its own checkpoint if a previous `run` was killed
    teacher, t_teacher = _stage(
        teacher_out / "results.json",
        "1/4 fine-tune the teacher",
        console,
        lambda: finetune(
            job.teacher,
            spec,
            teacher_out,
            TrainConfig(epochs=job.teacher_epochs, lr=5e-5, seed=job.seed, save_every=100),
            max_length=job.max_length,
            resume=resume,
        ),
    )
    student, t_student = _stage(
        student_out / "results.json",
        f"2/4 distil a {job.student_layers}-layer student",
        console,
        lambda: distil(
            teacher["model"],
            spec,
            student_out,
            TrainConfig(epochs=job.student_epochs, lr=1e-4, seed=job.seed, save_every=100),
            job.weights,
            student_layers=job.student_layers,
            max_length=job.max_length,
            resume=resume,
        ),
    )
    bundle_out = job.out / "bundle"
    bundle, t_export = _stage(
        bundle_out / "bundle.json",
        f"3/4 export the student ({job.quantize} INT8 within {job.budget:g} point of fp32 on dev)",
        console,
        lambda: _export(student["model"], bundle_out, job, console),
    )
    console.rule("4/4 bench teacher, student and bundle from raw text")
    test_file = split_file(job.data, "test", tuple(classification.FILE_FORMATS))
    start = time.perf_counter()
    models = [ModelSpec("teacher", teacher["model"]), ModelSpec("student", student["model"])]
    report = run_bench(
        [*models, ModelSpec("bundle", str(bundle_out))],
        job.out,
        test_file=test_file,
        max_length=job.max_length,
        runs=job.bench_runs,
        mode="text",
    )
    t_bench = time.perf_counter() - start
    timing = {
        "teacher_finetune_s": round(t_teacher, 1),
        "student_distil_s": round(t_student, 1),
        "export_s": round(t_export, 1),
        "bench_s": round(t_bench, 1),
        "total_s": round(time.perf_counter() - total_start, 1),
    }
    summary = {"timing": timing, "teacher": teacher, "student": student, "bundle": str(bundle_out)}
    write_json(job.out / "run_summary.json", summary)
    console.print(render_table(report))
    console.print(f"wall time: {timing}  — report: {job.out / 'report.md'}, {job.out / 'report.png'}")
    console.print(f"quantization: {bundle['quantization']['name']}; use the shipped model:")
    for command in (
        f'distilkit predict {bundle_out} "a gripping, beautifully acted film"',
        f"distilkit serve {job.name}={bundle_out}",
    ):
        console.print(f"  {command}", soft_wrap=True, markup=False, highlight=False)  # whole lines, to copy
    return report


def _export(student: str, out: Path, job: MainJob, console: Console) -> dict:
    from distilkit.export import export_bundle

    meta = export_bundle(
        student, out, quantize=job.quantize, budget=job.budget, data=job.data, max_length=job.max_length
    )
    check, scores = meta["validation"]["fp32_vs_torch"], meta["scores"]
    console.print(
        f"fp32 vs PyTorch: max |Δ| {check['max_abs_diff']:.3g} on {check['texts']} texts; "
        f"{meta['quantization']['name']}: {scores['metric']} {scores['bundle']:.2f} (fp32 {scores['fp32']:.2f}), "
        f"{meta['model_bytes'] / 1e6:.1f} MB"
    )
    return meta
