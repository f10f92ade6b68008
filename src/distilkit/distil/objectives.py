"""What a step minimises: plain fine-tuning, or distillation from a teacher.

Distillation loss = α_kd · T²·KL(teacher ‖ student at temperature T) + α_ce · CE(gold) + α_hid · hidden-state loss.
When no hidden-state loss is asked for, the teacher's logits depend only on the example, so they are computed once
(teacher in eval mode) and looked up by example index every epoch: the teacher forward is most of a distillation
step's cost on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from distilkit.data.batching import EncodedSplit, make_loader
from distilkit.distil.losses import HiddenStateLoss, kd_loss
from distilkit.distil.trainer import Objective

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: batch[k] for k in MODEL_INPUTS if k in batch}


class FinetuneObjective(Objective):
    """Cross-entropy on gold labels."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch):
        logits = self.model(**model_inputs(batch)).logits
        loss = F.cross_entropy(logits, batch["labels"])
        return loss, {"loss": loss.item()}


@dataclass
class DistilWeights:
    """Loss weights and temperature of task distillation."""

    alpha_kd: float = 1.0
    alpha_ce: float = 0.0
    alpha_hid: float = 0.0
    temperature: float = 2.0
    hidden_loss: str = "cosine"


class DistilObjective(Objective):
    """Student trained on the teacher's soft targets, gold labels, and optionally its hidden states."""

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module,
        layer_map: list[int],
        weights: DistilWeights,
        teacher_logits: torch.Tensor | None = None,
    ):
        super().__init__()
        self.model = student
        self.weights = weights
        # Kept out of the module tree: the teacher is frozen, never checkpointed, never wrapped by DDP.
        self._teacher = [teacher.eval().requires_grad_(False)]
        self.teacher_logits = teacher_logits
        self.hidden = (
            HiddenStateLoss(layer_map, student.config.hidden_size, teacher.config.hidden_size, weights.hidden_loss)
            if weights.alpha_hid > 0
            else None
        )

    def forward(self, batch):
        w = self.weights
        inputs = model_inputs(batch)
        student_out = self.model(**inputs, output_hidden_states=self.hidden is not None)
        teacher_hidden = None
        if self.teacher_logits is not None and self.hidden is None:
            teacher_logits = self.teacher_logits[batch["index"]]
        else:
            with torch.no_grad():
                teacher_out = self._teacher[0](**inputs, output_hidden_states=self.hidden is not None)
            teacher_logits, teacher_hidden = teacher_out.logits, teacher_out.hidden_states
        logs: dict[str, float] = {}
        loss = torch.zeros((), device=student_out.logits.device)
        if w.alpha_kd > 0:
            kd = kd_loss(student_out.logits, teacher_logits, w.temperature)
            loss = loss + w.alpha_kd * kd
            logs["kd"] = kd.item()
        if w.alpha_ce > 0:
            ce = F.cross_entropy(student_out.logits, batch["labels"])
            loss = loss + w.alpha_ce * ce
            logs["ce"] = ce.item()
        if self.hidden is not None:
            hid = self.hidden(student_out.hidden_states, teacher_hidden, batch["attention_mask"])
            loss = loss + w.alpha_hid * hid
            logs["hid"] = hid.item()
        logs["loss"] = loss.item()
        return loss, logs


@torch.no_grad()
def teacher_logits_for(teacher: nn.Module, data: EncodedSplit, tokenizer, batch_size: int = 64) -> torch.Tensor:
    """The teacher's logits for every example of `data`, in index order (teacher in eval mode: no dropout)."""
    teacher.eval()
    out = None
    for batch in make_loader(data, tokenizer, batch_size, shuffle=False):
        logits = teacher(**model_inputs(batch)).logits
        if out is None:
            out = torch.empty(len(data), logits.shape[-1])
        out[batch["index"]] = logits.float()
    return out
