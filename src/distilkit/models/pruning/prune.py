"""From scores to a smaller model: which heads and neurons each layer keeps, and removing the others from the weights.

Every layer keeps the same number of heads and of neurons, its own highest-scoring ones, so the result has one
`num_attention_heads` and one `intermediate_size` (transformers loads a neuron-pruned model as it is, a head-pruned
one through `layout.load_pretrained`; ONNX Runtime fuses attention with one head count). The exception is MPNet,
whose relative attention bias is one per-head table shared by all layers: there every layer keeps the same heads,
ranked by their scores summed over the layers after normalising each layer's to unit L2 norm (Michel et al.'s
normalisation, so that no layer's scale dominates).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from distilkit.core.errors import require_fraction
from distilkit.models.pruning.layout import (
    HEAD_SIZE,
    encoder_layers,
    heads_of,
    layout_of,
    module_at,
    narrow_heads,
    narrow_neurons,
)
from distilkit.models.pruning.scores import UnitScores


@dataclass
class PrunePlan:
    """The heads and the feed-forward neurons each layer keeps (sorted indices into the model being pruned)."""

    heads: list[list[int]]
    neurons: list[list[int]]

    def to_json(self) -> dict[str, list[list[int]]]:
        return {"heads": self.heads, "neurons": self.neurons}


def kept(fraction: float, units: int, name: str) -> int:
    """How many of `units` stay when `fraction` of them is removed (⌊fraction · units⌋ go, so at least one stays)."""
    require_fraction(name, fraction)
    return units - int(fraction * units)


def plan_pruning(model: PreTrainedModel, scores: UnitScores, heads: float, ffn: float) -> PrunePlan:
    """Keep the highest-scoring 1 - `heads` of each layer's heads and 1 - `ffn` of its neurons."""
    shared = layout_of(model).shared_bias is not None
    head_count, neuron_count = scores.heads.shape[1], scores.neurons.shape[1]
    return PrunePlan(
        heads=_top(scores.heads, kept(heads, head_count, "heads"), shared),
        neurons=_top(scores.neurons, kept(ffn, neuron_count, "ffn"), False),
    )


def _top(scores: torch.Tensor, keep: int, shared: bool) -> list[list[int]]:
    """The `keep` best units of each row of `scores` (layers, units), in their original order; ties go to the
    lower index. `shared`: the same units for every layer, by the sum of the rows normalised to unit norm."""
    if shared:
        total = (scores / scores.norm(dim=1, keepdim=True).clamp_min(1e-30)).sum(0)  # (units,)
        return [_best(total, keep)] * scores.shape[0]
    return [_best(row, keep) for row in scores]


def _best(row: torch.Tensor, keep: int) -> list[int]:
    order = torch.argsort(-row, stable=True)[:keep]
    return sorted(order.tolist())


def apply_pruning(model: PreTrainedModel, plan: PrunePlan) -> None:
    """Remove, in place, the heads and neurons `plan` does not keep, and say so in the config.

    Nothing is touched where a layer keeps all its units (a plan that keeps everything leaves the model as it was).
    """
    encoder, layers = encoder_layers(model)
    layout = layout_of(model)
    heads, size = heads_of(model.config)
    neurons = module_at(layers[0], layout.ffn_in).out_features
    if any(k != list(range(heads)) for k in plan.heads):
        narrow_heads(encoder, layers, layout, plan.heads, size)
        model.config.num_attention_heads = len(plan.heads[0])
        setattr(model.config, HEAD_SIZE, size)
    if any(k != list(range(neurons)) for k in plan.neurons):
        narrow_neurons(layers, layout, plan.neurons)
        model.config.intermediate_size = len(plan.neurons[0])


def pruned_shape(model: PreTrainedModel) -> dict[str, int]:
    """Depth, widths, heads and parameters: what results.json records of a pruned model."""
    heads, size = heads_of(model.config)
    return {
        "num_hidden_layers": int(model.config.num_hidden_layers),
        "hidden_size": int(model.config.hidden_size),
        "num_attention_heads": heads,
        HEAD_SIZE: size,
        "intermediate_size": int(model.config.intermediate_size),
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }
