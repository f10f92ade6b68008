"""Check an ONNX graph against the PyTorch model it came from, on real texts, before anyone ships it.

Both run on the *same* padded int64 batches, built by the runtime's own `TextEncoder` from the bundle's
`tokenizer.json`, so what is compared is exactly what a `Predictor` will feed. Two figures come out:

- max |Δ| over every output value (per-token outputs: real tokens only, padding positions are never read);
- agreement: the fraction of predictions (argmax per text, or per token) that are the same; embeddings have none.

For the fp32 graph the bar is strict (max |Δ| ≤ 1e-4 and 100% agreement): fp32 ONNX Runtime kernels reorder
floating-point sums, which moves logits by ~1e-6, so anything beyond 1e-4 is a wrong graph (a mask baked in at trace
time, a head split wrongly by a fusion), not rounding. A quantized graph is judged by its score instead
(`distilkit.export.quantize`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

from distilkit.core.errors import DistilkitError
from distilkit.runtime.encoding import Documents, TextEncoder

FP32_TOLERANCE = 1e-4

Forward = Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclass
class Validation:
    """How far one model's outputs are from a reference's on the same texts."""

    texts: int
    max_abs_diff: float
    agreement: float | None
    tolerance: float = FP32_TOLERANCE

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance and (self.agreement is None or self.agreement >= 1.0)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}

    def describe(self) -> str:
        agreement = "" if self.agreement is None else f", prediction agreement {100 * self.agreement:.2f}%"
        return f"max |Δ| {self.max_abs_diff:.3g} (tolerance {self.tolerance:g}){agreement} on {self.texts} texts"


def session_forward(session: ort.InferenceSession, output: str) -> Forward:
    """A feed dict → output function over an ONNX Runtime session."""

    def forward(feeds: dict[str, np.ndarray]) -> np.ndarray:
        return session.run([output], feeds)[0]

    return forward


def collect_outputs(forward: Forward, encoder: TextEncoder, texts: Sequence[str] | Documents) -> list[np.ndarray]:
    """Outputs per text, in order; per-token outputs are cut to the text's real tokens, the windows of a long text
    pooled into one (`Documents.pool`, as the `Predictor` does).

    `texts` may be the `Documents` the encoder already made of them: an export compares several graphs on the same
    texts, and tokenizes them once."""
    documents = texts if isinstance(texts, Documents) else encoder.documents(texts)
    rows: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(documents.rows)
    for batch in encoder.batches_of(documents.rows):
        values = np.asarray(forward(batch.feeds), dtype=np.float32)
        for row, (index, length) in enumerate(zip(batch.indices, batch.lengths, strict=True)):
            rows[int(index)] = values[row, :length].copy() if values.ndim == 3 else values[row].copy()
    return documents.pool(rows)


def compare(
    reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray], task: str, tolerance: float = FP32_TOLERANCE
) -> Validation:
    """max |Δ| and argmax agreement of `candidate` against `reference` (same texts, same order)."""
    if len(reference) != len(candidate):
        raise ValueError("compare: reference and candidate cover different numbers of texts")
    if not reference:
        raise DistilkitError("validation: no texts to compare on")
    max_diff = max(float(np.max(np.abs(r - c))) if r.size else 0.0 for r, c in zip(reference, candidate, strict=True))
    agreement = None
    if task != "embedding":
        ref = np.concatenate([np.atleast_1d(r.argmax(-1)) for r in reference])
        got = np.concatenate([np.atleast_1d(c.argmax(-1)) for c in candidate])
        agreement = float((ref == got).mean()) if ref.size else 1.0
    return Validation(texts=len(reference), max_abs_diff=max_diff, agreement=agreement, tolerance=tolerance)


def require_match(validation: Validation, what: str, force: bool) -> None:
    """Refuse (one line, how to override) a graph that does not reproduce PyTorch, unless `force` is set."""
    if validation.passed or force:
        return
    raise DistilkitError(
        f"{what}: the ONNX graph does not reproduce PyTorch: {validation.describe()}; "
        "not writing the bundle (pass --force to write it anyway)"
    )
