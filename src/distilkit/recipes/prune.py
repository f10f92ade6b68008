"""`distilkit prune`: a classifier with its least important attention heads and feed-forward neurons removed.

Every head and neuron is scored on training examples (`models.pruning.scores`), each layer keeps the same number of
its best ones (`models.pruning.prune`), and the others are sliced out of the weights: a smaller dense model, faster
under every runtime. The pruned model is saved as a model folder with its card, its scores before any recovery, and
the layer map of the student it was cut from (in config.json, so `distil --student OUT/model` pairs its hidden states
with the right teacher layers). Recovery is distillation from the unpruned teacher: `distilkit distil --student`.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from distilkit.core.atomic import save_model, write_json
from distilkit.core.model_card import write_model_card
from distilkit.data.batching import EncodedSplit, make_loader
from distilkit.data.classification import ClassificationData
from distilkit.data.spec import DataSpec
from distilkit.data.tagged import TokenData
from distilkit.evaluate.scoring import score_splits
from distilkit.models.pruning.prune import apply_pruning, plan_pruning
from distilkit.models.pruning.scores import score_units
from distilkit.models.student import LAYER_MAP_KEY, recorded_layer_map, shape
from distilkit.models.teacher import load_classifier, resolve_model_path

RULE = "Σ|∂loss/∂gate| per example (Michel et al. 2019)"


def prune(
    model_name: str,
    data_spec: DataSpec,
    out: Path,
    heads: float = 0.0,
    ffn: float = 0.0,
    examples: int = 512,
    batch_size: int = 32,
    max_length: int = 128,
    seed: int = 0,
    allow_pickle: bool = False,
    data: ClassificationData | TokenData | None = None,
) -> dict:
    """Remove `heads` of every layer's attention heads and `ffn` of its feed-forward neurons (fractions in [0, 1)),
    scored on `examples` training examples drawn with `seed`; writes `out/model` and `out/results.json`.

    `data` is `data_spec.load()` when the caller has read it already (the CLI does, before importing torch).
    """
    data = data_spec.load() if data is None else data
    model, tokenizer = load_classifier(
        model_name, data.label_names, allow_pickle, require_head=True, task=data_spec.task
    )
    layer_map = recorded_layer_map(model, resolve_model_path(model_name, allow_pickle))
    before = {**shape(model), "parameters": _parameters(model)}
    encoded = data_spec.encode(tokenizer, data.train, model.config.label2id, max_length)
    sample = scoring_sample(encoded, examples, seed)
    start = time.perf_counter()
    scores = score_units(model, make_loader(sample, tokenizer, batch_size, shuffle=False))
    plan = plan_pruning(model, scores, heads, ffn)
    seconds = round(time.perf_counter() - start, 2)
    apply_pruning(model, plan)
    setattr(model.config, LAYER_MAP_KEY, layer_map)  # the student's pairing with its teacher survives the pruning
    save_model(model, tokenizer, out / "model")
    metrics = score_splits(model, tokenizer, data, max_length, data_spec.tokens.stride, data_spec.long_text)
    result = {
        "model": str(out / "model"),
        "recipe": "prune",
        "task": data_spec.task,
        "base_model": model_name,
        "layer_map": layer_map,
        "pruning": {
            "heads": heads,
            "ffn": ffn,
            "rule": RULE,
            "loss": "cross-entropy on the gold labels",
            "examples": scores.examples,
            "seed": seed,
            "seconds": seconds,
            "head_scores": [[round(float(v), 6) for v in row] for row in scores.heads],
            "kept": plan.to_json(),
        },
        "before": before,
        "student": {**shape(model), "parameters": _parameters(model)},
        "data": data_spec.describe(),
        "max_length": max_length,
        "metrics": metrics,
    }
    write_model_card(result)  # before results.json: a run whose results.json exists is complete
    write_json(out / "results.json", result)
    return result


def scoring_sample(encoded: EncodedSplit, examples: int, seed: int) -> EncodedSplit:
    """`examples` training examples drawn without replacement with `seed` (all of them when there are fewer)."""
    order = torch.randperm(len(encoded), generator=torch.Generator().manual_seed(seed))[:examples].tolist()
    return EncodedSplit([encoded.features[i] for i in order], [encoded.labels[i] for i in order])


def _parameters(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))
