"""`distilkit evaluate`, `bench` and `run`: score models, time them side by side, and the main job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from distilkit.cli.app import app, console
from distilkit.cli.options import (
    Config,
    Data,
    MaxLength,
    Seed,
    Task,
    columns,
    long_text,
    quiet_transformers,
    shared_options,
    token_options,
)
from distilkit.cli.output import print_long_text, print_tag_metrics
from distilkit.core.errors import DistilkitError


@app.command()
@shared_options(
    "text_column",
    "label_column",
    "text_pair_column",
    "tag_column",
    "scheme",
    "stride",
    "max_length",
    "long_text",
    "long_text_stride",
    "allow_pickle",
)
def evaluate(
    model: Annotated[str, typer.Argument(help="Classifier folder or hub id.")],
    data: Annotated[str, typer.Option(help="A split file, or a data folder / known dataset (uses --split).")],
    split: Annotated[str, typer.Option(help="Which split of a data folder.")] = "test",
    task: Task = "sequence-classification",
    out: Annotated[Path | None, typer.Option(help="Write the metrics as JSON here.")] = None,
    config: Config = None,
    **options: Any,
) -> None:
    """Accuracy, macro-F1, per-class precision/recall and the confusion matrix of a classifier; for a token
    classifier, token accuracy and (entity tags) entity precision/recall/F1 per type and micro/macro."""
    from rich.table import Table

    from distilkit.core.atomic import check_writable, write_json

    if out is not None:
        check_writable(out, folder=False)  # before scoring: the metrics must have somewhere to go
    from distilkit.recipes.evaluate import evaluate as run_evaluate

    quiet_transformers()
    metrics = run_evaluate(
        model,
        data,
        split,
        columns=columns(options),
        max_length=options["max_length"],
        allow_pickle=options["allow_pickle"],
        task=task,
        tokens=token_options(options),
        long_text=long_text(options),
    )
    if out is not None:
        write_json(out, metrics)
    if task == "token-classification":
        print_tag_metrics(f"{model} on {data} [{split}]", metrics)
        return
    table = Table(
        title=f"{model} on {data} [{split}]: accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}"
    )
    for col in ("label", "precision", "recall", "f1", "support"):
        table.add_column(col)
    for name, m in metrics["per_class"].items():
        table.add_row(name, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", str(m["support"]))
    console.print(table)
    console.print("confusion matrix (rows gold, columns predicted, order as above):", metrics["confusion_matrix"])
    if "long_text" in metrics:
        print_long_text(metrics["long_text"], f"{split} texts")


@app.command()
def bench(
    models: Annotated[
        list[str] | None, typer.Argument(help="Models as NAME=PATH or PATH; the first is the reference.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for report.json, report.md, report.png.")] = Path("runs/bench"),
    test: Annotated[str | None, typer.Option(help="Test split (file, folder or known dataset) for quality.")] = None,
    configs: Annotated[
        str | None, typer.Option(help="Also bench architectures built from configs: bert-base,distilbert-base.")
    ] = None,
    runs: Annotated[int, typer.Option(min=1, help="Timed runs per setting (medians reported).")] = 20,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed warm-up runs.")] = 3,
    max_length: MaxLength = 128,
    threads: Annotated[int | None, typer.Option(min=1, help="Torch threads per model (default: all cores).")] = None,
    timing: Annotated[
        str,
        typer.Option(
            help="tensors: forward passes on ready token ids; text: raw text to label (transformers pipeline for "
            "PyTorch models, the distilkit runtime for bundles; needs --test)."
        ),
    ] = "tensors",
    config: Config = None,
) -> None:
    """Size, latency, throughput, memory and quality of several models side by side, with retention ratios.

    A model folder holding bundle.json (from `distilkit export`) is benched on ONNX Runtime, without torch."""
    from distilkit.bench import ModelSpec, parse_model_args, run_bench
    from distilkit.bench.report import render_table
    from distilkit.core.atomic import check_writable

    check_writable(out)
    specs = parse_model_args(models or [])
    specs += [ModelSpec(name=c.strip(), config=c.strip()) for c in (configs or "").split(",") if c.strip()]
    if not specs:
        raise DistilkitError("bench: give at least one model or --configs")
    test_file = _split_file(test, "test") if test else None
    report = run_bench(
        specs, out, test_file=test_file, max_length=max_length, runs=runs, warmup=warmup, threads=threads, mode=timing
    )
    console.print(render_table(report))
    console.print(f"written: {out / 'report.json'}, {out / 'report.md'}, {out / 'report.png'}")


def _split_file(spec: str, split: str) -> Path:
    """A split file of any task's format from a file path, a data folder, or a known dataset name."""
    from distilkit.data import classification, tagged
    from distilkit.data.sources import split_file

    return split_file(spec, split, (*classification.FILE_FORMATS, *tagged.FILE_FORMATS))


@app.command()
def run(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Run name: outputs go to runs/NAME.")] = "main",
    teacher: Annotated[str, typer.Option(help="Teacher to fine-tune (hub id, folder, or embedded).")] = (
        "all-MiniLM-L6-v2"
    ),
    data: Data = "sentiment-rt",
    student_layers: Annotated[int, typer.Option(min=1, help="Student depth.")] = 3,
    teacher_epochs: Annotated[int, typer.Option(min=1, help="Teacher fine-tuning epochs.")] = 3,
    student_epochs: Annotated[int, typer.Option(min=1, help="Student distillation epochs.")] = 3,
    runs_dir: Annotated[Path, typer.Option(help="Folder holding all runs.")] = Path("runs"),
    bench_runs: Annotated[int, typer.Option(min=1, help="Timed runs per bench setting.")] = 20,
    seed: Seed = 0,
    quantize: Annotated[
        str, typer.Option(help="The shipped bundle: auto (fastest INT8 within --budget of fp32), dynamic, static, none")
    ] = "auto",
    budget: Annotated[float, typer.Option(min=0.0, help="Dev-score points the bundle may lose against fp32.")] = 1.0,
    config: Config = None,
) -> None:
    """The main job: fine-tune the teacher, distil a student, export it as an INT8 bundle, bench all three from raw
    text, print the table and the commands that use the bundle."""
    from distilkit.recipes.main_job import MainJob, run_main_job

    quiet_transformers()
    job = MainJob(
        name=name,
        teacher=teacher,
        data=data,
        student_layers=student_layers,
        teacher_epochs=teacher_epochs,
        student_epochs=student_epochs,
        runs_dir=runs_dir,
        bench_runs=bench_runs,
        seed=seed,
        quantize=quantize,
        budget=budget,
    )
    run_main_job(job, ctx.params, console)
