"""Options shared by several commands, declared once, and the builders that turn resolved options into config objects.

Every command takes `--config FILE.yaml` whose keys are its option names (dashes or underscores); options given on
the command line win over the file. The resolved options are what `config.yaml` next to each output records.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from distilkit.core.errors import DistilkitError


def load_config(ctx: typer.Context, param: typer.CallbackParam, value: Path | None) -> Path | None:
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
        "--config", help="YAML file of option values (keys = option names).", is_eager=True, callback=load_config
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
Resume = Annotated[bool, typer.Option(help="Continue from the latest checkpoint in OUT, with the run's own settings.")]
Overwrite = Annotated[bool, typer.Option(help="Replace an earlier run's outputs in OUT (other files there are kept).")]
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
LongTextOption = Annotated[
    str,
    typer.Option(
        help="sequence-classification: a text longer than --max-length is 'truncate'd (its first tokens), cut to "
        "'head-tail' (its first quarter of the budget and its last three quarters), or read in overlapping 'windows' "
        "(each a training example with the text's label; its prediction is the mean of its windows' logits). The "
        "same at training, evaluation and export. Token classification always windows by words (--stride)."
    ),
]
LongTextStride = Annotated[
    int | None,
    typer.Option(min=0, help="--long-text windows: tokens consecutive windows share (default: max-length // 4)."),
]
UnseenTags = Annotated[
    str,
    typer.Option(help="token-classification: a dev/test tag that train lacks is an 'error', or 'drop' its sentences."),
]


Corpus = Annotated[
    list[str],
    typer.Option(help="Raw text: .txt, .txt.gz or .jsonl (text field) files or folders, one paragraph a line. Repeat."),
]
Pack = Annotated[bool, typer.Option(help="Pack the text into full-length windows instead of length-grouped lines.")]
Precision = Annotated[
    str,
    typer.Option(
        help="Forward passes in 'fp32' or 'bf16' (CPU autocast); 'auto': bf16 where the CPU has AVX-512 BF16 or AMX"
        " BF16, else fp32 ($DISTILKIT_PRECISION sets what auto means)."
    ),
]
MaxMinutes = Annotated[
    float, typer.Option(min=0.0, help="Stop cleanly with a checkpoint after this many minutes (0: no limit).")
]

SHARED: dict[str, tuple[Any, Any]] = {
    "dev": (Dev, None),
    "test": (Test, None),
    "text_column": (TextColumn, "text"),
    "label_column": (LabelColumn, "label"),
    "text_pair_column": (PairColumn, None),
    "tag_column": (TagColumn, -1),
    "scheme": (Scheme, "auto"),
    "stride": (Stride, 32),
    "label_all_subwords": (LabelAll, False),
    "unseen_tags": (UnseenTags, "error"),
    "max_length": (MaxLength, 128),
    "long_text": (LongTextOption, "truncate"),
    "long_text_stride": (LongTextStride, None),
    "pack": (Pack, False),
    "epochs": (Epochs, 1),
    "max_steps": (MaxSteps, 0),
    "max_minutes": (MaxMinutes, 0.0),
    "batch_size": (BatchSize, 32),
    "grad_accum": (GradAccum, 1),
    "lr": (Lr, 5e-5),
    "weight_decay": (WeightDecay, 0.01),
    "warmup_ratio": (Warmup, 0.06),
    "seed": (Seed, 0),
    "save_every": (SaveEvery, 0),
    "freeze_embeddings": (FreezeEmb, False),
    "precision": (Precision, "auto"),
    "resume": (Resume, False),
    "overwrite": (Overwrite, False),
    "allow_pickle": (AllowPickle, False),
}
"""Options several commands take: name → (annotated type, default). A command lists the ones it takes with
`shared_options`, overriding the defaults where its own differ (a fine-tune's learning rate is not a distillation's)."""

DATA_FILES = ("dev", "test", "text_column", "label_column", "text_pair_column")
TAG_FILES = ("tag_column", "scheme", "stride", "label_all_subwords", "unseen_tags")
LONG_TEXT = ("long_text", "long_text_stride")
TRAINING = (
    "max_length",
    "epochs",
    "max_steps",
    "batch_size",
    "grad_accum",
    "lr",
    "weight_decay",
    "warmup_ratio",
    "seed",
    "save_every",
    "freeze_embeddings",
    "precision",
    "resume",
    "overwrite",
    "allow_pickle",
)


def shared_options(*names: str, **defaults: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the shared options `names` (declared once, in `SHARED`), just before its `--config`.

    The command takes them as `**options` (typer reads the signature this sets); `defaults` override `SHARED`'s.
    """
    unknown = sorted((set(names) | set(defaults)) - set(SHARED))
    if unknown:
        raise ValueError(f"no shared option {unknown}")

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)  # a set __signature__ is not evaluated again
        own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        extra = [
            inspect.Parameter(name, kind, annotation=SHARED[name][0], default=defaults.get(name, SHARED[name][1]))
            for name in names
        ]
        first, last = [p for p in own if p.name != "config"], [p for p in own if p.name == "config"]
        command.__signature__ = signature.replace(parameters=[*first, *extra, *last])  # type: ignore[attr-defined]
        return command

    return decorate


