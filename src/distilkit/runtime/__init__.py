"""Run an exported bundle with ONNX Runtime: raw texts in, labels (or embeddings, or token tags) out.

This package imports only numpy, onnxruntime, tokenizers and the standard library, so a bundle can be served from a
machine that has no torch and no transformers: the base install, `pip install distilkit` (see "Export and runtime" in
the README). `distilkit/__init__.py` and `distilkit.core.errors` import nothing heavy, which is why the runtime can
share `DistilkitError` with the rest of distilkit instead of keeping an error class of its own.

    from distilkit.runtime import Predictor
    predictor = Predictor("runs/s/bundle", batch_size=32, threads=2)
    predictor.predict(["a very good film", "dull"])  # [{"label": "positive", "score": 0.97, "scores": {...}}, ...]
"""

from __future__ import annotations

from distilkit.core.tasks import TASKS
from distilkit.runtime.bundle import (
    BUNDLE_FILE,
    FORMAT_VERSION,
    MODEL_FILE,
    TOKENIZER_FILE,
    Bundle,
    load_bundle,
    session_options,
)
from distilkit.runtime.encoding import TextEncoder
from distilkit.runtime.predictor import Predictor

__all__ = [
    "BUNDLE_FILE",
    "FORMAT_VERSION",
    "MODEL_FILE",
    "TASKS",
    "TOKENIZER_FILE",
    "Bundle",
    "Predictor",
    "TextEncoder",
    "load_bundle",
    "session_options",
]
