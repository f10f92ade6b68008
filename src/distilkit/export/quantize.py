"""INT8 quantization of the exported graph: dynamic, static (calibrated), or `auto`, which tries several and keeps
the fastest one that stays within a score budget of the fp32 graph.

Dynamic quantization stores weights as int8 and quantizes activations on the fly per batch: no data needed, and
usually most of the speed-up for a BERT on a CPU. Static quantization fixes activation ranges from calibration
batches (a sample of training texts) and writes QDQ pairs that ONNX Runtime turns into int8 kernels. Which variant
is fastest without costing accuracy depends on the model and the CPU, hence `auto`:

- candidates: fp32 itself; dynamic on MatMul+Attention; dynamic also on the embedding tables (Gather /
  EmbedLayerNormalization); dynamic on MatMul only (attention left in fp32); dynamic with the last encoder layer left
  in fp32; dynamic per-channel; static per-tensor and per-channel, with and without the embedding tables;
- a candidate whose op types do not occur in the graph collapses onto another and is skipped as a duplicate;
- each is scored on the validation texts (dev accuracy when the data has gold labels, else agreement with fp32) and
  timed on the same batches; `select_candidate` keeps the fastest whose score is at most `budget` points below fp32
  (the smallest of those within `SPEED_TIE` of the fastest).

The graph is shape-inferred first with ONNX Runtime's symbolic shape inference: the quantizer must know the type of
every tensor it touches, and ONNX's own inference knows nothing of the fused contrib ops (``Attention``,
``SkipLayerNormalization``), so without this step dynamic quantization of an optimised BERT fails outright.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)

from distilkit.core.errors import DistilkitError
from distilkit.export.optimize import first_line, quiet_onnx_logs
from distilkit.runtime.bundle import session_options

MODES = ("none", "dynamic", "static", "auto")
DEFAULT_BUDGET = 1.0
# Candidates within this fraction of the fastest latency count as equally fast: on a shared CPU one timing differs
# from the next by more than that, and among equals the smaller file is what an edge device wants.
SPEED_TIE = 0.10
EMBEDDING_OPS = ("Gather", "EmbedLayerNormalization")
ATTENTION_OPS = ("Attention",)
_LAYER = re.compile(r"/layer\.(\d+)/")


@dataclass(frozen=True)
class QuantConfig:
    """One way to quantize: `method` fp32 (none), dynamic or static; which op types; per-channel; last layer kept."""

    name: str
    method: str
    op_types: tuple[str, ...] = ()
    per_channel: bool = False
    keep_last_layer: bool = False

    @property
    def quantizes_embeddings(self) -> bool:
        return any(op in self.op_types for op in EMBEDDING_OPS)

    def effective(self, graph_ops: set[str]) -> tuple:
        """What this config actually does on a graph with `graph_ops`: configs with the same value are duplicates."""
        return (self.method, tuple(sorted(set(self.op_types) & graph_ops)), self.per_channel, self.keep_last_layer)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "method": self.method,
            "op_types": list(self.op_types),
            "per_channel": self.per_channel,
            "keep_last_layer": self.keep_last_layer,
            "embeddings_quantized": self.quantizes_embeddings,
        }


FP32 = QuantConfig("fp32", "none")
DYNAMIC = QuantConfig("dynamic", "dynamic", ("MatMul", *ATTENTION_OPS))
STATIC = QuantConfig("static", "static", ("MatMul",))
AUTO_CANDIDATES: tuple[QuantConfig, ...] = (
    FP32,
    DYNAMIC,
    QuantConfig("dynamic+embeddings", "dynamic", ("MatMul", *ATTENTION_OPS, *EMBEDDING_OPS)),
    QuantConfig("dynamic-matmul-only", "dynamic", ("MatMul",)),
    QuantConfig("dynamic-keep-last-layer", "dynamic", ("MatMul", *ATTENTION_OPS), keep_last_layer=True),
    QuantConfig("dynamic-per-channel", "dynamic", ("MatMul", *ATTENTION_OPS), per_channel=True),
    STATIC,
    QuantConfig("static-per-channel", "static", ("MatMul",), per_channel=True),
    QuantConfig("static+embeddings", "static", ("MatMul", "Gather")),
)


@dataclass
class CandidateResult:
    """How one candidate did: its score (points, 0-100), latency (ms per pass over the timing batches), file size.

    `status` is filled in by `select_candidate`: ``chosen``, ``slower`` (within budget, not the fastest),
    ``rejected`` (over budget), ``failed`` (quantization or scoring raised) or ``duplicate``.
    """

    config: QuantConfig
    score: float | None = None
    latency_ms: float | None = None
    size_bytes: int | None = None
    error: str | None = None
    status: str = ""
    reason: str = ""
    path: Path | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.config.name

    def to_json(self) -> dict[str, Any]:
        return {
            **self.config.to_json(),
            "score": self.score,
            "latency_ms": self.latency_ms,
            "size_bytes": self.size_bytes,
            "status": self.status,
            "reason": self.reason,
        }


def within_budget(score: float, reference: float, budget: float) -> bool:
    """Whether `score` loses at most `budget` points against the fp32 `reference` (a tiny epsilon absorbs rounding)."""
    return score >= reference - budget - 1e-9


def select_candidate(
    results: Sequence[CandidateResult], reference: float, budget: float
) -> tuple[CandidateResult | None, list[CandidateResult]]:
    """Pick the fastest candidate within `budget` points of `reference`; every candidate comes back with a verdict.

    Pure: the inputs are not modified, copies with `status`/`reason` set are returned in the input order, with the
    chosen one (None when nothing qualifies). Candidates within `SPEED_TIE` of the fastest latency are ties, won by
    the smaller file (then the faster, then the earlier candidate): quantizing the embedding table shrinks a small
    student threefold for a few percent of time that the machine's noise cannot tell apart.
    Candidates already marked failed or duplicate keep that verdict.
    """
    if budget < 0:
        raise DistilkitError(f"budget: expected a non-negative number of points, got {budget}")
    judged: list[CandidateResult] = []
    for r in results:
        if r.status in ("failed", "duplicate"):
            judged.append(dataclasses.replace(r))
        elif r.error is not None or r.score is None or r.latency_ms is None:
            judged.append(dataclasses.replace(r, status="failed", reason=r.error or "not scored"))
        elif not within_budget(r.score, reference, budget):
            loss = reference - r.score
            reason = f"score {r.score:.2f} is {loss:.2f} points below fp32 {reference:.2f} (budget {budget:g})"
            judged.append(dataclasses.replace(r, status="rejected", reason=reason))
        else:
            judged.append(dataclasses.replace(r, status="within budget"))
    eligible = [(i, r) for i, r in enumerate(judged) if r.status == "within budget"]
    if not eligible:
        return None, judged
    fastest = min(r.latency_ms for _, r in eligible)
    tied = [(i, r) for i, r in eligible if r.latency_ms <= fastest * (1 + SPEED_TIE)]
    best_index, best = min(tied, key=lambda ir: (ir[1].size_bytes or 0, ir[1].latency_ms, ir[0]))
    for i, r in eligible:
        if i == best_index:
            how = "fastest" if len(tied) == 1 else f"smallest of the {len(tied)} within {SPEED_TIE:.0%} of the fastest"
            judged[i] = dataclasses.replace(r, status="chosen", reason=f"{how}, within {budget:g} points of fp32")
        else:
            judged[i] = dataclasses.replace(
                r, status="slower", reason=f"{r.latency_ms:.3f} ms vs {best.latency_ms:.3f} ms for {best.name}"
            )
    return judged[best_index], judged


def with_shapes(src: Path, dst: Path) -> Path:
    """`src` with every tensor's type and shape annotated (symbolic inference knows the contrib ops), saved to `dst`.

    Falls back to ONNX's own inference, then to the graph as it is: the quantizer then skips what it cannot type, and
    a candidate that fails for it is recorded as failed rather than stopping the export.
    """
    model = onnx.load(str(src))
    try:
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

        with quiet_onnx_logs():
            inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
        if inferred is None:
            raise RuntimeError("symbolic shape inference returned nothing")
        model = inferred
    except Exception:
        with contextlib.suppress(Exception):
            model = onnx.shape_inference.infer_shapes(model)
    onnx.save(model, str(dst))
    return dst


def graph_ops(path: Path) -> set[str]:
    """Op types in the graph that quantization could act on.

    A ``Gather`` counts only when it reads a weight table (an initializer): after fusion the embedding tables live in
    ``EmbedLayerNormalization`` and the Gathers left over pick the [CLS] row or shape values, so "quantize the
    embeddings" on such a graph changes nothing and is recognised as a duplicate candidate.
    """
    graph = onnx.load(str(path), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}
    return {
        node.op_type for node in graph.node if node.op_type != "Gather" or (node.input and node.input[0] in weights)
    }


def last_layer_nodes(path: Path) -> list[str]:
    """Names of the nodes of the last encoder layer: traced names carry ``/layer.<i>/``; fused attention nodes do not,
    so the last ``Attention`` node in graph order (they come one per layer, in order) is added."""
    graph = onnx.load(str(path), load_external_data=False).graph
    layers = [int(m.group(1)) for node in graph.node if (m := _LAYER.search(node.name))]
    if not layers:
        raise DistilkitError("no encoder layers found in the graph's node names")
    last = max(layers)
    names = [node.name for node in graph.node if f"/layer.{last}/" in node.name]
    attention = [node.name for node in graph.node if node.op_type in ATTENTION_OPS]
    if attention and attention[-1] not in names:
        names.append(attention[-1])
    return names


class FeedsReader(CalibrationDataReader):
    """A `CalibrationDataReader` over prepared feed dicts (one calibration batch each)."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]):
        super().__init__()
        self.feeds = list(feeds)
        self._next = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._next >= len(self.feeds):
            return None
        self._next += 1
        return self.feeds[self._next - 1]

    def rewind(self) -> None:
        self._next = 0


