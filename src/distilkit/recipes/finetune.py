"""`distilkit finetune`: a model (hub id, folder or the embedded default) trained as a sequence or token classifier.

It loads what it needs, trains through the one loop in `distil.trainer`, saves a standard Hugging Face folder
(`out/model`, written atomically), scores it on the dev and test splits it was given, and writes the folder's model
card (README.md) from the same dict as `out/results.json`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from distilkit.core.atomic import save_model, write_json
from distilkit.core.model_card import write_model_card
from distilkit.data.classification import ClassificationData
from distilkit.data.spec import DataSpec
from distilkit.data.tagged import TokenData
from distilkit.distil.objectives import FinetuneObjective
from distilkit.distil.trainer import TrainConfig, train
from distilkit.evaluate.scoring import long_text_summary, score_splits
from distilkit.models.teacher import load_classifier


def finetune(
    model_name: str,
    data_spec: DataSpec,
    out: Path,
    train_cfg: TrainConfig,
    max_length: int = 128,
    resume: bool = False,
    allow_pickle: bool = False,
    quiet: bool = False,
    data: ClassificationData | TokenData | None = None,
) -> dict:
    """Fine-tune `model_name` on `data_spec`'s training split; returns (and writes) `out/results.json`.

    `data` is `data_spec.load()` when the caller has read it already (the CLI does, before importing torch)."""
    data = data_spec.load() if data is None else data
    torch.manual_seed(train_cfg.seed)  # the new classification head is drawn at load time: same seed, same head
    model, tokenizer = load_classifier(model_name, data.label_names, allow_pickle, task=data_spec.task)
    encoded = data_spec.encode(tokenizer, data.train, model.config.label2id, max_length)
    summary = train(FinetuneObjective(model), encoded, tokenizer, train_cfg, out, resume=resume, quiet=quiet)
    save_model(model, tokenizer, out / "model")
    metrics = score_splits(model, tokenizer, data, max_length, data_spec.tokens.stride, data_spec.long_text)
    result = {
        "model": str(out / "model"),
        "recipe": "finetune",
        "task": data_spec.task,
        "base_model": model_name,
        "data": data_spec.describe(),
        "max_length": max_length,
        "train": summary,
        "metrics": metrics,
    }
    long_text = long_text_summary(data_spec.long_text, max_length, encoded, metrics)
    if long_text is not None:
        result["long_text"] = long_text
    write_model_card(result)  # before results.json: a run whose results.json exists is complete (see main_job)
    write_json(out / "results.json", result)
    return result
