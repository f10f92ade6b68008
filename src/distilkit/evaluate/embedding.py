"""How near a student's sentence vectors are to its teacher's: the score of embedding distillation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from distilkit.core.progress import ProgressLog
from distilkit.data.batching import EncodedSplit, make_loader, model_inputs
from distilkit.models.heads import MeanPooledModel


@torch.no_grad()
def pooled_embeddings(
    model: nn.Module,
    data: EncodedSplit,
    tokenizer,
    batch_size: int = 64,
    name: str = "vectors",
    quiet: bool = False,
) -> torch.Tensor:
    """Mean-pooled (not normalised) last hidden states of every text, in index order, model in eval mode.

    Run over a whole corpus with the teacher this is minutes long: off a terminal it reports progress lines named
    `name` (`core.progress`) unless `quiet`.
    """
    pool = MeanPooledModel(model, normalize=False).eval()
    out = None
    loader = make_loader(data, tokenizer, batch_size, shuffle=False)
    lines = ProgressLog(name, len(loader), unit="batch", enabled=not quiet)
    tokens = 0
    for done, batch in enumerate(loader, 1):
        vectors = pool(**model_inputs(batch))
        if out is None:
            out = torch.empty(len(data), vectors.shape[-1])
        out[batch["index"]] = vectors.float()
        tokens += int(batch["attention_mask"].sum())
        lines.update(done, tokens=tokens)
    return out


def closeness(
    student: nn.Module, teacher_vectors: torch.Tensor, data: EncodedSplit, tokenizer, quiet: bool = False
) -> dict[str, float]:
    """How near the student's vectors are to the teacher's on held-out texts: mean cosine and MSE."""
    vectors = pooled_embeddings(student, data, tokenizer, name="student vectors (held out)", quiet=quiet)
    return {
        "cosine_to_teacher": float(F.cosine_similarity(vectors, teacher_vectors, dim=-1).mean()),
        "mse_to_teacher": float(F.mse_loss(vectors, teacher_vectors)),
        "texts": len(data),
    }
