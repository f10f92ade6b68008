"""Model cards: the README.md, in the Hugging Face model-card format, in every model folder and bundle distilkit writes.

A folder copied out of `runs/` (or pushed to the Hub) must still say what it is, how it was made and how good it is.
The card is rendered from the very dict that goes to results.json (a model) or bundle.json (a bundle), so card and
record never disagree. Its YAML front matter is what the Hub indexes (base model, task, tags, data, the scores as a
`model-index`); the body is for people: the recipe, the scores beside the teacher's, how to load it.

Everything here works on plain dicts (no torch), so the recipes and the export, which may not import each other, both
render through it; `results_beside` is its one read of a file, and it never fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from distilkit.core.atomic import write_text

CARD_FILE = "README.md"

PIPELINE_TAGS = {
    "sequence-classification": "text-classification",
    "token-classification": "token-classification",
    "embedding": "feature-extraction",
    "masked-lm": "fill-mask",
}
"""distilkit task → the Hub's pipeline tag."""

TASK_TITLES = {
    "text-classification": "Text Classification",
    "token-classification": "Token Classification",
    "feature-extraction": "Feature Extraction",
    "fill-mask": "Fill-Mask",
}

AUTO_CLASSES = {
    "text-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "feature-extraction": "AutoModel",
    "fill-mask": "AutoModelForMaskedLM",
}

METRICS = (
    # key in results.json, Hub metric type, label, args
    ("accuracy", "accuracy", "accuracy", None),
    ("macro_f1", "f1", "macro-F1", {"average": "macro"}),
    ("f1", "f1", "entity F1", {"average": "micro"}),
    ("precision", "precision", "entity precision", {"average": "micro"}),
    ("recall", "recall", "entity recall", {"average": "micro"}),
    ("cosine_to_teacher", "cosine_similarity", "cosine to teacher", None),
    ("mse_to_teacher", "mse", "MSE to teacher", None),
)
"""The scores a card shows and indexes, in this order; a model's results hold some of them per split."""

STUDENT_RECIPES = ("distil", "distil-embedding", "distil-general")

LOSSES = {
    "alpha_kd": "KL of the teacher's soft targets, times T²",
    "alpha_ce": "cross-entropy on the gold labels",
    "alpha_mlm": "masked-LM cross-entropy",
    "alpha_cos": "cosine of the last hidden states",
    "alpha_hid": "hidden states of the mapped layers",
    "alpha_att": "KL of the mapped attention distributions",
    "alpha_rel": "MiniLM-v2 Q/K/V relations of the last layer",
}
"""Weight name in results.json → what the loss is; the card lists the losses a run weighted above zero."""