def quantize(src: Path, dst: Path, config: QuantConfig, calibration: Sequence[dict[str, np.ndarray]] = ()) -> Path:
    """Quantize the shape-annotated graph `src` into `dst` as `config` says (fp32: a copy)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if config.method == "none":
        onnx.save(onnx.load(str(src)), str(dst))
        return dst
    exclude = last_layer_nodes(src) if config.keep_last_layer else None
    ops = sorted(set(config.op_types) & graph_ops(src))
    if not ops:
        raise DistilkitError(f"{config.name}: none of {list(config.op_types)} occurs in the graph")
    with quiet_onnx_logs():
        if config.method == "dynamic":
            quantize_dynamic(
                src,
                dst,
                op_types_to_quantize=ops,
                per_channel=config.per_channel,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=exclude,
            )
        elif config.method == "static":
            if not calibration:
                raise DistilkitError(f"{config.name}: static quantization needs calibration texts")

            # QDQ with signed int8 activations and weights: ONNX Runtime's recommended first choice on x86-64.
            quantize_static(
                src,
                dst,
                FeedsReader(calibration),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=ops,
                per_channel=config.per_channel,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=exclude,
                calibrate_method=CalibrationMethod.MinMax,
            )
        else:
            raise DistilkitError(f"quantize: unknown method {config.method!r}")
    return dst


def time_model(path: Path, batches: Sequence[dict[str, np.ndarray]], threads: int | None, repeats: int = 5) -> float:
    """Median milliseconds for one pass over `batches` (after one untimed warm-up pass)."""
    session = ort.InferenceSession(str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"])
    for feeds in batches:
        session.run(None, feeds)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for feeds in batches:
            session.run(None, feeds)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def score_points(
    task: str, outputs: Sequence[np.ndarray], reference: Sequence[np.ndarray], gold: Sequence[int] | None
) -> tuple[str, float]:
    """The figure a candidate is judged by, in points (0-100), and its name.

    Sequence classification with gold labels: accuracy. Otherwise there is nothing to measure against but the fp32
    graph: argmax agreement with it (per text or per token), or for embeddings the mean cosine similarity to it.
    """
    if task == "sequence-classification" and gold is not None:
        predicted = np.array([int(o.argmax()) for o in outputs])
        return "accuracy", float(100 * (predicted == np.asarray(gold)).mean())
    if task == "embedding":
        cos = [
            min(1.0, float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)))
            for a, b in zip(outputs, reference, strict=True)
        ]
        return "cosine_to_fp32", float(100 * np.mean(cos))
    got = np.concatenate([np.atleast_1d(o.argmax(-1)) for o in outputs])
    ref = np.concatenate([np.atleast_1d(r.argmax(-1)) for r in reference])
    return "agreement_with_fp32", float(100 * (got == ref).mean()) if ref.size else 100.0


def candidates_for(mode: str) -> tuple[QuantConfig, ...]:
    if mode == "dynamic":
        return (DYNAMIC,)
    if mode == "static":
        return (STATIC,)
    if mode == "auto":
        return AUTO_CANDIDATES
    raise DistilkitError(f"quantize: expected one of {', '.join(MODES)}, got {mode!r}")


def mark_duplicates(configs: Iterable[QuantConfig], ops: set[str]) -> tuple[list[QuantConfig], dict[str, str]]:
    """Configs that do something distinct on a graph with `ops`, and for the others the name of the one they equal."""
    seen: dict[tuple, str] = {}
    keep: list[QuantConfig] = []
    duplicates: dict[str, str] = {}
    for config in configs:
        key = config.effective(ops)
        if key in seen:
            duplicates[config.name] = seen[key]
        else:
            seen[key] = config.name
            keep.append(config)
    return keep, duplicates


def failed(config: QuantConfig, error: BaseException) -> CandidateResult:
    return CandidateResult(config, error=first_line(error), status="failed", reason=first_line(error))


def try_candidates(
    configs: Sequence[QuantConfig],
    src: Path,
    workdir: Path,
    scorer: Callable[[Path], float],
    timing_batches: Sequence[dict[str, np.ndarray]],
    calibration: Sequence[dict[str, np.ndarray]] = (),
    threads: int | None = None,
    on_candidate: Callable[[str], None] | None = None,
) -> list[CandidateResult]:
    """Quantize, score and time each config on the shape-annotated graph `src`; failures are recorded, not raised.

    `scorer` maps a model file to its score in points. Configs that would produce the same graph as an earlier one
    are marked ``duplicate`` without being run. `on_candidate(name)` is told as each config starts (duplicates
    included, so a caller counting stages counts every config): candidates are the slow part of an export.
    """
    _, duplicates = mark_duplicates(configs, graph_ops(src))
    results: list[CandidateResult] = []
    for config in configs:
        if on_candidate is not None:
            on_candidate(config.name)
        if config.name in duplicates:
            reason = f"same graph as {duplicates[config.name]} (its op types do not all occur in this graph)"
            results.append(CandidateResult(config, status="duplicate", reason=reason))
            continue
        path = workdir / f"candidate-{config.name}.onnx"
        try:
            quantize(src, path, config, calibration)
            score = scorer(path)
            latency = time_model(path, timing_batches, threads)
        except Exception as e:  # a candidate that cannot be built or run is a result, not the end of the export
            results.append(failed(config, e))
            continue
        results.append(CandidateResult(config, score, latency, path.stat().st_size, path=path))
    return results
