"""What embedding distillation minimises: the student's mean-pooled vector of each text against the teacher's.

The target is the teacher's mean-pooled last hidden state, the same pooling the exported embedding bundle computes
(`MeanPooledModel`), so the student is trained on exactly what it will serve. The loss is MSE between pooled vectors
(as sentence-transformers' model distillation) or 1 - cosine (only the direction matters for retrieval; MSE also
matches the length), from `distil.losses.REPRESENTATION_LOSSES`. Teacher vectors are computed once, in eval mode.
"""

from __future__ import annotations

import torch
from torch import nn

from distilkit.core.errors import DistilkitError
from distilkit.data.batching import model_inputs
from distilkit.distil.losses import REPRESENTATION_LOSSES
from distilkit.distil.trainer import Objective
from distilkit.models.heads import MeanPooledModel


class EmbeddingObjective(Objective):
    """The student's pooled vector of each text against the teacher's, cached by example index."""

    def __init__(self, student: nn.Module, teacher_vectors: torch.Tensor, kind: str = "mse"):
        super().__init__()
        if kind not in REPRESENTATION_LOSSES:
            raise DistilkitError(f"embedding_loss: expected one of {', '.join(REPRESENTATION_LOSSES)}, got {kind!r}")
        self.model = student
        # Kept out of the module tree: it wraps the same student, whose weights must be checkpointed once.
        self._pool = [MeanPooledModel(student, normalize=False)]
        self.teacher_vectors = teacher_vectors
        self.kind = kind

    def forward(self, batch):
        vectors = self._pool[0](**model_inputs(batch))  # (batch, hidden)
        target = self.teacher_vectors[batch["index"]].to(vectors.device)  # (batch, hidden)
        loss = REPRESENTATION_LOSSES[self.kind](vectors, target)
        return loss, {"loss": loss.item()}
