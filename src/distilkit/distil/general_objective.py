"""The step of task-agnostic distillation: teacher and student read the same masked text, the student is pulled
towards the teacher by a weighted sum of the losses in `general_losses`.

Masked-LM logits are computed only on the rows a loss uses (the masked tokens, or every real token when L_ce is asked
for on all tokens): a 30k-word output layer on every position would cost more than the rest of a small student.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from distilkit.core.errors import DistilkitError
from distilkit.core.tasks import IGNORE_INDEX as IGNORE
from distilkit.distil.losses import HiddenStateLoss, attention_loss, cosine_loss, kd_loss, relation_loss
from distilkit.distil.trainer import Objective
from distilkit.models.heads import head_of, head_parameters


@dataclass
class GeneralWeights:
    """Loss weights (DistilBERT's defaults: α_kd 5 for its L_ce, α_mlm 2, α_cos 1) and the loss options."""

    alpha_kd: float = 5.0
    alpha_mlm: float = 2.0
    alpha_cos: float = 1.0
    alpha_hid: float = 0.0
    alpha_att: float = 0.0
    alpha_rel: float = 0.0
    temperature: float = 2.0
    ce_tokens: str = "masked"  # L_ce on the "masked" tokens only, or on "all" real tokens
    relation_heads: int = 0  # 0: the teacher's number of attention heads

    @property
    def uses_head(self) -> bool:
        return self.alpha_kd > 0 or self.alpha_mlm > 0


QKV_PROJECTIONS = (
    ("attention.self.query", "attention.self.key", "attention.self.value"),  # BERT, RoBERTa, ELECTRA
    ("attention.attn.q", "attention.attn.k", "attention.attn.v"),  # MPNet
)
"""Where a transformer layer keeps its query, key and value projections, by family (names relative to the layer)."""


def qkv_projections(model: nn.Module) -> tuple[nn.Module, nn.Module, nn.Module]:
    """The query, key and value projections of the last layer: their names differ between BERT and MPNet."""
    layer = model.base_model.encoder.layer[-1]
    for names in QKV_PROJECTIONS:
        try:
            q, k, v = (layer.get_submodule(name) for name in names)
        except AttributeError:
            continue
        return q, k, v
    raise DistilkitError(f"alpha_rel: no query/key/value projections found in {type(model).__name__}'s layers")


class _QKVRecorder:
    """Forward hooks keeping the outputs of a layer's query, key and value projections (for the relation loss)."""

    def __init__(self, model: nn.Module):
        self.outputs: deque[torch.Tensor] = deque(maxlen=3)  # only the latest forward's, whoever runs the model
        for proj in qkv_projections(model):
            proj.register_forward_hook(lambda _m, _i, out: self.outputs.append(out))

    def take(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v = self.outputs
        return q, k, v


class GeneralDistilObjective(Objective):
    """Distil `teacher` (a masked-LM model, with a trained head when L_ce is used) into `student` (a masked-LM model)
    on masked raw text. Student layer i is paired with teacher layer layer_map[i] for L_hid and L_att."""

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module,
        layer_map: list[int],
        weights: GeneralWeights,
        teacher_has_head: bool,
    ):
        super().__init__()
        w = weights
        if w.ce_tokens not in ("masked", "all"):
            raise DistilkitError(f"ce_tokens: expected 'masked' or 'all', got {w.ce_tokens!r}")
        if w.alpha_kd > 0 and not teacher_has_head:
            raise DistilkitError(
                "alpha_kd: the teacher has no trained masked-LM head; train one with `distilkit mlm-head` "
                "or distil with alpha_kd 0 (cosine, hidden-state and relation losses need no head)"
            )
        if not any((w.alpha_kd, w.alpha_mlm, w.alpha_cos, w.alpha_hid, w.alpha_att, w.alpha_rel)):
            raise DistilkitError("all loss weights are 0: nothing to train")
        self.model = student
        self.weights = w
        self.layer_map = layer_map
        # Kept out of the module tree: the teacher is frozen, never checkpointed, never wrapped by DDP.
        self._teacher = [teacher.eval().requires_grad_(False)]
        s_width, t_width = student.config.hidden_size, teacher.config.hidden_size
        self.cos_proj = nn.Linear(s_width, t_width) if w.alpha_cos > 0 and s_width != t_width else None
        self.hidden = HiddenStateLoss(layer_map, s_width, t_width, "mse") if w.alpha_hid > 0 else None
        if w.alpha_att > 0:
            for model in (student, teacher):
                model.set_attn_implementation("eager")  # fused attention kernels do not return the probabilities
        self.relation_heads = w.relation_heads or teacher.config.num_attention_heads
        self._qkv = (_QKVRecorder(student), _QKVRecorder(teacher)) if w.alpha_rel > 0 else None
        if not w.uses_head:
            for p in head_parameters(student):
                p.requires_grad_(False)  # untrained and unused: keep it out of the optimizer (and of DDP's checks)
        # Attention or relation losses alone leave the last layer's output block without gradient.
        self.leaves_parameters_unused = not (w.uses_head or w.alpha_cos > 0 or w.alpha_hid > 0)

    @property
    def teacher(self) -> nn.Module:
        """The frozen teacher (outside the module tree, see __init__)."""
        return self._teacher[0]

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        w = self.weights
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        options = {"output_hidden_states": w.alpha_hid > 0, "output_attentions": w.alpha_att > 0}
        teacher = self.teacher
        with torch.no_grad():
            t_out = teacher.base_model(**inputs, **options)
        t_qkv = self._qkv[1].take() if self._qkv else None
        s_out = self.model.base_model(**inputs, **options)
        real = batch["attention_mask"].bool()
        masked = batch["labels"] != IGNORE
        terms: dict[str, torch.Tensor] = {}
        if w.uses_head:
            rows = real if w.ce_tokens == "all" and w.alpha_kd > 0 else masked
            s_logits = head_of(self.model)(s_out.last_hidden_state[rows])
            if w.alpha_kd > 0:
                with torch.no_grad():
                    t_logits = head_of(teacher)(t_out.last_hidden_state[rows])
                terms["ce"] = kd_loss(s_logits, t_logits, w.temperature)
            if w.alpha_mlm > 0:
                terms["mlm"] = F.cross_entropy(s_logits[masked[rows]], batch["labels"][masked])
        if w.alpha_cos > 0:
            s_last = s_out.last_hidden_state[real]
            terms["cos"] = cosine_loss(
                self.cos_proj(s_last) if self.cos_proj else s_last, t_out.last_hidden_state[real]
            )
        if self.hidden is not None:
            terms["hid"] = self.hidden(s_out.hidden_states, t_out.hidden_states, batch["attention_mask"])
        if w.alpha_att > 0:
            terms["att"] = attention_loss(s_out.attentions, t_out.attentions, self.layer_map, batch["attention_mask"])
        if self._qkv is not None:
            s_qkv = self._qkv[0].take()
            terms["rel"] = relation_loss(s_qkv, t_qkv, batch["attention_mask"], self.relation_heads)
        alphas = {"ce": w.alpha_kd, "mlm": w.alpha_mlm, "cos": w.alpha_cos, "hid": w.alpha_hid, "att": w.alpha_att}
        alphas["rel"] = w.alpha_rel
        loss = sum(alphas[k] * v for k, v in terms.items())
        logs = {k: v.item() for k, v in terms.items()}
        logs["loss"] = loss.item()
        return loss, logs
