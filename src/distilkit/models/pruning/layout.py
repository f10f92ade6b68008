"""Where a BERT-family layer keeps its attention heads and feed-forward neurons, and how a model with fewer heads is
built and loaded.

Fewer feed-forward neurons is a plain config change (`intermediate_size`, the same in every layer), which
transformers builds and loads by itself. Fewer heads is not: BERT's and MPNet's self-attention in transformers 5
derive the head size as ``hidden_size // num_attention_heads`` and read no other field, so 9 of 12 heads of 32 dims in
a 384-wide model (q/k/v 384 → 288) cannot be described to them. A head-pruned model therefore records
``attention_head_size`` in its config.json (the field DeBERTa-v2's attention reads) beside the reduced
``num_attention_heads``; `load_pretrained` builds such a model through `pruned_class`, a subclass of its own
transformers class that builds the full-width layers and narrows their q/k/v/output projections before the weights
are loaded. The forward pass is transformers' own (it reshapes by head size, with -1 heads). Plain
``from_pretrained`` refuses such a checkpoint with a size-mismatch error, never silently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel

from distilkit.core.errors import DistilkitError

HEAD_SIZE = "attention_head_size"
"""The config.json field of a head-pruned model: the size of each head, which no longer equals hidden / heads."""


@dataclass(frozen=True)
class Layout:
    """The module paths, inside one `...layer.<i>` module, of what pruning slices.

    `attention` holds the head count (`num_attention_heads`, `all_head_size`) and the q/k/v projections
    `projections`; `output` is the attention's output projection (its inputs are the heads side by side); `ffn_in` /
    `ffn_out` the feed-forward pair (the neurons are `ffn_in`'s outputs). `shared_bias` names a per-head table on the
    module that holds the layers, shared by all of them (MPNet's relative attention bias), else None.
    """

    name: str
    attention: str
    projections: tuple[str, str, str]
    output: str
    ffn_in: str
    ffn_out: str
    shared_bias: str | None = None


LAYOUTS = (
    Layout(
        "BERT-style",
        "attention.self",
        ("query", "key", "value"),
        "attention.output.dense",
        "intermediate.dense",
        "output.dense",
    ),  # fmt: skip
    Layout(
        "MPNet",
        "attention.attn",
        ("q", "k", "v"),
        "attention.attn.o",
        "intermediate.dense",
        "output.dense",
        "relative_attention_bias",
    ),  # fmt: skip
)
"""BERT-style covers BERT, RoBERTa, ELECTRA, XLM-R and MiniLM (all-MiniLM-L6-v2 is a BERT)."""


def encoder_layers(model: nn.Module) -> tuple[nn.Module, nn.ModuleList]:
    """The module holding the transformer layers (the encoder) and its `layer` ModuleList."""
    found = [
        (module, module.layer)
        for module in model.modules()
        if isinstance(getattr(module, "layer", None), nn.ModuleList) and len(module.layer)
    ]
    if len(found) != 1:
        raise DistilkitError(
            f"prune: {type(model).__name__} has {'no' if not found else 'several'} `layer` lists of transformer "
            "layers; pruning needs one encoder (BERT-style or MPNet)"
        )
    return found[0]


def layout_of(model: nn.Module) -> Layout:
    """The `Layout` whose every path exists in the model's first layer; a one-line error for other architectures."""
    _, layers = encoder_layers(model)
    for layout in LAYOUTS:
        paths = [layout.output, layout.ffn_in, layout.ffn_out]
        paths += [f"{layout.attention}.{name}" for name in layout.projections]
        if all(isinstance(module_at(layers[0], path), nn.Linear) for path in paths):
            return layout
    raise DistilkitError(
        f"prune: {type(model).__name__} has no attention heads where pruning looks for them "
        f"({' or '.join(f'{x.name}: {x.attention}.{x.projections[0]}' for x in LAYOUTS)}); supported are "
        "BERT-style models (BERT, RoBERTa, ELECTRA, MiniLM) and MPNet"
    )


def heads_of(config: PretrainedConfig) -> tuple[int, int]:
    """(heads per layer, size of each head): the recorded head size of a head-pruned model, else hidden / heads."""
    heads = int(config.num_attention_heads)
    return heads, int(getattr(config, HEAD_SIZE, None) or config.hidden_size // heads)


def has_fewer_heads(config: PretrainedConfig) -> bool:
    """Whether the heads do not fill the hidden width (a head-pruned model transformers cannot build alone)."""
    heads, size = heads_of(config)
    return heads * size != int(config.hidden_size)


@contextlib.contextmanager
def _full_heads(config: PretrainedConfig) -> Iterator[None]:
    """`config` as transformers can build it (all the heads that fit the hidden width), for the duration."""
    heads, size = heads_of(config)
    config.num_attention_heads = int(config.hidden_size) // size
    try:
        yield
    finally:
        config.num_attention_heads = heads


def pruned_class(cls: type[PreTrainedModel]) -> type[PreTrainedModel]:
    """`cls` (e.g. BertForSequenceClassification) able to build a model with fewer heads than its config's width.

    The subclass keeps `cls`'s name (save_pretrained writes it to config.json `architectures`, and the checkpoint
    stays one of `cls`); it builds the full-width layers, then keeps the first heads of each, so the shapes match the
    checkpoint the weights are then loaded from. A config with full heads builds exactly `cls`.
    """
    if getattr(cls, "_distilkit_pruned", False):
        return cls

    def __init__(self, config, *args, **kwargs):  # noqa: N807 - the subclass's constructor
        if not has_fewer_heads(config):
            cls.__init__(self, config, *args, **kwargs)
            return
        heads, size = heads_of(config)
        with _full_heads(config):
            cls.__init__(self, config, *args, **kwargs)
        encoder, layers = encoder_layers(self)
        narrow_heads(encoder, layers, layout_of(self), [list(range(heads))] * len(layers), size)

    return type(cls.__name__, (cls,), {"__init__": __init__, "_distilkit_pruned": True, "__module__": cls.__module__})


def model_class(cls: type[PreTrainedModel], config: PretrainedConfig) -> type[PreTrainedModel]:
    """The class that builds a model of `config`: `cls`, or its `pruned_class` when the config has fewer heads."""
    return pruned_class(cls) if has_fewer_heads(config) else cls


def load_pretrained(auto, path: str, **kwargs) -> PreTrainedModel:
    """`auto.from_pretrained(path, **kwargs)`, also for a head-pruned checkpoint (see the module docstring)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path, trust_remote_code=False)
    if not has_fewer_heads(config):
        return auto.from_pretrained(path, **kwargs)
    return pruned_class(auto._model_mapping[type(config)]).from_pretrained(path, **kwargs)


def narrow_heads(encoder: nn.Module, layers: nn.ModuleList, layout: Layout, keep: list[list[int]], size: int) -> None:
    """Keep, in layer i, the heads `keep[i]` (in that order): q/k/v lose the other heads' output rows, the output
    projection their input columns. A shared per-head table (MPNet) keeps the same heads, so every layer must keep
    the same ones there. Only modules change; the config is the caller's."""
    if layout.shared_bias is not None and any(k != keep[0] for k in keep):
        raise ValueError(f"{layout.name} shares one per-head bias across layers: every layer must keep the same heads")
    for layer, heads in zip(layers, keep, strict=True):
        units = torch.cat([torch.arange(h * size, (h + 1) * size) for h in heads])  # (kept heads × size,)
        attention = module_at(layer, layout.attention)
        for name in layout.projections:
            setattr(attention, name, _keep_rows(getattr(attention, name), units))
        replace_module(layer, layout.output, _keep_columns(module_at(layer, layout.output), units))
        attention.num_attention_heads = len(heads)
        attention.all_head_size = len(heads) * size
    if layout.shared_bias is not None:
        table: nn.Embedding = getattr(encoder, layout.shared_bias)  # (buckets, heads)
        narrowed = nn.Embedding(
            table.num_embeddings, len(keep[0]), device=table.weight.device, dtype=table.weight.dtype
        )
        narrowed.weight = nn.Parameter(table.weight.detach()[:, keep[0]].clone())
        setattr(encoder, layout.shared_bias, narrowed)
        encoder.n_heads = len(keep[0])


def narrow_neurons(layers: nn.ModuleList, layout: Layout, keep: list[list[int]]) -> None:
    """Keep, in layer i, the feed-forward neurons `keep[i]`: rows of the input projection, columns of the output."""
    for layer, neurons in zip(layers, keep, strict=True):
        index = torch.tensor(neurons, dtype=torch.long)
        replace_module(layer, layout.ffn_in, _keep_rows(module_at(layer, layout.ffn_in), index))
        replace_module(layer, layout.ffn_out, _keep_columns(module_at(layer, layout.ffn_out), index))


def _keep_rows(linear: nn.Linear, index: torch.Tensor) -> nn.Linear:
    """The outputs `index` of `linear`: weight (out, in) → (len(index), in)."""
    new = nn.Linear(linear.in_features, len(index), linear.bias is not None, linear.weight.device, linear.weight.dtype)
    new.weight = nn.Parameter(linear.weight.detach()[index].clone())
    if linear.bias is not None:
        new.bias = nn.Parameter(linear.bias.detach()[index].clone())
    return new


def _keep_columns(linear: nn.Linear, index: torch.Tensor) -> nn.Linear:
    """`linear` reading only its inputs `index`: weight (out, in) → (out, len(index)); the bias is unchanged."""
    new = nn.Linear(len(index), linear.out_features, linear.bias is not None, linear.weight.device, linear.weight.dtype)
    new.weight = nn.Parameter(linear.weight.detach()[:, index].clone())
    if linear.bias is not None:
        new.bias = nn.Parameter(linear.bias.detach().clone())
    return new


def module_at(module: nn.Module, path: str) -> nn.Module | None:
    """The submodule at a dotted path (`attention.self.query`), None when a step is missing."""
    for name in path.split("."):
        module = getattr(module, name, None)
        if module is None:
            return None
    return module


def replace_module(module: nn.Module, path: str, value: nn.Module) -> None:
    """Put `value` at the dotted path inside `module`."""
    parent, _, name = path.rpartition(".")
    setattr(module_at(module, parent) if parent else module, name, value)
