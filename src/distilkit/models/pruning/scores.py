"""How much each attention head and feed-forward neuron matters to a classifier's loss.

The rule (Michel et al. 2019, "Are Sixteen Heads Really Better than One?"): put a gate ξ = 1 on every unit (a head's
output before the attention's output projection, a neuron's activation before the feed-forward output projection)
and score the unit by the expected absolute gradient of the loss with respect to its gate over training examples,

    I(unit) = Σ_x |∂L(x)/∂ξ_unit|,

the first-order estimate of how much the loss of example x changes when the unit is removed (ξ: 1 → 0); the absolute
value is taken per example so that examples the unit helps and hurts do not cancel. The gates are per example (shape
(batch, units)) and the loss is summed over the batch, so one backward pass gives every example's own gradient
(Michel's code takes |·| of a whole batch's gradient instead). Why this rule: it needs one forward and backward
pass per batch over a few hundred examples, no training and no mask search, and the same gate serves heads and
neurons, so both are ranked by the same loss. The loss is the model's own cross-entropy on the gold labels (per
labelled position for token classification). Dropout is off and the examples are fixed by the caller, so the scores
are deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from distilkit.core.tasks import IGNORE_INDEX
from distilkit.data.batching import model_inputs
from distilkit.models.pruning.layout import encoder_layers, heads_of, layout_of, module_at


@dataclass
class UnitScores:
    """Σ_x |∂L(x)/∂ξ| of every head, (layers, heads), and every feed-forward neuron, (layers, neurons)."""

    heads: torch.Tensor
    neurons: torch.Tensor
    examples: int


def score_units(model: torch.nn.Module, batches: Iterable[dict[str, torch.Tensor]]) -> UnitScores:
    """Score every head and neuron of `model` (a sequence or token classifier) on `batches` (padded, with labels)."""
    layout = layout_of(model)
    _, layers = encoder_layers(model)
    heads, size = heads_of(model.config)
    neurons = module_at(layers[0], layout.ffn_in).out_features
    head_scores = torch.zeros(len(layers), heads, dtype=torch.float64)
    neuron_scores = torch.zeros(len(layers), neurons, dtype=torch.float64)
    gates: dict[str, list[torch.Tensor]] = {}

    def gate(kind: str, i: int, per_unit: int):
        def hook(module, args):
            (x,) = args  # (batch, length, units × per_unit): heads side by side, or neurons
            g = gates[kind][i]  # (batch, units)
            batch, length, width = x.shape
            return ((x.view(batch, length, g.shape[1], per_unit) * g[:, None, :, None]).view(batch, length, width),)

        return hook

    hooks = [
        module_at(layer, layout.output).register_forward_pre_hook(gate("heads", i, size))
        for i, layer in enumerate(layers)
    ]
    hooks += [
        module_at(layer, layout.ffn_out).register_forward_pre_hook(gate("neurons", i, 1))
        for i, layer in enumerate(layers)
    ]
    trainable = [p.requires_grad for p in model.parameters()]
    was_training = model.training
    model.eval().requires_grad_(False)  # only the gates need gradients
    examples = 0
    try:
        with torch.enable_grad():
            for batch in batches:
                rows = batch["input_ids"].shape[0]
                gates["heads"] = [torch.ones(rows, heads, requires_grad=True) for _ in layers]
                gates["neurons"] = [torch.ones(rows, neurons, requires_grad=True) for _ in layers]
                logits = model(**model_inputs(batch)).logits  # (batch, labels) or (batch, length, tags)
                loss = F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]).float(),
                    batch["labels"].reshape(-1),
                    ignore_index=IGNORE_INDEX,
                    reduction="sum",  # per-example gates: each example's gradient stays its own
                )
                loss.backward()
                for i in range(len(layers)):
                    head_scores[i] += gates["heads"][i].grad.abs().sum(0, dtype=torch.float64)
                    neuron_scores[i] += gates["neurons"][i].grad.abs().sum(0, dtype=torch.float64)
                examples += rows
    finally:
        for h in hooks:
            h.remove()
        for p, flag in zip(model.parameters(), trainable, strict=True):
            p.requires_grad_(flag)
        model.train(was_training)
    return UnitScores(head_scores, neuron_scores, examples)
