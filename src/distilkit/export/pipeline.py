"""`export_bundle`: a Hugging Face folder in, a checked ONNX bundle out.

    trace (onnx_export) → fuse (optimize) → compare with PyTorch (validate) → quantize → write the bundle (bundle)

Texts drive three steps: validation (does the graph reproduce PyTorch?), scoring of quantized candidates, and static
calibration. With ``data`` a data folder (or known dataset), validation and scoring use its dev split and calibration
a sample of its train split; with ``data`` a single file (CSV/TSV/JSONL, or ``.txt`` with one text per line and no
labels), that file serves for all three; without ``data``, a few built-in sentences do (enough to catch a broken
graph, too few to choose a quantization by accuracy, which is why `auto` then judges candidates by agreement with the
fp32 graph).

Off a terminal each stage (trace, PyTorch outputs, fuse, validate, fp32 score, every quantization candidate, write)
is reported as a plain progress line (`core.progress`): exporting a large model with ``--quantize auto`` takes minutes.

``long_text`` (sequence classification) is the strategy the model was trained with for texts longer than
``max_length``: validation, scoring and calibration read texts that way (a windowed text's outputs are the mean of its
windows', as the runtime's), and bundle.json records it for the runtime to apply.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import yaml

import distilkit
from distilkit.core.errors import DistilkitError
from distilkit.core.long_text import LongText, long_text_report
from distilkit.core.progress import ProgressLog
from distilkit.core.tasks import SEQUENCE_CLASSIFICATION, check_task
from distilkit.export import quantize as q
from distilkit.export.bundle import runtime_tokenizer, write_bundle
from distilkit.export.onnx_export import EXPORTER, OPSET, ExportModel, export_onnx, load_for_export, torch_forward
from distilkit.export.optimize import OptimizeResult, fallback, optimize_onnx
from distilkit.export.texts import BUILTIN_TEXTS, ExportTexts, export_texts
from distilkit.export.validate import (
    Validation,
    collect_outputs,
    compare,
    require_match,
    session_forward,
)
from distilkit.runtime.bundle import session_options
from distilkit.runtime.encoding import Documents, TextEncoder

TIMING_TEXTS = 64
BATCH_SIZE = 32


def _copies(encoder: TextEncoder, texts: list[str]) -> list[dict[str, np.ndarray]]:
    """Feed dicts that outlive the encoder's reused buffers (for timing and calibration): the model inputs the runtime
    will make of `texts`, windows of long texts included."""
    rows = encoder.documents(texts).rows
    return [{k: v.copy() for k, v in batch.feeds.items()} for batch in encoder.batches_of(rows)]


def _session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"])


def export_bundle(
    model: str | Path,
    out: Path,
    task: str = "sequence-classification",
    quantize: str = "none",
    budget: float = q.DEFAULT_BUDGET,
    data: str | None = None,
    text_column: str = "text",
    label_column: str = "label",
    max_length: int = 128,
    max_texts: int = 1000,
    calibration_size: int = 128,
    optimize: bool = True,
    normalize: bool = True,
    force: bool = False,
    allow_pickle: bool = False,
    threads: int | None = None,
    resolved_config: dict[str, Any] | None = None,
    long_text: LongText | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Export `model` to a bundle at `out` and return its `bundle.json` contents.

    `long_text` is how the bundle reads texts longer than `max_length` (sequence classification only; default
    truncate), recorded in bundle.json and used by validation.

    Refuses (DistilkitError) when the fp32 graph does not reproduce PyTorch within 1e-4 with identical predictions,
    unless `force`. `quantize` is none, dynamic, static or auto; `budget` (points of the score, default 1) bounds what
    `auto` may lose against fp32, and is only recorded for an explicit dynamic/static choice. `quiet` turns off the
    progress lines printed when stdout is not a terminal.
    """
    check_task(task)
    check_task(quantize, q.MODES, "quantize")
    long_text = long_text or LongText()
    if task != SEQUENCE_CLASSIFICATION and not long_text.is_truncate:
        raise DistilkitError(f"long_text: {long_text.strategy} is for sequence-classification bundles, not {task}")
    if budget < 0:
        raise DistilkitError(f"budget: expected a non-negative number of points, got {budget}")
    texts = export_texts(data, task, text_column, label_column, max_texts, calibration_size)
    loaded = load_for_export(model, task, allow_pickle, normalize)
    if max_length > loaded.max_positions:
        raise DistilkitError(f"max_length: {max_length} is more than {model} takes ({loaded.max_positions} tokens)")
    gold = _gold_ids(texts, loaded)
    tokenizer = runtime_tokenizer(loaded.tokenizer)
    pad_id = int(loaded.tokenizer.pad_token_id)
    encoder = TextEncoder(tokenizer, loaded.input_names, max_length, pad_id, BATCH_SIZE, long_text)
    documents = encoder.documents(texts.validation)  # tokenized once for every graph compared on them
    stages = _stage_count(optimize, quantize)
    lines = ProgressLog("export", stages, unit="stage", rate=False, enabled=not quiet)

    with tempfile.TemporaryDirectory(prefix="distilkit-export-") as tmp:
        work = Path(tmp)
        sample = _copies(TextEncoder(tokenizer, loaded.input_names, max_length, pad_id, 2), list(BUILTIN_TEXTS[:2]))[0]
        lines.begin("trace")
        plain = export_onnx(loaded, sample, work / "plain.onnx")
        lines.begin(f"PyTorch outputs on {len(texts.validation)} texts")
        reference = collect_outputs(torch_forward(loaded), encoder, documents)
        fp32_path, optimization, validation = _fp32_graph(
            loaded, plain, work, encoder, documents, reference, optimize, lines
        )
        require_match(validation, str(model), force)

        def onnx_outputs(path: Path) -> list[np.ndarray]:
            return collect_outputs(session_forward(_session(path), loaded.output_name), encoder, documents)

        lines.begin("fp32 score")
        fp32_outputs = onnx_outputs(fp32_path)
        metric, fp32_score = q.score_points(task, fp32_outputs, fp32_outputs, gold)

        def scorer(path: Path) -> float:
            return q.score_points(task, onnx_outputs(path), fp32_outputs, gold)[1]

        final, quantization, bundle_score = _quantize(
            quantize, fp32_path, work, encoder, texts, scorer, fp32_score, budget, threads, lines
        )
        lines.begin("write bundle")
        versus_fp32 = None
        if final != fp32_path:
            diff = compare(fp32_outputs, onnx_outputs(final), task)
            versus_fp32 = {"max_abs_diff": diff.max_abs_diff, "agreement": diff.agreement}
        meta = _meta(loaded, model, max_length, pad_id, optimization, quantization, long_text)
        meta["validation"] = {
            "texts": len(texts.validation),
            "source": texts.source,
            "long_text": long_text_report(documents.lengths, max_length, encoder.specials, long_text).to_json(),
            "fp32_vs_torch": {**validation.to_json(), "forced": force and not validation.passed},
            "bundle_vs_fp32": versus_fp32,
        }
        meta["scores"] = {
            "metric": metric,
            "source": texts.source,
            "fp32": fp32_score,
            "bundle": bundle_score,
        }
        meta["model_bytes"] = final.stat().st_size
        extra = {"config.yaml": yaml.safe_dump(_plain(resolved_config), sort_keys=True)} if resolved_config else None
        write_bundle(out, final, tokenizer, meta, extra)
    lines.update(stages)
    return meta


