"""Trace a Hugging Face BERT-family model into an ONNX graph (opset 17, dynamic batch and sequence axes).

Three heads are exported, each behind a small wrapper so the graph has exactly the inputs and the one output the
runtime feeds and reads:

- ``sequence-classification``: the checkpoint's classifier, output ``logits`` (batch, labels)
- ``token-classification``: the checkpoint's tagger, output ``logits`` (batch, sequence, tags)
- ``embedding``: the base model, last hidden states mean-pooled over the real tokens (attention mask), optionally
  L2-normalised (what sentence-transformers' all-MiniLM-L6-v2 does), output ``embeddings`` (batch, hidden)

Which exporter
--------------
torch 2.13's ``torch.onnx.export`` defaults to ``dynamo=True`` (the default since 2.9). distilkit passes
``dynamo=False`` and uses the legacy TorchScript-tracing exporter, which 2.13 still ships (with a DeprecationWarning):

- the dynamo exporter needs the ``onnxscript`` package, which is not a distilkit dependency (nor installed here);
- tracing a BERT forward with ``dynamic_axes`` is the path ONNX Runtime's transformer optimizer was written
  against: on the legacy graph ``onnxruntime.transformers.optimizer`` fuses every layer's attention, the embedding
  LayerNorm, SkipLayerNorm and BiasGelu (checked on a 2-layer BERT with torch 2.13 / onnxruntime 1.32), which is
  where the CPU speed-up of the fp32 graph comes from;
- BERT's forward has no data-dependent control flow, so tracing loses nothing; the traced graph is checked against
  PyTorch on other batch sizes and lengths than the traced ones (`distilkit.export.validate`).

torch is pinned (2.13.0), so the deprecated path cannot disappear under us; moving to dynamo means adding
onnxscript and re-checking the fusions.

The model is loaded with ``attn_implementation="eager"``: with transformers' default SDPA attention the traced graph
computes the same values, but the optimizer finds no attention subgraph to fuse (0 Attention nodes instead of one
per layer).
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from distilkit.core.errors import DistilkitError
from distilkit.core.tasks import CLASSIFIER_ARCHITECTURES, MODEL_INPUTS, check_task
from distilkit.models.heads import LogitsModel, MeanPooledModel
from distilkit.models.pruning.layout import HEAD_SIZE, load_pretrained
from distilkit.models.teacher import load_config_and_tokenizer, load_kwargs, resolve_model_path
from distilkit.runtime.bundle import OUTPUT_NAMES

OPSET = 17
EXPORTER = "torch.onnx.export(dynamo=False): TorchScript tracing with dynamic_axes"


@dataclass
class ExportModel:
    """What the exporter needs to know about a loaded model, beyond the wrapped module itself."""

    module: nn.Module
    tokenizer: Any
    task: str
    input_names: list[str]
    labels: list[str]
    num_heads: int
    hidden_size: int
    attention_width: int  # heads × head size: the hidden size, or less for a head-pruned model
    model_type: str
    max_positions: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def output_name(self) -> str:
        return OUTPUT_NAMES[self.task]

    @property
    def output_width(self) -> int:
        return self.hidden_size if self.task == "embedding" else len(self.labels)


def load_for_export(
    name_or_path: str | Path, task: str, allow_pickle: bool = False, normalize: bool = True
) -> ExportModel:
    """Load a model for `task` in eval mode with eager attention, wrapped to give the exported graph's signature.

    A classification export needs a checkpoint trained for that head: exporting a freshly initialised classifier
    would ship random predictions, so that is refused (the embedding task takes any checkpoint's base model).
    """
    from transformers import (
        AutoModel,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
    )

    check_task(task)
    path = resolve_model_path(name_or_path, allow_pickle)
    config, tokenizer = load_config_and_tokenizer(name_or_path, path)
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise DistilkitError(f"{name_or_path}: the runtime needs a fast (tokenizers) tokenizer, this one is slow")
    if tokenizer.pad_token_id is None:
        raise DistilkitError(f"{name_or_path}: the tokenizer has no padding token")
    if task in CLASSIFIER_ARCHITECTURES:
        suffix = CLASSIFIER_ARCHITECTURES[task]
        if not any(a.endswith(suffix) for a in (getattr(config, "architectures", None) or [])):
            raise DistilkitError(
                f"{name_or_path}: config.json architectures {getattr(config, 'architectures', None)} have no "
                f"trained *{suffix} head; fine-tune it first, or export --task embedding"
            )
    auto = {
        "sequence-classification": AutoModelForSequenceClassification,
        "token-classification": AutoModelForTokenClassification,
        "embedding": AutoModel,
    }[task]
    try:
        model = load_pretrained(auto, path, attn_implementation="eager", **load_kwargs(allow_pickle))
    except (OSError, ValueError) as e:
        raise DistilkitError(f"{name_or_path}: cannot load model ({str(e).splitlines()[0]})") from None
    model.eval()
    module: nn.Module = LogitsModel(model) if task != "embedding" else MeanPooledModel(model, normalize)
    module.eval()
    labels = [] if task == "embedding" else [str(model.config.id2label[i]) for i in range(model.config.num_labels)]
    heads = int(_config_value(config, "num_attention_heads", "n_heads"))
    hidden = int(_config_value(config, "hidden_size", "dim"))
    return ExportModel(
        module=module,
        tokenizer=tokenizer,
        task=task,
        input_names=_input_names(model, tokenizer),
        labels=labels,
        num_heads=heads,
        hidden_size=hidden,
        attention_width=heads * int(getattr(config, HEAD_SIZE, None) or hidden // heads),
        model_type=str(getattr(config, "model_type", "")),
        max_positions=_max_positions(config, tokenizer),
        extra={"pooling": {"mode": "mean", "normalize": normalize}} if task == "embedding" else {},
    )


def _config_value(config: Any, *names: str) -> Any:
    """The first of `names` the config has (BERT says num_attention_heads/hidden_size, DistilBERT n_heads/dim)."""
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    raise DistilkitError(f"config.json: none of {', '.join(names)} is set; is this a BERT-family model?")


def _input_names(model: nn.Module, tokenizer: Any) -> list[str]:
    """input_ids and attention_mask, plus token_type_ids when both the tokenizer makes them and the model takes them.

    DistilBERT's tokenizer makes no token_type_ids and its forward takes none; a graph input that is never fed (or
    fed and ignored) would only confuse the runtime.
    """
    accepted = set(inspect.signature(model.forward).parameters)
    produced = set(getattr(tokenizer, "model_input_names", MODEL_INPUTS))
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in accepted and "token_type_ids" in produced:
        names.append("token_type_ids")
    return names


def _max_positions(config: Any, tokenizer: Any) -> int:
    """The longest input the model takes: the position table's size, or the tokenizer's limit when lower.

    RoBERTa-style models reserve two positions (their table is 514 for 512 tokens), which the tokenizer's
    ``model_max_length`` knows; tokenizers without a limit report a huge sentinel, ignored here.
    """
    limit = int(_config_value(config, "max_position_embeddings"))
    declared = getattr(tokenizer, "model_max_length", None)
    if isinstance(declared, int) and 0 < declared < 1_000_000:
        limit = min(limit, declared)
    return limit


def export_onnx(loaded: ExportModel, sample: dict[str, np.ndarray], path: Path) -> Path:
    """Trace `loaded.module` on `sample` (a padded batch) and write the ONNX graph to `path` (weights inside).

    Every input has dynamic batch and sequence axes; the output's batch axis (and sequence axis for token
    classification) is dynamic too. The sample should have at least two rows of different lengths so nothing in the
    trace is specialised to a batch of one or a mask of all ones.
    """
    names = loaded.input_names
    output = loaded.output_name
    dynamic_axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in names}
    dynamic_axes[output] = {0: "batch", 1: "sequence"} if loaded.task == "token-classification" else {0: "batch"}
    args = tuple(torch.from_numpy(np.ascontiguousarray(sample[name], dtype=np.int64)) for name in names)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The legacy exporter puts the module back in the mode it had before export; a wrapper left in training mode
    # (the nn.Module default) would switch dropout on in the caller's model afterwards. Hence eval() on both sides.
    loaded.module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "legacy TorchScript-based ONNX export": chosen
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape-to-Python-int notes in HF code
            # transformers' mask builder indexes with aranges (never negative), the case this warning is about.
            warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
            torch.onnx.export(
                loaded.module,
                args,
                str(path),
                dynamo=False,
                opset_version=OPSET,
                input_names=names,
                output_names=[output],
                dynamic_axes=dynamic_axes,
                do_constant_folding=True,
            )
    except Exception as e:  # tracing failures come as RuntimeError/TypeError/... from deep inside torch
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DistilkitError(f"ONNX export failed ({type(e).__name__}: {first})") from e
    finally:
        loaded.module.eval()
    return path


def torch_forward(loaded: ExportModel):
    """A function from a numpy feed dict (as the runtime builds it) to the PyTorch output as numpy, for validation."""

    @torch.no_grad()
    def forward(feeds: dict[str, np.ndarray]) -> np.ndarray:
        args = [torch.from_numpy(feeds[name]) for name in loaded.input_names]
        return loaded.module(*args).float().numpy()

    return forward
