"""Distillation losses.

`kd_loss` is Hinton et al.'s soft-target loss as DistilBERT uses it: KL(teacher ‖ student) between the
temperature-softened distributions, times T² so its gradient keeps the same scale as the hard-label loss whatever T is.
`hidden_loss` pulls the student's hidden states towards the teacher's mapped layers (cosine, as DistilBERT, or MSE, as
TinyBERT), through a learned projection when the widths differ.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 2.0) -> torch.Tensor:
    """T² · KL(softmax(t/T) ‖ softmax(s/T)), averaged over examples (rows); 0 exactly when the logits match."""
    t = temperature
    log_p_student = F.log_softmax(student_logits / t, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits / t, dim=-1)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="none", log_target=True).sum(-1)
    return kl.mean() * t * t


class HiddenStateLoss(nn.Module):
    """Distance between student hidden states and the teacher layers they are mapped to.

    Index 0 of `hidden_states` is the embedding output, index i+1 the output of layer i; student layer i is paired
    with teacher layer `layer_map[i]`, and the embeddings with the embeddings. Padding positions are ignored.
    """

    def __init__(self, layer_map: list[int], student_width: int, teacher_width: int, kind: str = "cosine"):
        super().__init__()
        if kind not in ("cosine", "mse"):
            raise ValueError(f"hidden loss must be 'cosine' or 'mse', got {kind!r}")
        self.pairs = [(0, 0)] + [(i + 1, t + 1) for i, t in enumerate(layer_map)]
        self.kind = kind
        self.proj = nn.Linear(student_width, teacher_width) if student_width != teacher_width else nn.Identity()

    def forward(
        self,
        student_hidden: tuple[torch.Tensor, ...],
        teacher_hidden: tuple[torch.Tensor, ...],
        attention_mask: torch.Tensor,
    ) -> torch.Tensor:
        mask = attention_mask.bool()
        losses = []
        for s, t in self.pairs:
            s_h = self.proj(student_hidden[s])[mask]
            t_h = teacher_hidden[t][mask].detach()
            if self.kind == "cosine":
                losses.append((1 - F.cosine_similarity(s_h, t_h, dim=-1)).mean())
            else:
                losses.append(F.mse_loss(s_h, t_h))
        return torch.stack(losses).mean()
