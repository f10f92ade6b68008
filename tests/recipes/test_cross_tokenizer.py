"""Distillation across tokenizers: the teacher reads its own token ids, the student its own, matched per text; the
student keeps its tokenizer and takes the teacher's labels; losses that pair positions are refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import WORDS, invoke, save_tiny_model
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

from distilkit.core.errors import DistilkitError


def other_tokenizer_model(folder: Path) -> Path:
    """A tiny BERT encoder (no head) whose tokenizer numbers the same words differently: another vocabulary."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *reversed(WORDS), *list("abcdefghijklmnopqrstuvwxyz.,!?")]
    vocab += [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"] + ["filmy", "plots"]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    tokenizer = BertTokenizerFast.from_pretrained(folder, do_lower_case=True)
    torch.manual_seed(11)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=24,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=48,
        max_position_embeddings=64,
        num_labels=2,
        id2label={0: "negative", 1: "positive"},
        label2id={"negative": 0, "positive": 1},
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def teacher(tmp_path, tiny_teacher, toy_data) -> Path:
    out = tmp_path / "teacher"
    invoke("finetune", "--model", tiny_teacher, "--data", toy_data, "--out", out, "--epochs", 1, "--batch-size", 8)
    return out / "model"


def distil(teacher: Path, student: Path, data: Path, out: Path, *extra):
    args = ["distil", "--teacher", teacher, "--student", student, "--data", data, "--out", out, "--epochs", 1]
    return invoke(*args, "--batch-size", 8, *extra)


def test_a_student_of_another_tokenizer_learns_the_teachers_soft_targets(tmp_path, teacher, toy_data):
    student = other_tokenizer_model(tmp_path / "start")
    pool = tmp_path / "pool.txt"
    pool.write_text("a fun story\nthe plot was dull\nreally not good\n")
    out = tmp_path / "s"
    store = tmp_path / "store"
    distil(teacher, student, toy_data, out, "--student-layers", 2, "--transfer", pool, "--teacher-outputs", store)
    results = json.loads((out / "results.json").read_text())
    stored = results["transfer"]["teacher_outputs"]
    assert (stored["gold"]["computed"], stored["transfer"]["computed"]) == (48, 3)
    start_shape = {k: results["student"][k] for k in ("num_hidden_layers", "hidden_size", "num_attention_heads")}
    assert start_shape == {"num_hidden_layers": 2, "hidden_size": 24, "num_attention_heads": 2}
    assert results["tokenizer"] == {"teacher": str(teacher), "student": str(student), "shared": False}
    saved = BertTokenizerFast.from_pretrained(out / "model")
    assert saved.get_vocab() == BertTokenizerFast.from_pretrained(student).get_vocab()  # the student's own ids
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}  # the teacher's labels
    assert results["train"]["final_loss"] == results["train"]["final_loss"]  # finite: the KD pairs matched


def test_the_teachers_logits_come_from_its_own_token_ids(tmp_path, teacher, toy_data, monkeypatch):
    """Every text's cached soft target is the teacher's output on the teacher's own encoding of that text."""
    from distilkit.recipes import transfer as recipe

    seen = {}
    real = recipe.teacher_logits_for

    def spy(model, encoded, tokenizer, **kwargs):
        seen["ids"] = [f["input_ids"] for f in encoded.features]
        seen["vocab"] = tokenizer.get_vocab()
        return real(model, encoded, tokenizer, **kwargs)

    monkeypatch.setattr(recipe, "teacher_logits_for", spy)
    distil(teacher, other_tokenizer_model(tmp_path / "start"), toy_data, tmp_path / "s")
    teacher_tokenizer = BertTokenizerFast.from_pretrained(teacher)
    assert seen["vocab"] == teacher_tokenizer.get_vocab()
    assert seen["ids"][0] == teacher_tokenizer("good movie")["input_ids"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--alpha-hid", 1), "alpha_hid: the hidden-state loss pairs token positions"),
        (("--long-text", "windows"), "long_text: windows cut each text into a different number of pieces"),
        (("--no-cache-teacher",), "cache_teacher: across tokenizers the teacher's logits are computed"),
        (("--augment", 1), "augment: the masked copies hold the teacher's mask token"),
    ],
)
def test_settings_that_pair_positions_are_refused_across_tokenizers(tmp_path, teacher, toy_data, extra, message):
    with pytest.raises(DistilkitError, match=message):
        distil(teacher, other_tokenizer_model(tmp_path / "start"), toy_data, tmp_path / "s", *extra)


def test_same_tokenizer_students_are_unchanged(tmp_path, teacher, toy_data):
    """A --student sharing the teacher's vocabulary trains on the same batches as before (one encoding)."""
    start = save_tiny_model(tmp_path / "start", layers=2, seed=4)
    distil(teacher, start, toy_data, tmp_path / "s")
    results = json.loads((tmp_path / "s" / "results.json").read_text())
    assert results["tokenizer"]["shared"] is True