TRAIN_OPTIONS = {
    "epochs": "epochs",
    "max_steps": "max_steps",
    "max_minutes": "max_minutes",
    "batch_size": "batch_size",
    "grad_accum": "grad_accum",
    "lr": "lr",
    "weight_decay": "weight_decay",
    "warmup_ratio": "warmup_ratio",
    "seed": "seed",
    "save_every": "save_every",
    "freeze_embeddings": "freeze_embeddings",
    "precision": "precision",
}
"""Command option → `TrainConfig` field. A command passes those of these options it has; the others keep the
`TrainConfig` default. Named explicitly, so renaming a field is an error here, not an option silently dropped."""


def claim_out(params: dict) -> None:
    """`--out` becomes this run's folder (empty, or the run's own with --resume, or replaced with --overwrite); the
    resolved settings go to OUT/config.yaml. Refused with one line when the folder holds an earlier run."""
    import math

    from distilkit.core.run_folder import claim_run_folder

    for name, value in params.items():  # before anything is written: `--lr inf` would train to NaN and "succeed"
        if isinstance(value, float) and not math.isfinite(value):
            raise DistilkitError(f"{name}: expected a finite number, got {value}")
    if "precision" in params:  # likewise: `--precision fp16` is refused before OUT holds a run that never ran
        from distilkit.distil.trainer import resolve_precision

        resolve_precision(params["precision"])
    claim_run_folder(params["out"], params, resume=params.get("resume", False), overwrite=params["overwrite"])


def train_config(params: dict):
    """The `TrainConfig` of a command from its resolved options (see `TRAIN_OPTIONS`)."""
    from dataclasses import fields

    from distilkit.distil.trainer import TrainConfig

    missing = set(TRAIN_OPTIONS.values()) - {f.name for f in fields(TrainConfig)}
    if missing:
        raise RuntimeError(f"TrainConfig has no field {sorted(missing)}: update cli.options.TRAIN_OPTIONS")
    return TrainConfig(**{field: params[option] for option, field in TRAIN_OPTIONS.items() if option in params})


def token_options(params: dict):
    """The `TokenOptions` of a command from its resolved options (those of `TAG_FILES` it has)."""
    return _token_options(**{name: params[name] for name in TAG_FILES if name in params})


def _token_options(
    tag_column: int, scheme: str, stride: int, label_all_subwords: bool = False, unseen_tags: str = "error"
):
    from distilkit.data.spec import TokenOptions

    return TokenOptions(
        tag_column=tag_column,
        scheme=scheme,
        stride=stride,
        label_all_subwords=label_all_subwords,
        unseen_tags=unseen_tags,
    )


def columns(params: dict):
    """The `Columns` of a command from its resolved options."""
    return _columns(params["text_column"], params["label_column"], params.get("text_pair_column"))


def long_text(params: dict):
    """The `LongText` of a command from its resolved options (truncate for a command without them)."""
    from distilkit.core.long_text import LongText

    return LongText(params.get("long_text", "truncate"), params.get("long_text_stride"))


def _columns(text_column: str, label_column: str, text_pair_column: str | None):
    from distilkit.data.classification import Columns

    return Columns(text=text_column, label=label_column, text_pair=text_pair_column)


def quiet_transformers() -> None:
    """transformers' own progress bars and load reports would interleave with ours."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def data_spec(params: dict):
    """The `DataSpec` of a training command from its resolved options (`--data`, `--dev`, `--test`, columns, task,
    how tags are read, and how long texts are)."""
    from distilkit.data.spec import DataSpec

    return DataSpec(
        params["data"],
        dev=params["dev"],
        test=params["test"],
        columns=columns(params),
        task=params["task"],
        tokens=token_options(params),
        long_text=long_text(params),
    )