def render_card(metadata: dict[str, Any], body: list[str]) -> str:
    """Front matter (empty fields left out: the Hub rejects an empty `model-index`) and the Markdown body."""
    clean = {k: v for k, v in metadata.items() if v not in (None, [], {}, "")}
    front = yaml.safe_dump(clean, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{front}---\n\n" + "\n".join(body).rstrip() + "\n"


def card_metadata(text: str) -> dict[str, Any]:
    """The YAML front matter of a card, {} when there is none: what the Hub (and the tests) read."""
    if not text.startswith("---\n"):
        return {}
    end = text.find("\n---\n", 3)
    return (yaml.safe_load(text[4 : end + 1]) or {}) if end > 0 else {}


def results_beside(model: str | Path) -> dict[str, Any] | None:
    """The results.json next to a local model folder (`runs/x/model` → `runs/x/results.json`) if it describes that
    folder; None for a hub id, a missing or unreadable file, or another model's results. Never raises: a card is
    worth writing without it."""
    folder = Path(model)
    path = folder.parent / "results.json"
    try:
        if not folder.is_dir() or not path.is_file():
            return None
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or Path(str(found.get("model", ""))).name != folder.name:
        return None
    return found


def write_model_card(result: dict[str, Any]) -> Path:
    """Write the card of the model folder `result["model"]` (saved whole just before) from `result`, the dict that
    goes to results.json next; a student's card also reads its teacher's results.json when it is there."""
    teacher = results_beside(result["teacher"]) if result.get("recipe") in STUDENT_RECIPES else None
    return write_text(Path(result["model"]) / CARD_FILE, model_card(result, teacher))


def model_card(result: dict[str, Any], teacher_result: dict[str, Any] | None = None) -> str:
    """The card of a model folder, from its results.json dict; `teacher_result` (the teacher's results.json, when
    known) adds the teacher's scores and the student's retention of them."""
    recipe = result.get("recipe", "finetune")
    pipeline = PIPELINE_TAGS[result.get("task", "masked-lm")]
    student = recipe in STUDENT_RECIPES
    base = result.get("teacher") if "teacher" in result else result.get("base_model")
    datasets = _datasets(result)
    splits = _splits(result)
    name = _name(result["model"])
    metadata = {
        "base_model": base,
        "pipeline_tag": pipeline,
        "library_name": "transformers",
        "tags": ["distilkit", *(["distillation"] if student else [])],
        "datasets": datasets,
        "metrics": _metric_types(splits),
        "model-index": _model_index(name, pipeline, datasets[0] if datasets else "", splits),
    }
    teacher_test = ((teacher_result or {}).get("metrics") or {}).get("test") if student else None
    body = [f"# {name}", "", _summary(recipe, result, base), ""]
    if splits:
        body += ["## Results", "", *_scores_table(splits, teacher_test, result.get("task") == "token-classification")]
    usage = _usage(pipeline, result["model"], _fewer_heads(result.get("student") or {}))
    body += ["## Recipe", "", *_recipe(recipe, result), "", "## How to use", "", *usage]
    return render_card(metadata, body)


def bundle_card(meta: dict[str, Any], folder: str | Path, source_result: dict[str, Any] | None = None) -> str:
    """The card of a bundle, from its bundle.json dict; `source_result` (the exported model's results.json, when
    known) says whether it is a distilled student and what it scored in PyTorch."""
    pipeline = PIPELINE_TAGS[meta["task"]]
    quant, scores = meta["quantization"], meta["scores"]
    int8 = quant.get("method", "none") != "none"
    student = (source_result or {}).get("recipe") in STUDENT_RECIPES
    measured = scores["source"] if scores["metric"] == "accuracy" else None  # other scores only compare with fp32
    index = {"dev": {"accuracy": scores["bundle"] / 100}} if measured else {}
    name = Path(folder).name
    metadata = {
        "base_model": meta["source_model"],
        "base_model_relation": "quantized" if int8 else None,
        "pipeline_tag": pipeline,
        "library_name": "onnx",
        "tags": ["distilkit", "onnx", *(["int8"] if int8 else []), *(["distillation"] if student else [])],
        "datasets": [measured] if measured else [],
        "metrics": ["accuracy"] if measured else [],
        "model-index": _model_index(name, pipeline, measured or "", index),
    }
    delta = scores["bundle"] - scores["fp32"]
    body = [
        f"# {name}",
        "",
        f"`{meta['source_model']}` ({meta['task']}) exported to ONNX by distilkit {meta.get('distilkit_version', '')}"
        f" and checked against PyTorch: a bundle for `distilkit predict`, `distilkit serve` and `distilkit.runtime`"
        " (numpy, onnxruntime and tokenizers; no torch).",
        "",
        "## Quantization",
        "",
        f"- chosen: **{quant.get('name', 'fp32')}** (method {quant.get('method', 'none')}, mode {quant.get('mode')}"
        + (f", budget {_plural(quant['budget'], 'point')})" if quant.get("budget") is not None else ")"),
        f"- {scores['metric']} on {scores['source']}: {scores['bundle']:.2f} (fp32 {scores['fp32']:.2f},"
        f" {delta:+.2f} points)",
        f"- model.onnx: {meta['model_bytes']:,} bytes ({meta['model_bytes'] / 1e6:.2f} MB)",
        *_validation(meta),
    ]
    candidates = quant.get("candidates") or []
    if candidates:
        body += ["", "Candidates (latency: median ms of one pass over the export's timing texts):", ""]
        body += ["| candidate | score | latency (ms) | bytes | status |", "|---|---:|---:|---:|---|"]
        for c in candidates:
            body.append(
                f"| {c['name']} | {_num(c.get('score'), 2)} | {_num(c.get('latency_ms'), 2)} "
                f"| {_num(c.get('size_bytes'), 0)} | {c.get('status', '')} |"
            )
    if source_result:
        body += ["", "## Source model", "", *_source(source_result)]
    body += ["", "## How to use", "", *_bundle_usage(meta["task"], str(folder))]
    return render_card(metadata, body)


def _name(model_path: str) -> str:
    """A run's name: its model folder is always `OUT/model`, so the name is OUT's."""
    path = Path(model_path)
    return path.parent.name if path.name == "model" and path.parent.name else path.name


def _datasets(result: dict[str, Any]) -> list[str]:
    data = result.get("data") or {}
    names = [data.get("source"), data.get("dev"), data.get("test")]
    names += list((result.get("corpus") or {}).get("sources") or [])
    names.append((result.get("texts") or {}).get("source"))
    return list(dict.fromkeys(str(n) for n in names if n))


def _splits(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Scores by split, only the figures METRICS names; an embedding student's held-out texts are its one split."""
    metrics = result.get("metrics") or {}
    picked = {split: metrics[split] for split in ("dev", "test", "held_out") if isinstance(metrics.get(split), dict)}
    keys = [key for key, *_ in METRICS]
    return {split: {k: float(m[k]) for k in keys if k in m} for split, m in picked.items()}


def _metric_types(splits: dict[str, dict[str, float]]) -> list[str]:
    found = {k for m in splits.values() for k in m}
    return list(dict.fromkeys(kind for key, kind, *_ in METRICS if key in found))


def _model_index(name: str, pipeline: str, dataset: str, splits: dict[str, dict[str, float]]) -> list[dict]:
    """The Hub's `model-index`: one result per split, each with the task, the data and the split's scores."""
    results = []
    for split, scores in splits.items():
        metrics = []
        for key, kind, label, args in METRICS:
            if key in scores:
                entry: dict[str, Any] = {"type": kind, "value": scores[key], "name": f"{split} {label}"}
                # a copy of args: PyYAML would write one dict shared by two entries as an alias (&id001)
                metrics.append({**entry, "args": dict(args)} if args else entry)
        task = {"type": pipeline, "name": TASK_TITLES[pipeline]}
        data = {"name": dataset or "unknown", "type": dataset or "unknown", "split": split}
        results.append({"task": task, "dataset": data, "metrics": metrics})
    return [{"name": name, "results": results}] if results else []


def _scores_table(splits: dict[str, dict[str, float]], teacher: dict | None, tokens: bool) -> list[str]:
    keys = [key for key, *_ in METRICS if any(key in m for m in splits.values())]
    labels = {key: label for key, _, label, _ in METRICS}
    if tokens:
        labels["accuracy"] = "token accuracy"
    lines = ["| split | " + " | ".join(labels[k] for k in keys) + " |", "|---|" + "---:|" * len(keys)]
    lines += [f"| {split} | " + " | ".join(_num(m.get(k), 4) for k in keys) + " |" for split, m in splits.items()]
    if teacher and "test" in splits:
        lines.append("| teacher test | " + " | ".join(_num(teacher.get(k), 4) for k in keys) + " |")
        kept = [_ratio(splits["test"].get(k), teacher.get(k)) for k in keys]
        lines.append("| retention (test) | " + " | ".join(kept) + " |")
    return [*lines, ""]


def _ratio(student: float | None, teacher: float | None) -> str:
    if student is None or not isinstance(teacher, (int, float)) or teacher <= 0:
        return "—"
    return f"{100 * student / teacher:.1f}%"


def _plural(count: Any, noun: str) -> str:
    return f"{count:g} {noun}" if count == 1 else f"{count:g} {noun}s"


def _num(value: Any, digits: int) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    return f"{value:,.0f}" if digits == 0 else f"{value:.{digits}f}"


def _summary(recipe: str, result: dict[str, Any], base: str | None) -> str:
    shape = result.get("student") or {}
    depth = f"{shape['num_hidden_layers']}-layer " if "num_hidden_layers" in shape else ""
    return {
        "finetune": f"`{base}` fine-tuned by distilkit for {result.get('task')}.",
        "distil": f"A {depth}student distilled by distilkit from the {result.get('task')} teacher `{base}`.",
        "distil-embedding": f"A {depth}sentence encoder distilled by distilkit from the mean-pooled vectors of "
        f"`{base}`.",
        "distil-general": f"A {depth}general-purpose masked-LM student distilled by distilkit from `{base}` on raw text"
        " (DistilBERT's recipe): fine-tune it for a task.",
        "mlm-head": f"`{base}` with a masked-LM head trained by distilkit on its frozen encoder, so that it can teach "
        "with DistilBERT's soft-target loss.",
        "prune": f"`{base}` with its least important attention heads and feed-forward neurons removed from the weights "
        "by distilkit (structured pruning), not yet recovered: distil it back from its teacher with "
        "`distilkit distil --teacher TEACHER --student` this folder.",
    }.get(recipe, f"A model written by distilkit `{recipe}`.")


def _recipe(recipe: str, result: dict[str, Any]) -> list[str]:
    lines = [f"- command: `distilkit {recipe}`"]
    if "teacher" in result:
        lines.append(f"- teacher: `{result['teacher']}`")
    elif "base_model" in result:
        lines.append(f"- base model: `{result['base_model']}`")
    if result.get("student_start"):
        lines.append(f"- student started from: `{result['student_start']}`")
    if result.get("layer_map"):
        layers = result["layer_map"]
        init = f" (init: {result['init']})" if "init" in result else ""
        lines.append(f"- layer map: student layers 0..{len(layers) - 1} ← teacher layers {layers}{init}")
    elif "layer_map" in result:
        lines.append("- layer map: none recorded (no hidden-state loss can pair its layers with a teacher's)")
    pruning = result.get("pruning") or {}
    if pruning:
        lines.append(
            f"- pruned: {pruning.get('heads'):g} of the heads and {pruning.get('ffn'):g} of the feed-forward neurons "
            f"of every layer, the lowest by {pruning.get('rule')} on {pruning.get('examples')} training examples"
        )
    shape = result.get("student") or {}
    if shape:
        heads = f"{shape.get('num_attention_heads')} attention heads"
        if "attention_head_size" in shape:
            heads += f" of {shape['attention_head_size']}"
        ffn = f", feed-forward {shape['intermediate_size']}" if "intermediate_size" in shape else ""
        lines.append(
            f"- student: {shape.get('num_hidden_layers')} layers, hidden size {shape.get('hidden_size')}, {heads}{ffn}"
        )
    weights = result.get("weights") or {}
    losses = [f"{k[6:]} × {v:g} ({LOSSES[k]})" for k, v in weights.items() if k in LOSSES and v]
    if weights.get("alpha_hid") and "hidden_loss" in weights:
        losses = [loss.replace("layers)", f"layers, {weights['hidden_loss']})") for loss in losses]
    if losses:
        lines.append("- losses: " + "; ".join(losses))
    if "temperature" in weights:
        lines.append(f"- temperature T: {weights['temperature']:g}")
    options = {k: weights[k] for k in ("ce_tokens", "relation_heads") if k in weights}
    if options:
        lines.append("- loss options: " + ", ".join(f"{k} {v}" for k, v in options.items()))
    if "loss" in result:
        lines.append(f"- loss: {result['loss']} to the teacher's mean-pooled sentence vectors")
    if "transfer_examples" in result:
        lines.append(
            f"- transfer set: {result['transfer_examples']} examples "
            f"(augment: {result.get('augment', 0)} perturbed copies of each training text)"
        )
    pool = result.get("transfer") or {}
    if pool:
        sources = ", ".join(s["source"] for s in pool["sources"])
        lines.append(
            f"- unlabelled transfer texts: {pool['texts']:,} from {sources}, labelled by the teacher (KD weight "
            f"{pool['weight']:g}); {pool['dev_test_dropped']:,} equal to a dev/test text left out, "
            f"{pool['train_overlap']:,} also in the training split"
        )
    texts = result.get("texts") or {}
    if texts:
        lines.append(
            f"- texts: {texts.get('train')} for training, {texts.get('held_out')} held out ({texts['source']})"
        )
    corpus = result.get("corpus") or {}
    if corpus:
        lines.append(f"- corpus: {corpus.get('corpus_tokens'):,} tokens in {corpus.get('sequences'):,} sequences")
    if result.get("data"):
        lines.append("- data: " + ", ".join(f"{k} `{v}`" for k, v in result["data"].items() if v))
    if "max_length" in result:
        lines.append(f"- max length: {result['max_length']} tokens")
    return lines + _training(result.get("train") or {})


def _training(train: dict[str, Any]) -> list[str]:
    cfg = train.get("config") or {}
    if not cfg:
        return []
    length = f"{cfg['max_steps']} steps" if cfg.get("max_steps") else _plural(cfg.get("epochs"), "epoch")
    batch = f"{cfg.get('batch_size')}" + (f" × {cfg['grad_accum']} accumulated" if cfg.get("grad_accum", 1) > 1 else "")
    lines = [
        f"- training: {length} ({train.get('steps')} optimizer steps), AdamW lr {cfg.get('lr'):g}, batch size {batch}, "
        f"warm-up {cfg.get('warmup_ratio'):g}, weight decay {cfg.get('weight_decay'):g}, seed {cfg.get('seed')}"
        + (", embeddings frozen" if cfg.get("freeze_embeddings") else ""),
        f"- train time: {train.get('train_seconds')} s ({train.get('tokens_per_second')} tokens/s)"
        + (", stopped by the time budget" if train.get("stopped_by_time_budget") else ""),
    ]
    return lines


def _fewer_heads(shape: dict[str, Any]) -> bool:
    """Whether a model's heads leave part of its hidden width unfilled (head-pruned: plain transformers cannot load
    it, see `models.pruning.layout`)."""
    if not {"num_attention_heads", "attention_head_size", "hidden_size"} <= set(shape):
        return False
    return shape["num_attention_heads"] * shape["attention_head_size"] != shape["hidden_size"]


def _usage(pipeline: str, path: str, fewer_heads: bool = False) -> list[str]:
    auto = AUTO_CLASSES[pipeline]
    load = f'{auto}.from_pretrained("{path}")'
    imports = [f"from transformers import AutoTokenizer, {auto}"]
    if fewer_heads:  # transformers derives head size = hidden / heads; distilkit's loader reads attention_head_size
        load = f'load_pretrained({auto}, "{path}")  # fewer heads than hidden / head size: distilkit builds it'
        imports.append("from distilkit.models.pruning.layout import load_pretrained")
    lines = [
        "```python",
        *imports,
        "",
        f"model = {load}",
        f'tokenizer = AutoTokenizer.from_pretrained("{path}")',
        "```",
        "",
    ]
    if pipeline == "fill-mask":
        return [*lines, f"Fine-tune it: `distilkit finetune --model {path} --data DATA --out OUT`."]
    task = {"feature-extraction": " --task embedding", "token-classification": " --task token-classification"}
    export = f"distilkit export {path} --out BUNDLE{task.get(pipeline, '')} --quantize auto"
    return [*lines, f'Export it for the torch-free runtime: `{export}`, then `distilkit predict BUNDLE "..."`.']


def _validation(meta: dict[str, Any]) -> list[str]:
    validation, opt = meta.get("validation") or {}, meta.get("optimization") or {}
    lines = []
    for what, check in (
        (f"the fp32 graph vs PyTorch on {validation.get('texts')} texts", validation.get("fp32_vs_torch")),
        ("this bundle vs the fp32 graph", validation.get("bundle_vs_fp32")),
    ):
        if check:
            agreement = "" if check.get("agreement") is None else f", agreement {100 * check['agreement']:.2f}%"
            forced = " (forced: it did not pass)" if check.get("forced") else ""
            lines.append(f"- {what}: max |Δ| {check.get('max_abs_diff'):.3g}{agreement}{forced}")
    if opt:
        lines.append(f"- fused graph: {'yes' if opt.get('applied') else 'no'} {opt.get('reason') or ''}".rstrip())
    return lines


def _source(result: dict[str, Any]) -> list[str]:
    recipe = result.get("recipe", "finetune")
    lines = [
        f"- made by `distilkit {recipe}`" + (f" from the teacher `{result['teacher']}`" if "teacher" in result else "")
    ]
    for split, scores in _splits(result).items():
        shown = ", ".join(f"{label} {scores[key]:.4f}" for key, _, label, _ in METRICS if key in scores)
        lines.append(f"- PyTorch {split}: {shown}")
    return lines


def _bundle_usage(task: str, folder: str) -> list[str]:
    text = "Maria Lopez joined Acme Corp" if task == "token-classification" else "a fine film"
    call = "embed" if task == "embedding" else "predict"
    ner = " --task ner" if task == "token-classification" else ""
    cli = [f'distilkit predict {folder}{ner} "{text}"', f"distilkit serve {Path(folder).name}={folder}"]
    python = ["from distilkit.runtime import Predictor", "", f'Predictor("{folder}").{call}(["{text}"])']
    return ["```bash", *cli, "```", "", "```python", *python, "```"]
