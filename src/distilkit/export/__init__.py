"""Export a fine-tuned (or distilled) BERT-family model to a checked ONNX bundle for `distilkit.runtime`.

    from distilkit.export import export_bundle
    export_bundle("runs/s/model", Path("runs/s/bundle"), quantize="auto", data="sentiment-rt")

Steps, one module each: `onnx_export` (trace with torch.onnx), `optimize` (ONNX Runtime transformer fusions),
`validate` (ONNX vs PyTorch on real texts), `quantize` (dynamic / static INT8, `auto` search under a score budget),
`bundle` (atomic write of model.onnx + tokenizer.json + bundle.json); `pipeline` runs them in order.
Exporting needs torch and transformers; running a bundle does not (`distilkit.runtime`), and neither does turning
bundles into a Triton model repository (`triton`), which is why the pipeline is imported only when asked for.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BUILTIN_TEXTS", "export_bundle", "export_texts"]


def __getattr__(name: str) -> Any:
    """`export_bundle` and friends, from the pipeline, imported (with torch) on first use."""
    if name in __all__:
        from distilkit.export import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
