"""`distilkit distil --task embedding`: a shallow student learns the teacher's sentence vectors, on any text.

No labels are needed, which is what makes this the way to get a fast encoder for retrieval (the chatbot) without a
labelled task. The objective is `distil.embedding`; closeness to the teacher on held-out texts is the score, recorded
in results.json and in the model folder's card (README.md).
"""

from __future__ import annotations

from pathlib import Path

from distilkit.core.atomic import save_model, write_json
from distilkit.core.model_card import write_model_card
from distilkit.data.batching import encode_texts
from distilkit.data.texts import read_texts
from distilkit.distil.embedding import EmbeddingObjective
from distilkit.distil.trainer import TrainConfig, train
from distilkit.evaluate.embedding import closeness, pooled_embeddings
from distilkit.models.student import build_student, shape
from distilkit.models.teacher import load_encoder


def distil_embeddings(
    teacher_name: str,
    data: str,
    out: Path,
    train_cfg: TrainConfig,
    loss: str = "mse",
    student_layers: int | None = None,
    layer_map: list[int] | None = None,
    init: str = "teacher",
    max_length: int = 128,
    resume: bool = False,
    allow_pickle: bool = False,
    quiet: bool = False,
) -> dict:
    """Distil the teacher's mean-pooled sentence embeddings into a shallower student saved at `out/model`."""
    texts = read_texts(data, train_cfg.seed)
    teacher, tokenizer = load_encoder(teacher_name, allow_pickle)
    student, used_map = build_student(teacher, layer_map, student_layers, init=init, seed=train_cfg.seed)
    encoded = encode_texts(tokenizer, texts.train, max_length)
    held_out = encode_texts(tokenizer, texts.dev, max_length)
    teacher_train = pooled_embeddings(teacher, encoded, tokenizer, name="teacher vectors", quiet=quiet)
    teacher_dev = pooled_embeddings(teacher, held_out, tokenizer, name="teacher vectors (held out)", quiet=quiet)
    before = closeness(student, teacher_dev, held_out, tokenizer, quiet=quiet)
    objective = EmbeddingObjective(student, teacher_train, loss)
    summary = train(objective, encoded, tokenizer, train_cfg, out, resume=resume, quiet=quiet)
    save_model(student, tokenizer, out / "model")
    result = {
        "model": str(out / "model"),
        "recipe": "distil-embedding",
        "task": "embedding",
        "teacher": teacher_name,
        "layer_map": used_map,
        "init": init,
        "student": shape(student),
        "loss": loss,
        "max_length": max_length,
        "texts": {"source": texts.source, "train": len(texts.train), "held_out": len(texts.dev)},
        "train": summary,
        "metrics": {"held_out_before": before, "held_out": closeness(student, teacher_dev, held_out, tokenizer, quiet)},
    }
    write_model_card(result)  # before results.json: a run whose results.json exists is complete
    write_json(out / "results.json", result)
    return result
