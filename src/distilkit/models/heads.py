"""Heads on a BERT-family encoder: what a checkpoint was trained for, and the thin wrappers training and export share.

- `LogitsModel` and `MeanPooledModel`: a classifier or a base model as a plain ``(input_ids, attention_mask[,
  token_type_ids]) -> tensor`` module, the signature the ONNX graph gets; embedding distillation trains on the very
  `MeanPooledModel` output that the exported bundle computes;
- the masked-LM head of a ``*ForMaskedLM`` model (`head_of`), whether a checkpoint was saved with a trained one
  (`has_trained_head`), and its own parameters (`head_parameters`).
"""

from __future__ import annotations

import torch
from torch import nn

from distilkit.core.errors import DistilkitError


class LogitsModel(nn.Module):
    """A classifier (sequence or token) as ``(input_ids, attention_mask[, token_type_ids]) -> logits``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits


class MeanPooledModel(nn.Module):
    """A base model as ``(...) -> embeddings``: last hidden states averaged over real tokens, optionally unit length.

    Padding positions are excluded by the mask, so a text's embedding does not depend on what it was batched with.
    """

    def __init__(self, model: nn.Module, normalize: bool = True):
        super().__init__()
        self.model = model
        self.normalize = normalize

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        if self.normalize:
            pooled = torch.nn.functional.normalize(pooled, p=2.0, dim=-1)
        return pooled


HEAD_ATTRS = ("cls", "lm_head")  # BERT-style and RoBERTa-style masked-LM heads
MLM_HEAD_ARCHITECTURES = ("ForMaskedLM", "ForPreTraining")


def head_of(model: nn.Module) -> nn.Module:
    """The masked-LM head module of a *ForMaskedLM model: hidden states in, vocabulary logits out."""
    for attr in HEAD_ATTRS:
        head = getattr(model, attr, None)
        if head is not None:
            return head
    raise DistilkitError(f"{type(model).__name__}: no masked-LM head found (expected a BERT- or RoBERTa-style model)")


def has_trained_head(config) -> bool:
    """True when the checkpoint was saved with a masked-LM head (its architectures say so)."""
    return any(a.endswith(MLM_HEAD_ARCHITECTURES) for a in getattr(config, "architectures", None) or [])


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The head's own parameters: those not shared with the encoder (the tied decoder weight is the embeddings)."""
    encoder = {id(p) for p in model.base_model.parameters()}
    return [p for p in head_of(model).parameters() if id(p) not in encoder]
