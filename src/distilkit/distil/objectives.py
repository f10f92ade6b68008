"""What a step minimises: plain fine-tuning, or distillation from a teacher.

Distillation loss = α_kd · T²·KL(teacher ‖ student at temperature T) + α_ce · CE(gold) + α_hid · hidden-state loss.
When no hidden-state loss is asked for, the teacher's logits depend only on the example, so they are computed once
(teacher in eval mode) and looked up by example index every epoch: the teacher forward is most of a distillation
step's cost on a CPU.

Token classification is the same objective on positions instead of examples: logits ``[batch, positions, tags]`` are
reduced to the positions that carry a label (the first sub-word of each word, see `data.alignment`), and both the
cross-entropy and the KL are averaged over those positions. Padding, special tokens and continuation sub-words
therefore never pull the student towards the teacher's guesses on positions nobody reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from distilkit.core.errors import DistilkitError
from distilkit.core.progress import ProgressLog
from distilkit.core.tasks import IGNORE_INDEX
from distilkit.data.batching import EncodedSplit, make_loader, model_inputs
from distilkit.distil.losses import HiddenStateLoss, kd_loss
from distilkit.distil.trainer import Objective, autocast, resolve_precision


def aligned(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The rows of `logits` that carry a label: per-example logits as they are; per-position logits ``[B, L, C]``
    flattened, in row-major order, to the positions whose label is not -100."""
    if logits.dim() == 2:
        return logits
    return logits[labels != IGNORE_INDEX]


def gold(labels: torch.Tensor) -> torch.Tensor:
    """The labels matching `aligned` rows."""
    return labels if labels.dim() == 1 else labels[labels != IGNORE_INDEX]


def gold_rows(per_example: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """A per-example flag ``[batch]`` spread to the `aligned` rows: as is per example, one per labelled position for
    token classification."""
    if labels.dim() == 1:
        return per_example
    return per_example[:, None].expand_as(labels)[labels != IGNORE_INDEX]


class FinetuneObjective(Objective):
    """Cross-entropy on gold labels (per example, or per labelled position)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch):
        logits = self.model(**model_inputs(batch)).logits
        loss = F.cross_entropy(aligned(logits, batch["labels"]), gold(batch["labels"]))
        return loss, {"loss": loss.item()}


@dataclass
class DistilWeights:
    """Loss weights and temperature of task distillation."""

    alpha_kd: float = 1.0
    alpha_ce: float = 0.0
    alpha_hid: float = 0.0
    temperature: float = 2.0
    hidden_loss: str = "cosine"
    transfer_weight: float = 1.0  # a transfer-set row's weight in the soft-target average, a gold row's being 1


class DistilObjective(Objective):
    """Student trained on the teacher's soft targets, gold labels, and optionally its hidden states."""

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module,
        layer_map: list[int] | None,
        weights: DistilWeights,
        teacher_logits: CachedLogits | None = None,
    ):
        super().__init__()
        if not any((weights.alpha_kd, weights.alpha_ce, weights.alpha_hid)):
            raise DistilkitError("all loss weights are 0: nothing to train")
        if weights.alpha_hid > 0 and layer_map is None:  # a --student whose pairing with the teacher is unknown
            raise DistilkitError("alpha_hid: the hidden-state loss needs the teacher layer of each student layer")
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
        labels = batch["labels"]
        student_out = self.model(**inputs, output_hidden_states=self.hidden is not None)
        student_logits = aligned(student_out.logits, labels)
        teacher_hidden = teacher_logits = None  # with labels only (no KD, no hidden loss) the teacher is not run
        if self.hidden is not None or (w.alpha_kd > 0 and self.teacher_logits is None):
            with torch.no_grad():
                teacher_out = self._teacher[0](**inputs, output_hidden_states=self.hidden is not None)
            teacher_logits, teacher_hidden = aligned(teacher_out.logits, labels), teacher_out.hidden_states
        elif w.alpha_kd > 0:
            teacher_logits = self.teacher_logits.rows(batch["index"]).to(student_logits.device)
        logs: dict[str, float] = {}
        loss = torch.zeros((), device=student_logits.device)
        # Rows of gold examples; None when every example is gold (no transfer set): the loss is then as it always was.
        has_gold = gold_rows(batch["gold"], labels) if "gold" in batch else None
        if w.alpha_kd > 0:
            row_weights = None
            if has_gold is not None:
                row_weights = torch.where(has_gold, 1.0, w.transfer_weight).to(student_logits.dtype)
            kd = kd_loss(student_logits, teacher_logits, w.temperature, row_weights)
            loss = loss + w.alpha_kd * kd
            logs["kd"] = kd.item()
        if w.alpha_ce > 0:
            if has_gold is None:
                ce = F.cross_entropy(student_logits, gold(labels))
            elif has_gold.any():  # a transfer example has no gold label: only the gold rows count
                ce = F.cross_entropy(student_logits[has_gold], gold(labels)[has_gold])
            else:
                ce = student_logits.sum() * 0.0  # a batch of transfer examples only: no gold term, a zero gradient
            loss = loss + w.alpha_ce * ce
            logs["ce"] = ce.item()
        if self.hidden is not None:
            hid = self.hidden(student_out.hidden_states, teacher_hidden, batch["attention_mask"])
            loss = loss + w.alpha_hid * hid
            logs["hid"] = hid.item()
        logs["loss"] = loss.item()
        return loss, logs


class CachedLogits:
    """The teacher's logits for every example, stored as the rows `aligned` keeps (one per example, or one per labelled
    position) concatenated in index order, so a token-level cache costs words x tags floats rather than windows x
    max length x tags."""

    def __init__(self, values: torch.Tensor, offsets: torch.Tensor):
        self.values = values
        self.offsets = offsets

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        """The cached rows of the examples in `index`, in that order: the order `aligned` yields for the batch."""
        starts, ends = self.offsets[index].tolist(), self.offsets[index + 1].tolist()
        return torch.cat([self.values[a:b] for a, b in zip(starts, ends, strict=True)])


@torch.no_grad()
def teacher_logits_for(
    teacher: nn.Module,
    data: EncodedSplit,
    tokenizer,
    batch_size: int = 64,
    quiet: bool = False,
    precision: str = "fp32",
) -> CachedLogits:
    """The teacher's aligned logits for every example of `data` (teacher in eval mode: no dropout), computed at
    `precision` (the run's `TrainConfig.precision`: the cached pass is the one the live teacher would make), kept fp32.

    A pass over the whole transfer set with the large model, minutes long on a CPU before training even starts:
    off a terminal it reports progress lines (`core.progress`) unless `quiet`.
    """
    teacher.eval()
    precision = resolve_precision(precision)  # once: "auto" reads the CPU's flags
    per_example: list[torch.Tensor] = [torch.empty(0)] * len(data)
    loader = make_loader(data, tokenizer, batch_size, shuffle=False)
    lines = ProgressLog("teacher logits", len(loader), unit="batch", enabled=not quiet)
    tokens = 0
    for done, batch in enumerate(loader, 1):
        with autocast(precision):
            logits = teacher(**model_inputs(batch)).logits.float()
        for row, i in enumerate(batch["index"].tolist()):
            per_example[i] = aligned(logits[row : row + 1], batch["labels"][row : row + 1])
        tokens += int(batch["attention_mask"].sum())
        lines.update(done, tokens=tokens)
    counts = torch.tensor([len(rows) for rows in per_example])
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
    return CachedLogits(torch.cat(per_example), offsets)