def _stage_count(optimize: bool, quantize: str) -> int:
    """Stages `export_bundle` reports: trace, PyTorch outputs, [fuse,] validate, fp32 score, one per quantization
    candidate, write."""
    return 5 + int(optimize) + (len(q.candidates_for(quantize)) if quantize != "none" else 0)


def _gold_ids(texts: ExportTexts, loaded: ExportModel) -> list[int] | None:
    """Gold labels as the model's label ids; a dev label the model does not predict is an error, as in evaluate."""
    if texts.gold is None or loaded.task != "sequence-classification":
        return None
    ids = {name: i for i, name in enumerate(loaded.labels)}
    unknown = sorted(set(texts.gold) - set(ids))
    if unknown:
        raise DistilkitError(f"{texts.source}: labels {unknown} are not among the model's {loaded.labels}")
    return [ids[label] for label in texts.gold]


def _fp32_graph(
    loaded: ExportModel,
    plain: Path,
    work: Path,
    encoder: TextEncoder,
    documents: Documents,
    reference: list[np.ndarray],
    optimize: bool,
    lines: ProgressLog,
) -> tuple[Path, OptimizeResult, Validation]:
    """The fp32 graph to ship: the fused one if it reproduces PyTorch, else the plain one (reason recorded)."""

    def check(path: Path) -> Validation:
        outputs = collect_outputs(session_forward(_session(path), loaded.output_name), encoder, documents)
        return compare(reference, outputs, loaded.task)

    if not optimize:
        lines.begin("validate")
        return plain, OptimizeResult(False, "disabled (--no-optimize)"), check(plain)
    fused = work / "optimized.onnx"
    lines.begin("fuse")
    optimization = optimize_onnx(plain, fused, loaded.num_heads, loaded.attention_width)
    lines.begin("validate")
    validation = check(fused)
    if validation.passed or not optimization.applied:
        return fused, optimization, validation
    plain_validation = check(plain)
    if plain_validation.passed:
        reason = f"the fused graph does not reproduce PyTorch ({validation.describe()}); the plain graph does"
        return fused, fallback(plain, fused, reason, optimization), plain_validation
    return fused, optimization, validation


