"""Masked-LM heads: finding a model's, and training one for a teacher that has none.

The embedded teacher all-MiniLM-L6-v2 ships as a bare encoder (a sentence embedder), so DistilBERT's soft-target loss
has no teacher distribution to match. `MlmHeadObjective` trains the standard BERT head on the frozen encoder: a dense
transform, GELU and LayerNorm, and an output bias, with the decoder tied to the (frozen) word embeddings, so only
~0.2M parameters learn and the encoder the student will imitate is left exactly as it was.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from distilkit.core.tasks import IGNORE_INDEX as IGNORE
from distilkit.distil.trainer import Objective
from distilkit.models.heads import head_of, head_parameters


class MlmHeadObjective(Objective):
    """Cross-entropy of the masked-LM head on masked tokens; the encoder is frozen and run without gradients."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        model.requires_grad_(False)
        for p in head_parameters(model):
            p.requires_grad_(True)

    def train(self, mode: bool = True) -> MlmHeadObjective:
        """The frozen encoder stays in eval mode (no dropout): the head learns the encoder as the student sees it."""
        super().train(mode)
        self.model.base_model.eval()
        return self

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        with torch.no_grad():
            hidden = self.model.base_model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).last_hidden_state
        targets = batch["labels"] != IGNORE
        logits = head_of(self.model)(hidden[targets])
        loss = F.cross_entropy(logits, batch["labels"][targets])
        accuracy = (logits.argmax(-1) == batch["labels"][targets]).float().mean()
        return loss, {"loss": loss.item(), "accuracy": accuracy.item()}
