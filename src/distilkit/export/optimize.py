"""Fuse the exported graph with ONNX Runtime's transformer optimizer (attention, LayerNorm, GELU, embeddings).

A traced BERT layer is some forty small ops; the optimizer rewrites each layer into a handful of fused kernels
(``Attention``, ``SkipLayerNormalization``, ``BiasGelu``, ``EmbedLayerNormalization``), which is most of what makes the
fp32 graph fast on a CPU. The fused ops are ONNX Runtime contrib ops, which is fine: ONNX Runtime is the runtime.

The optimizer is pattern matching over someone else's graph, so it is allowed to fail: any exception, a result ONNX
Runtime cannot load, or (checked later, in the export pipeline) a result that no longer matches PyTorch, and the
unoptimised graph is used instead, with the reason recorded in ``bundle.json``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort

from distilkit.runtime.bundle import session_options

MODEL_TYPE = "bert"


@dataclass
class OptimizeResult:
    """Whether the fused graph is the one used, why not if it is not, and how many of each fused op it has."""

    applied: bool
    reason: str | None = None
    fused: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@contextlib.contextmanager
def quiet_onnx_logs() -> Iterator[None]:
    """Silence the optimizer's and quantizer's warnings ("consider pre-processing", table-size heuristics) for a call.

    They log through the root logger and `onnxruntime.*` loggers at WARNING; what matters to the user is recorded in
    `bundle.json` instead. Levels are restored afterwards.
    """
    loggers = [logging.getLogger(), logging.getLogger("onnxruntime"), logging.getLogger("onnxruntime.transformers")]
    loggers += [logging.getLogger(name) for name in list(logging.root.manager.loggerDict) if "onnx" in name.lower()]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def first_line(error: BaseException) -> str:
    """`Type: first line of the message`, the form failure reasons take in bundle.json."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def optimize_onnx(src: Path, dst: Path, num_heads: int, hidden_size: int) -> OptimizeResult:
    """Write the fused graph of `src` to `dst`; on any failure write `src` unchanged and say why.

    ``num_heads``/``hidden_size`` come from the model's config: the optimizer can guess them from the graph, but a
    wrong guess silently splits the heads wrongly in the fused ``Attention`` op, so they are always given.
    ``hidden_size`` is the attention's width, heads × head size: for a head-pruned model less than the model's
    hidden size (what the optimizer calls "the hidden dimension after pruning"). transformers reshapes q/k/v to
    (-1 heads, head size), and the optimizer only fuses such a reshape when heads × head size equals it. The default
    optimisation level for BERT (1: ONNX Runtime's hardware-independent basic passes, then the Python fusions) is
    used, so the saved graph runs on any CPU.
    """
    from onnxruntime.transformers.optimizer import optimize_model

    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        with quiet_onnx_logs():
            optimized = optimize_model(
                str(src), model_type=MODEL_TYPE, num_heads=num_heads, hidden_size=hidden_size, use_gpu=False
            )
            fused = {op: n for op, n in optimized.get_fused_operator_statistics().items() if n}
            optimized.save_model_to_file(str(dst), use_external_data_format=False)
        ort.InferenceSession(str(dst), sess_options=session_options(1), providers=["CPUExecutionProvider"])
    except Exception as e:  # the optimizer raises anything from AssertionError to onnx checker errors
        shutil.copyfile(src, dst)
        return OptimizeResult(False, f"optimizer failed ({first_line(e)})")
    if not fused:
        return OptimizeResult(True, "the optimizer found nothing to fuse", {})
    return OptimizeResult(True, None, fused)


def fallback(src: Path, dst: Path, reason: str, previous: OptimizeResult) -> OptimizeResult:
    """Replace a fused graph at `dst` by the unoptimised `src`, recording why (e.g. it no longer matches PyTorch)."""
    shutil.copyfile(src, dst)
    return OptimizeResult(False, reason, {k: 0 for k in previous.fused})
