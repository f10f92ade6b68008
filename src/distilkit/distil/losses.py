"""Every distillation loss, as pure functions on tensors (the module `HiddenStateLoss` only adds a projection).

Each loss is 0 exactly when the student reproduces the teacher, and the teacher side is never differentiated.

| name | what | used by |
|---|---|---|
| `kd` | T²·KL(softmax(t/T) ‖ softmax(s/T)): Hinton's soft targets, DistilBERT's L_ce | task and general distillation |
| `cosine` | 1 − cos between rows: DistilBERT's L_cos on hidden states | hidden-state and embedding losses |
| `mse` | mean squared error between rows: TinyBERT's hidden-state loss | hidden-state and embedding losses |
| `attention` | KL between mapped attention distributions (TinyBERT), same head count | general distillation L_att |
| `relation` | KL of Q·Qᵀ, K·Kᵀ, V·Vᵀ relations of the last layers (MiniLM-v2), any width | general distillation L_rel |

`LOSSES` maps these names to the functions; `REPRESENTATION_LOSSES` is the subset that compares two sets of vectors
row by row, which `--hidden-loss` and `--embedding-loss` choose from. The masked-LM cross-entropy and the gold-label
cross-entropy are PyTorch's own `F.cross_entropy`, called where the labels are.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 2.0,
    row_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """T² · KL(softmax(t/T) ‖ softmax(s/T)), averaged over rows; 0 exactly when the logits match.

    student_logits, teacher_logits: (rows, classes), rows being examples, or labelled token positions.
    The T² keeps the gradient's scale that of the hard-label loss whatever T is. `row_weights` (rows,), when given,
    makes the average a weighted one (transfer-set rows may count more or less than gold ones).
    """
    t = temperature
    log_p_student = F.log_softmax(student_logits / t, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits / t, dim=-1)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="none", log_target=True).sum(-1)  # (rows,)
    if row_weights is None:
        return kl.mean() * t * t
    return (kl * row_weights).sum() / row_weights.sum().clamp_min(1e-12) * t * t


def cosine_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean of 1 − cos(student row, teacher row): PyTorch's CosineEmbeddingLoss with target 1, as DistilBERT uses.

    student, teacher: (rows, dim) → scalar.
    """
    return (1 - F.cosine_similarity(student, teacher.detach(), dim=-1)).mean()


def mse_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all elements (TinyBERT's hidden-state loss). student, teacher: (rows, dim) → scalar."""
    return F.mse_loss(student, teacher.detach())


REPRESENTATION_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "cosine": cosine_loss,
    "mse": mse_loss,
}
"""Row-wise comparisons of student and teacher vectors, by the name `--hidden-loss` / `--embedding-loss` take."""


class HiddenStateLoss(nn.Module):
    """Distance between student hidden states and the teacher layers they are mapped to.

    Index 0 of `hidden_states` is the embedding output, index i+1 the output of layer i; student layer i is paired
    with teacher layer `layer_map[i]`, and the embeddings with the embeddings. Padding positions are ignored.
    """

    def __init__(self, layer_map: list[int], student_width: int, teacher_width: int, kind: str = "cosine"):
        super().__init__()
        if kind not in REPRESENTATION_LOSSES:
            raise ValueError(f"hidden loss must be one of {', '.join(REPRESENTATION_LOSSES)}, got {kind!r}")
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
            s_h = self.proj(student_hidden[s])[mask]  # (real tokens, teacher width)
            t_h = teacher_hidden[t][mask]  # (real tokens, teacher width)
            losses.append(REPRESENTATION_LOSSES[self.kind](s_h, t_h))
        return torch.stack(losses).mean()


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


LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "kd": kd_loss,
    "cosine": cosine_loss,
    "mse": mse_loss,
    "attention": attention_loss,
    "relation": relation_loss,
}
"""Every loss by name (see the table in the module docstring)."""
