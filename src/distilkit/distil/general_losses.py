"""The losses of task-agnostic (pre-training) distillation, on token rows already selected by the caller.

- L_ce (DistilBERT): T²·KL between the teacher's and the student's masked-LM distributions: `kd_loss` on token rows.
- L_mlm: cross-entropy of the student's masked-LM head on the masked tokens.
- L_cos (DistilBERT): 1 − cosine between teacher and student last hidden states, averaged over tokens.
- L_hid (TinyBERT): MSE between mapped hidden states: `HiddenStateLoss(kind="mse")` in `losses`.
- L_att (TinyBERT): KL between the teacher's and the student's attention distributions of mapped layers.
- L_rel (MiniLM-v2): KL between the self-attention *relations* Q·Qᵀ, K·Kᵀ, V·Vᵀ of the last layers, computed with a
  number of relation heads chosen by us, so the student may have another width and another number of heads than the
  teacher, and no MLM head is needed at all.
Each is 0 exactly when the student reproduces the teacher.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def cosine_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean of 1 − cos(student row, teacher row): PyTorch's CosineEmbeddingLoss with target 1, as DistilBERT uses."""
    return (1 - F.cosine_similarity(student, teacher.detach(), dim=-1)).mean()


def _kl_rows(log_p_teacher: torch.Tensor, log_p_student: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """KL(teacher ‖ student) of each distribution over the last dim, averaged over the rows where `valid` is true.

    Probabilities of exactly 0 (padded keys) contribute nothing, instead of 0·(−inf) = nan.
    """
    p = log_p_teacher.exp()
    kl = (p * (log_p_teacher - log_p_student)).masked_fill(p == 0, 0.0).sum(-1)
    valid = valid.expand_as(kl)
    return kl[valid].mean()


def attention_loss(
    student_attentions: tuple[torch.Tensor, ...],
    teacher_attentions: tuple[torch.Tensor, ...],
    layer_map: list[int],
    attention_mask: torch.Tensor,
) -> torch.Tensor:
    """KL between teacher layer layer_map[i]'s and student layer i's attention distributions (same head count),
    averaged over layers, heads and real (non-padding) query positions."""
    valid = attention_mask.bool()[:, None, :]  # (batch, 1 head, queries)
    losses = []
    for s_layer, t_layer in enumerate(layer_map):
        s, t = student_attentions[s_layer], teacher_attentions[t_layer].detach()
        if s.shape != t.shape:
            raise ValueError(f"attention loss needs the same heads: student {tuple(s.shape)}, teacher {tuple(t.shape)}")
        losses.append(_kl_rows(torch.log(t), torch.log(s.clamp_min(1e-30)), valid))
    return torch.stack(losses).mean()


def _relation_log_probs(x: torch.Tensor, heads: int, key_mask: torch.Tensor) -> torch.Tensor:
    """log softmax(x_h x_hᵀ / √d_h) for each relation head h: (batch, heads, L, L); padded keys get probability 0."""
    batch, length, width = x.shape
    if width % heads:
        raise ValueError(f"relation heads ({heads}) must divide the hidden width ({width})")
    d = width // heads
    xh = x.view(batch, length, heads, d).transpose(1, 2)
    scores = xh @ xh.transpose(-1, -2) / math.sqrt(d)
    scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    return F.log_softmax(scores, dim=-1)


def relation_loss(
    student_qkv: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    teacher_qkv: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    attention_mask: torch.Tensor,
    heads: int,
) -> torch.Tensor:
    """MiniLM-v2: sum over Q, K, V of KL(teacher relation ‖ student relation), each averaged over relation heads and
    real query positions. Inputs are the (batch, L, width) outputs of the query/key/value projections."""
    key_mask = attention_mask.bool()
    valid = key_mask[:, None, :]
    total = torch.zeros((), device=attention_mask.device)
    for s, t in zip(student_qkv, teacher_qkv, strict=True):
        log_t = _relation_log_probs(t.detach(), heads, key_mask)
        log_s = _relation_log_probs(s, heads, key_mask)
        total = total + _kl_rows(log_t, log_s, valid)
    return total