def _quantize(
    mode: str,
    fp32_path: Path,
    work: Path,
    encoder: TextEncoder,
    texts: ExportTexts,
    scorer: Callable[[Path], float],
    fp32_score: float,
    budget: float,
    threads: int | None,
    lines: ProgressLog,
) -> tuple[Path, dict[str, Any], float]:
    """Run the quantization `mode` asks for: the file to ship, what bundle.json records about it, and its score."""
    if mode == "none":
        return fp32_path, {"mode": "none", "method": "none", **q.FP32.to_json()}, fp32_score
    shaped = q.with_shapes(fp32_path, work / "shaped.onnx")
    configs = q.candidates_for(mode)
    calibration: list[dict[str, np.ndarray]] = []
    if any(c.method == "static" for c in configs):
        one = TextEncoder(
            encoder.tokenizer, encoder.input_names, encoder.max_length, encoder.pad_token_id, 1, encoder.long_text
        )
        calibration = _copies(one, texts.calibration)
    timing = _copies(encoder, texts.validation[:TIMING_TEXTS])
    results = q.try_candidates(
        configs, shaped, work, scorer, timing, calibration, threads, on_candidate=lambda c: lines.begin(f"quantize {c}")
    )
    info: dict[str, Any] = {
        "mode": mode,
        "budget": budget,
        "calibration": {"texts": len(texts.calibration), "source": texts.calibration_source} if calibration else None,
    }
    if mode == "auto":
        chosen, judged = q.select_candidate(results, fp32_score, budget)
        info["candidates"] = [r.to_json() for r in judged]
        if chosen is None:  # cannot happen while fp32 is a candidate, but a failed fp32 copy must not crash here
            chosen = q.CandidateResult(q.FP32, fp32_score, path=fp32_path)
    else:
        (chosen,) = results
        if chosen.error is not None:
            raise DistilkitError(f"{mode} quantization failed ({chosen.error})")
        chosen.status = "chosen" if q.within_budget(chosen.score or 0.0, fp32_score, budget) else "over budget"
        info["candidates"] = [chosen.to_json()]
    info.update(chosen.config.to_json())
    path = fp32_path if chosen.config.method == "none" or chosen.path is None else chosen.path
    return path, info, float(chosen.score if chosen.score is not None else fp32_score)


def _meta(
    loaded: ExportModel,
    model: str | Path,
    max_length: int,
    pad_id: int,
    optimization: OptimizeResult,
    quantization: dict[str, Any],
    long_text: LongText,
) -> dict[str, Any]:
    # Format 1 unless the runtime must read long_text: an older runtime then refuses the bundle instead of
    # truncating texts it was validated on in windows.
    meta: dict[str, Any] = {"format_version": 1 if long_text.is_truncate else 2, "task": loaded.task}
    if loaded.task == "embedding":
        meta["embedding_dim"] = loaded.output_width
        meta.update(loaded.extra)
    else:
        meta["labels"] = {str(i): name for i, name in enumerate(loaded.labels)}
    meta.update(
        max_length=max_length,
        inputs=loaded.input_names,
        output=loaded.output_name,
        pad_token_id=pad_id,
        long_text=long_text.to_json(max_length),
        source_model=str(model),
        model_type=loaded.model_type,
        export={"exporter": EXPORTER, "opset": OPSET, "attn_implementation": "eager", "torch": _version("torch")},
        optimization=optimization.to_json(),
        quantization=quantization,
        distilkit_version=distilkit.__version__,
        onnxruntime_version=ort.__version__,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    return meta


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """CLI parameters as YAML-safe values (paths as strings), without --config itself."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in params.items() if k != "config"}
