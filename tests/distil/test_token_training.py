"""Token classification through the shared training path: windows as examples, losses on aligned positions only,
the compact teacher-logit cache, per-word scoring, and finetune → distil → evaluate from the CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from conftest import invoke, save_tiny_model, write_conll
from transformers import AutoConfig

from distilkit.core.errors import DistilkitError
from distilkit.core.model_card import card_metadata
from distilkit.core.tasks import IGNORE_INDEX
from distilkit.data.batching import encode_token_split, make_loader
from distilkit.data.tagged import load_token_data
from distilkit.distil.objectives import DistilObjective, DistilWeights, FinetuneObjective, teacher_logits_for
from distilkit.evaluate.tag_metrics import tag_metrics
from distilkit.evaluate.tagger import evaluate_tagger, predict_word_logits
from distilkit.models.student import build_student
from distilkit.models.teacher import load_classifier

FILLER = ["the", "a", "was", "and", "very", "good", "plot", "it", "of", "is"]


def _sentence(rng: random.Random) -> tuple[list[str], list[str]]:
    """Words with NER tags by a fixed rule: "actor" (+ "story") is a PER entity, "film" an ORG; "sad" is not in the
    tiny vocabulary, so it splits into one piece per letter."""
    words, tags = [], []
    for _ in range(rng.randint(3, 9)):
        roll = rng.random()
        if roll < 0.15:
            words += ["actor", "story"]
            tags += ["B-PER", "I-PER"]
        elif roll < 0.3:
            words.append("film")
            tags.append("B-ORG")
        else:
            words.append(rng.choice(FILLER + ["sad"]))
            tags.append("O")
    return words, tags


@pytest.fixture
def ner_data(tmp_path: Path) -> Path:
    rng = random.Random(0)
    folder = tmp_path / "ner"
    for split, n in (("train", 40), ("dev", 10), ("test", 10)):
        write_conll(folder / f"{split}.conll", [_sentence(rng) for _ in range(n)])
    return folder


@pytest.fixture
def token_teacher(tmp_path: Path, ner_data: Path):
    """A random 4-layer BERT with a (random) token-classification head for the toy tags."""
    data = load_token_data(ner_data)
    folder = save_tiny_model(tmp_path / "base", layers=4)
    model, tokenizer = load_classifier(folder, data.tag_names, task="token-classification")
    return model, tokenizer, data


def test_windows_become_examples_with_per_position_labels_padded_with_ignore(token_teacher):
    model, tokenizer, data = token_teacher
    encoded, windows = encode_token_split(tokenizer, data.train, model.config.label2id, max_length=8, stride=2)
    assert len(encoded) == len(windows) > len(data.train)  # long sentences were cut into several windows
    batch = next(iter(make_loader(encoded, tokenizer, batch_size=16, shuffle=False)))
    assert batch["labels"].shape == batch["input_ids"].shape
    padding = batch["attention_mask"] == 0
    assert padding.any() and (batch["labels"][padding] == IGNORE_INDEX).all()
    for row, i in enumerate(batch["index"].tolist()):
        length = len(windows[i]["input_ids"])
        assert batch["labels"][row, :length].tolist() == windows[i]["labels"]


def test_losses_ignore_positions_without_a_label(token_teacher):
    """Changing the logits of special tokens, padding and continuation pieces must not change CE or KD."""
    model, tokenizer, data = token_teacher
    encoded, _ = encode_token_split(tokenizer, data.train, model.config.label2id, 32, 4)
    batch = next(iter(make_loader(encoded, tokenizer, batch_size=8, shuffle=False)))
    student, layer_map = build_student(model, student_layers=2)
    objective = DistilObjective(student, model, layer_map, DistilWeights(alpha_kd=1.0, alpha_ce=1.0))
    finetune = FinetuneObjective(student)
    student.eval()  # no dropout: the only difference between the two passes is the noise
    before = objective(batch)[0].item(), finetune(batch)[0].item()

    unlabelled = batch["labels"] == IGNORE_INDEX
    original = student.forward

    def noisy(**kwargs):
        out = original(**kwargs)
        out.logits = out.logits + 100.0 * unlabelled.unsqueeze(-1) * torch.randn_like(out.logits)
        return out

    student.forward = noisy
    after = objective(batch)[0].item(), finetune(batch)[0].item()
    assert after == pytest.approx(before, rel=1e-5)


def test_cached_teacher_logits_give_the_live_teacher_loss(token_teacher):
    model, tokenizer, data = token_teacher
    encoded, _ = encode_token_split(tokenizer, data.train, model.config.label2id, 8, 2)
    cache = teacher_logits_for(model, encoded, tokenizer, batch_size=5)
    assert len(cache.values) == sum(sum(label != IGNORE_INDEX for label in labels) for labels in encoded.labels)
    student, layer_map = build_student(model, student_layers=2)
    student.eval()
    weights = DistilWeights(alpha_kd=1.0, temperature=3.0)
    live = DistilObjective(student, model, layer_map, weights)
    cached = DistilObjective(student, model, layer_map, weights, cache)
    batch = next(iter(make_loader(encoded, tokenizer, batch_size=16, seed=1, shuffle=True)))
    assert cached(batch)[0].item() == pytest.approx(live(batch)[0].item(), rel=1e-5)


def test_labels_only_distillation_never_runs_the_teacher(token_teacher):
    model, tokenizer, data = token_teacher
    encoded, _ = encode_token_split(tokenizer, data.train, model.config.label2id, 32, 4)
    student, layer_map = build_student(model, student_layers=2)

    def refuse(**kwargs):
        raise AssertionError("the teacher ran")

    model.forward = refuse
    objective = DistilObjective(student, model, layer_map, DistilWeights(alpha_kd=0.0, alpha_ce=1.0))
    loss, logs = objective(next(iter(make_loader(encoded, tokenizer, batch_size=8))))
    assert loss.item() > 0 and set(logs) == {"ce", "loss"}


def test_long_sentences_get_one_prediction_per_word(token_teacher):
    model, tokenizer, data = token_teacher
    short = predict_word_logits(model, tokenizer, data.test, max_length=8, stride=2)
    full = predict_word_logits(model, tokenizer, data.test, max_length=64, stride=4)
    assert [len(s) for s in short] == [len(words) for words in data.test.sentences]
    assert [len(s) for s in full] == [len(words) for words in data.test.sentences]
    metrics = evaluate_tagger(model, tokenizer, data.test, max_length=8, stride=2)
    assert metrics["words"] == sum(len(words) for words in data.test.sentences)
    assert metrics["headline"] == "f1" and set(metrics["per_type"]) >= {"PER", "ORG"}


def test_tag_metrics_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "B-ORG"]]
    predicted = [["B-PER", "I-PER", "O", "O"], ["O", "B-ORG"]]
    metrics = tag_metrics(gold, predicted, entities=True)
    assert metrics["accuracy"] == pytest.approx(5 / 6)
    assert (metrics["precision"], metrics["recall"]) == (1.0, pytest.approx(2 / 3))
    assert metrics["per_type"]["ORG"]["recall"] == 0.5
    pos = tag_metrics([["DT", "NN"], ["VB"]], [["DT", "VB"], ["VB"]], entities=False)
    assert pos == {"accuracy": pytest.approx(2 / 3), "words": 3, "headline": "accuracy"}


def test_evaluate_refuses_tags_the_model_does_not_know(token_teacher, tmp_path):
    model, tokenizer, _ = token_teacher
    test = load_token_data(write_conll(tmp_path / "odd.conll", [(["the", "film"], ["O", "B-LOC"])])).train
    with pytest.raises(DistilkitError, match=r"odd.conll:2: tag 'B-LOC' is not among the model's tags"):
        evaluate_tagger(model, tokenizer, test)


def test_cli_finetune_distil_evaluate_token_classification(tmp_path, tiny_teacher, ner_data):
    common = ["--task", "token-classification", "--batch-size", 8, "--max-length", 16, "--stride", 4]
    invoke("finetune", "--model", tiny_teacher, "--data", ner_data, "--out", tmp_path / "t", "--epochs", 2, *common)
    teacher = tmp_path / "t" / "model"
    assert AutoConfig.from_pretrained(teacher).architectures == ["BertForTokenClassification"]
    result = invoke(
        "distil",
        "--teacher",
        teacher,
        "--data",
        ner_data,
        "--out",
        tmp_path / "s",
        "--student-layers",
        1,
        "--alpha-ce",
        0.5,
        "--max-steps",
        3,
        "--augment",
        1,
        *common,
    )
    assert "entity-F1" in result.output
    results = json.loads((tmp_path / "s" / "results.json").read_text())
    assert results["transfer_examples"] == 2 * len(load_token_data(ner_data).train)  # one masked copy of each
    assert results["task"] == "token-classification" and results["layer_map"] == [0]
    assert set(results["metrics"]) == {"dev", "test"} and "per_type" in results["metrics"]["test"]
    assert AutoConfig.from_pretrained(tmp_path / "s" / "model").num_hidden_layers == 1
    card = card_metadata((tmp_path / "s" / "model" / "README.md").read_text(encoding="utf-8"))
    assert card["pipeline_tag"] == "token-classification" and card["base_model"] == str(teacher)
    test_scores = {m["name"]: m["value"] for m in card["model-index"][0]["results"][1]["metrics"]}
    assert test_scores["test entity F1"] == results["metrics"]["test"]["f1"]
    assert test_scores["test accuracy"] == results["metrics"]["test"]["accuracy"]

    out = tmp_path / "eval.json"
    window = ["--max-length", 16, "--stride", 4]
    shown = invoke("evaluate", tmp_path / "s" / "model", "--data", ner_data, *common[:2], *window, "--out", out)
    assert "entity P" in shown.output
    assert json.loads(out.read_text()) == results["metrics"]["test"]


def test_cli_token_errors_are_one_line(tmp_path, tiny_teacher, ner_data):
    with pytest.raises(DistilkitError, match="no trained classifier head for token-classification"):
        invoke(
            "distil",
            "--teacher",
            tiny_teacher,
            "--data",
            ner_data,
            "--out",
            tmp_path / "s",
            "--task",
            "token-classification",
        )
    with pytest.raises(DistilkitError, match="stride must be in"):
        invoke(
            "finetune",
            "--model",
            tiny_teacher,
            "--data",
            ner_data,
            "--out",
            tmp_path / "f",
            "--task",
            "token-classification",
            "--max-length",
            8,
            "--stride",
            6,
        )
    with pytest.raises(DistilkitError, match="task: expected one of"):
        invoke("finetune", "--model", tiny_teacher, "--data", ner_data, "--out", tmp_path / "f", "--task", "ner")
