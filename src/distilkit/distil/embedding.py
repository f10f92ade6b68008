"""Embedding distillation (`distilkit distil --task embedding`): a shallow student learns the teacher's vectors.

The target is the teacher's mean-pooled last hidden state, the same pooling the exported embedding bundle computes
(`MeanPooledModel`), so the student is trained on exactly what it will serve. No labels are needed: any text works,
which is what makes this the way to get a fast encoder for retrieval (the chatbot) without a labelled task.
The loss is MSE between pooled vectors (as sentence-transformers' model distillation) or 1 - cosine (only the
direction matters for retrieval; MSE also matches the length). Teacher vectors are computed once, in eval mode.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from distilkit.data.batching import EncodedSplit, make_loader
from distilkit.distil.objectives import model_inputs
from distilkit.distil.trainer import Objective, TrainConfig, train
from distilkit.errors import DistilkitError
from distilkit.export.onnx_export import MeanPooledModel
from distilkit.student import build_student
from distilkit.teacher import load_config_and_tokenizer, load_kwargs, resolve_model_path

LOSSES = ("mse", "cosine")
HELD_OUT_FRACTION = 0.05


@dataclass
class EmbeddingTexts:
    """Texts to distil on, and held-out texts to measure how close the student gets."""

    train: list[str]
    dev: list[str]
    source: str


def read_texts(spec: str, seed: int = 0) -> EmbeddingTexts:
    """Texts from a `.txt` file (one per line), a split file, or a data folder / known dataset (train + dev splits).

    Without a dev split, a seeded 5% of the texts is held out.
    """
    from distilkit.data.classification import find_split_file, read_split
    from distilkit.workflows import resolve_data

    path = Path(resolve_data(spec))
    if path.is_dir():
        train_file, dev_file = find_split_file(path, "train"), find_split_file(path, "dev")
        if train_file is None:
            raise DistilkitError(f"{path}: no train split file in this folder")
        train_texts = read_split(train_file).texts
        if dev_file is not None:
            return EmbeddingTexts(train_texts, read_split(dev_file).texts, str(path))
        texts = train_texts
    elif path.suffix == ".txt" and path.is_file():
        texts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    elif path.is_file():
        texts = read_split(path).texts
    else:
        raise DistilkitError(f"{spec}: no such text file, data folder or known dataset")
    if len(texts) < 2:
        raise DistilkitError(f"{path}: need at least 2 texts to distil on and hold one out")
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    held = max(1, int(len(texts) * HELD_OUT_FRACTION))
    return EmbeddingTexts([texts[i] for i in order[held:]], [texts[i] for i in order[:held]], str(path))


def encode_texts(tokenizer, texts: list[str], max_length: int) -> EncodedSplit:
    """Token ids without padding; the label slot is unused (0) by embedding distillation."""
    enc = tokenizer(texts, truncation=True, max_length=max_length)
    keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
    return EncodedSplit([{k: enc[k][i] for k in keys} for i in range(len(texts))], [0] * len(texts))


@torch.no_grad()
def pooled_embeddings(model: nn.Module, data: EncodedSplit, tokenizer, batch_size: int = 64) -> torch.Tensor:
    """Mean-pooled (not normalised) last hidden states of every text, in index order, model in eval mode."""
    pool = MeanPooledModel(model, normalize=False).eval()
    out = None
    for batch in make_loader(data, tokenizer, batch_size, shuffle=False):
        vectors = pool(**model_inputs(batch))
        if out is None:
            out = torch.empty(len(data), vectors.shape[-1])
        out[batch["index"]] = vectors.float()
    return out


def embedding_loss(student: torch.Tensor, teacher: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "mse":
        return F.mse_loss(student, teacher)
    return (1 - F.cosine_similarity(student, teacher, dim=-1)).mean()


class EmbeddingObjective(Objective):
    """The student's pooled vector of each text against the teacher's, cached by example index."""

    def __init__(self, student: nn.Module, teacher_vectors: torch.Tensor, kind: str = "mse"):
        super().__init__()
        if kind not in LOSSES:
            raise DistilkitError(f"embedding_loss: expected one of {', '.join(LOSSES)}, got {kind!r}")
        self.model = student
        # Kept out of the module tree: it wraps the same student, whose weights must be checkpointed once.
        self._pool = [MeanPooledModel(student, normalize=False)]
        self.teacher_vectors = teacher_vectors
        self.kind = kind

    def forward(self, batch):
        vectors = self._pool[0](**model_inputs(batch))
        target = self.teacher_vectors[batch["index"]].to(vectors.device)
        loss = embedding_loss(vectors, target, self.kind)
        return loss, {"loss": loss.item()}


def closeness(student: nn.Module, teacher_vectors: torch.Tensor, data: EncodedSplit, tokenizer) -> dict[str, float]:
    """How near the student's vectors are to the teacher's on held-out texts: mean cosine and MSE."""
    vectors = pooled_embeddings(student, data, tokenizer)
    return {
        "cosine_to_teacher": float(F.cosine_similarity(vectors, teacher_vectors, dim=-1).mean()),
        "mse_to_teacher": float(F.mse_loss(vectors, teacher_vectors)),
        "texts": len(data),
    }


def load_encoder(name_or_path: str, allow_pickle: bool = False):
    """A base (headless) model and its tokenizer: hub id, folder, or the embedded all-MiniLM-L6-v2."""
    from transformers import AutoModel

    path = resolve_model_path(name_or_path, allow_pickle)
    _, tokenizer = load_config_and_tokenizer(name_or_path, path)
    try:
        model = AutoModel.from_pretrained(path, **load_kwargs(allow_pickle))
    except (OSError, ValueError) as e:
        raise DistilkitError(f"{name_or_path}: cannot load model ({str(e).splitlines()[0]})") from None
    return model, tokenizer


def distil_embeddings(
    teacher_name: str,
    data: str,
    out: Path,
    train_cfg: TrainConfig,
    loss: str = "mse",
    student_layers: int | None = None,
    layer_map: str | None = None,
    init: str = "teacher",
    max_length: int = 128,
    resume: bool = False,
    allow_pickle: bool = False,
    quiet: bool = False,
) -> dict:
    """Distil the teacher's mean-pooled sentence embeddings into a shallower student saved at `out/model`."""
    from distilkit.workflows import save_model, write_json

    texts = read_texts(data, train_cfg.seed)
    teacher, tokenizer = load_encoder(teacher_name, allow_pickle)
    student, used_map = build_student(teacher, layer_map, student_layers, init=init, seed=train_cfg.seed)
    encoded = encode_texts(tokenizer, texts.train, max_length)
    held_out = encode_texts(tokenizer, texts.dev, max_length)
    teacher_train = pooled_embeddings(teacher, encoded, tokenizer)
    teacher_dev = pooled_embeddings(teacher, held_out, tokenizer)
    before = closeness(student, teacher_dev, held_out, tokenizer)
    objective = EmbeddingObjective(student, teacher_train, loss)
    summary = train(objective, encoded, tokenizer, train_cfg, out, resume=resume, quiet=quiet)
    save_model(student, tokenizer, out / "model")
    result = {
        "model": str(out / "model"),
        "task": "embedding",
        "teacher": teacher_name,
        "layer_map": used_map,
        "init": init,
        "loss": loss,
        "texts": {"source": texts.source, "train": len(texts.train), "held_out": len(texts.dev)},
        "train": summary,
        "metrics": {"held_out_before": before, "held_out": closeness(student, teacher_dev, held_out, tokenizer)},
    }
    write_json(out / "results.json", result)
    return result
