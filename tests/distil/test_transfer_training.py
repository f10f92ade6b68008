"""Distilling with a transfer set: transfer examples get KD only (weighted), a killed and resumed run gives the
weights of an unbroken one, and `distil --transfer` records the set and reuses the stored teacher outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import invoke, save_tiny_model, toy_rows, write_csv

from distilkit.data.batching import encode_split, join_gold_and_transfer, make_loader
from distilkit.data.classification import ClassificationSplit, load_classification
from distilkit.distil.checkpoint import latest_checkpoint
from distilkit.distil.losses import kd_loss
from distilkit.distil.objectives import DistilObjective, DistilWeights, teacher_logits_for
from distilkit.distil.teacher_outputs import JoinedLogits, stored_teacher_logits
from distilkit.distil.trainer import TrainConfig, train
from distilkit.models.student import build_student
from distilkit.models.teacher import load_classifier

POOL = ["a fun story", "the plot was dull", "really not good", "an actor", "quite a long film", "it is sad"]


class Crash(Exception):
    pass


def _setup(root: Path, weights: DistilWeights):
    teacher_dir = save_tiny_model(root / "teacher", layers=4, seed=3)
    write_csv(root / "data" / "train.csv", toy_rows(14))
    data = load_classification(root / "data")
    teacher, tokenizer = load_classifier(teacher_dir, data.label_names)
    label2id = teacher.config.label2id
    gold = encode_split(tokenizer, data.train, label2id, 32)
    pool = encode_split(tokenizer, ClassificationSplit(POOL, ["negative"] * len(POOL)), label2id, 32)
    gold_logits = teacher_logits_for(teacher, gold, tokenizer, quiet=True)
    pool_logits, _ = stored_teacher_logits(teacher, tokenizer, pool, root / "store", quiet=True, chunk_examples=4)
    student, layer_map = build_student(teacher, student_layers=2)
    objective = DistilObjective(student, teacher, layer_map, weights, JoinedLogits(gold_logits, pool_logits))
    return objective, join_gold_and_transfer(gold, pool), tokenizer


def test_transfer_examples_get_weighted_kd_and_no_cross_entropy(tmp_path):
    weights = DistilWeights(alpha_kd=1.0, alpha_ce=1.0, transfer_weight=0.25)
    objective, data, tokenizer = _setup(tmp_path, weights)
    batch = next(iter(make_loader(data, tokenizer, batch_size=len(data), shuffle=False)))
    gold = batch["gold"]
    assert gold.sum() == 14 and (~gold).sum() == len(POOL)
    objective.eval()
    _, logs = objective(batch)
    with torch.no_grad():
        student = objective.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    teacher = objective.teacher_logits.rows(batch["index"])
    expected_ce = torch.nn.functional.cross_entropy(student[gold], batch["labels"][gold])
    kl = torch.stack([kd_loss(student[i : i + 1], teacher[i : i + 1]) for i in range(len(gold))])
    row_weights = torch.where(gold, 1.0, 0.25)
    assert logs["ce"] == pytest.approx(expected_ce.item(), rel=1e-5)
    assert logs["kd"] == pytest.approx(((kl * row_weights).sum() / row_weights.sum()).item(), rel=1e-5)


def _run(root: Path, out: Path, cfg: TrainConfig, crash_at: int | None = None, resume: bool = False):
    weights = DistilWeights(alpha_kd=1.0, alpha_ce=0.5, transfer_weight=0.5)
    objective, data, tokenizer = _setup(root, weights)

    def on_step(step: int) -> None:
        if crash_at is not None and step == crash_at:
            raise Crash

    try:
        train(objective, data, tokenizer, cfg, out, resume=resume, on_step=on_step, quiet=True)
    except Crash:
        return None
    return {k: v.clone() for k, v in objective.state_dict().items()}


def test_a_run_with_a_transfer_set_killed_and_resumed_gives_identical_weights(tmp_path):
    cfg = TrainConfig(epochs=3, batch_size=4, lr=1e-3, save_every=2, seed=7)  # 20 examples: 5 batches an epoch
    whole = _run(tmp_path / "a", tmp_path / "whole", cfg)
    assert _run(tmp_path / "b", tmp_path / "broken", cfg, crash_at=7) is None
    assert latest_checkpoint(tmp_path / "broken" / "checkpoints").name == "step-6"
    resumed = _run(tmp_path / "b", tmp_path / "broken", cfg, resume=True)
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key


def test_distil_transfer_records_the_set_and_a_second_run_computes_no_teacher_output(tmp_path, tiny_teacher, toy_data):
    teacher = tmp_path / "teacher"
    invoke("finetune", "--model", tiny_teacher, "--data", toy_data, "--out", teacher, "--epochs", 1, "--batch-size", 8)
    pool = tmp_path / "pool.txt"
    pool.write_text("good movie\n" + "\n".join(POOL) + "\na fun story\n")  # a dev text, six new ones, a repeat

    def distil(out: Path, seed: int):
        args = ["distil", "--teacher", teacher / "model", "--data", toy_data, "--out", out, "--student-layers", 1]
        args += ["--epochs", 1, "--batch-size", 8, "--seed", seed, "--alpha-ce", 1, "--transfer", pool]
        invoke(*args, "--teacher-outputs", tmp_path / "store", "--transfer-weight", 0.5)
        return json.loads((out / "results.json").read_text())

    first = distil(tmp_path / "s0", seed=0)
    transfer = first["transfer"]
    assert (transfer["texts"], transfer["dev_test_dropped"], transfer["duplicates_dropped"]) == (6, 1, 1)
    stored = transfer["teacher_outputs"]
    assert (stored["gold"]["computed"], stored["transfer"]["computed"]) == (48, 6) and transfer["weight"] == 0.5
    assert first["transfer_examples"] == 48 + 6 and first["train"]["steps"] == 7  # ceil(54 / 8)
    again = distil(tmp_path / "s1", seed=1)["transfer"]["teacher_outputs"]  # another seed: the teacher is not run
    assert (again["gold"]["computed"], again["transfer"]["computed"]) == (0, 0)
    assert again["transfer"]["folder"] == stored["transfer"]["folder"]


def test_token_classification_distils_on_tagged_transfer_sentences(tmp_path, tiny_teacher):
    """The teacher tags every word of the unlabelled sentences; each word's first sub-word gets a soft target."""
    from conftest import write_conll

    sentences = [(["the", "actor", "was", "good"], ["O", "B-PER", "O", "O"]), (["a", "film"], ["O", "B-ORG"])] * 8
    for split in ("train", "dev", "test"):
        write_conll(tmp_path / "ner" / f"{split}.conll", sentences[:4] if split != "train" else sentences)
    common = ["--task", "token-classification", "--batch-size", 8, "--epochs", 1]
    invoke("finetune", "--model", tiny_teacher, "--data", tmp_path / "ner", "--out", tmp_path / "t", *common)
    pool = tmp_path / "pool.txt"
    pool.write_text("the actor was good\nA film, the plot.\nit was a very long story\n")  # the first is a dev text
    out = tmp_path / "s"
    args = ["distil", "--teacher", tmp_path / "t" / "model", "--data", tmp_path / "ner", "--out", out, *common]
    invoke(*args, "--student-layers", 1, "--transfer", pool, "--teacher-outputs", tmp_path / "store")
    results = json.loads((out / "results.json").read_text())
    store = results["transfer"]["teacher_outputs"]["transfer"]
    assert results["transfer"]["texts"] == 2 and results["transfer"]["dev_test_dropped"] == 1
    assert store["examples"] == 2 and store["rows"] == 6 + 6  # one row per word: "A film , the plot ." and six more
