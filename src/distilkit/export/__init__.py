"""Export a fine-tuned (or distilled) BERT-family model to a checked ONNX bundle for `distilkit.runtime`.

    from distilkit.export import export_bundle
    export_bundle("runs/s/model", Path("runs/s/bundle"), quantize="auto", data="sentiment-rt")

Steps, one module each: `onnx_export` (trace with torch.onnx), `optimize` (ONNX Runtime transformer fusions),
`validate` (ONNX vs PyTorch on real texts), `quantize` (dynamic / static INT8, `auto` search under a score budget),
`bundle` (atomic write of model.onnx + tokenizer.json + bundle.json); `pipeline` runs them in order.
This package needs torch and transformers; running a bundle does not (`distilkit.runtime`).
"""

from __future__ import annotations

from distilkit.export.pipeline import BUILTIN_TEXTS, export_bundle, export_texts

__all__ = ["BUILTIN_TEXTS", "export_bundle", "export_texts"]
