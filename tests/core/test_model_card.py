"""Model cards from plain results dicts: every recipe's card, the Hub's front matter, and the teacher look-up that
must never fail a run."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from distilkit.core.model_card import card_metadata, model_card, results_beside, write_model_card

TRAIN = {
    "steps": 6,
    "train_seconds": 1.5,
    "tokens_per_second": 900.0,
    "final_loss": 0.3,
    "stopped_by_time_budget": False,
    "config": {"epochs": 2, "max_steps": 0, "batch_size": 8, "grad_accum": 1, "lr": 1e-4, "weight_decay": 0.01,
               "warmup_ratio": 0.06, "seed": 3, "freeze_embeddings": False},
}  # fmt: skip
STUDENT = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2}


def test_a_token_classification_student_indexes_entity_scores_and_token_accuracy(tmp_path):
    scores = {"accuracy": 0.9, "precision": 0.8, "recall": 0.7, "f1": 0.75, "macro_f1": 0.6, "per_type": {}}
    result = {
        "model": str(tmp_path / "ner" / "model"),
        "recipe": "distil",
        "task": "token-classification",
        "teacher": "teacher/model",
        "layer_map": [1, 3],
        "init": "teacher",
        "student": STUDENT,
        "weights": {"alpha_kd": 1.0, "alpha_ce": 0.0, "alpha_hid": 2.0, "temperature": 2.0, "hidden_loss": "mse"},
        "data": {"source": "conll", "dev": None, "test": "extra/test.conll"},
        "train": TRAIN,
        "metrics": {"test": scores},
    }
    text = model_card(result)
    meta = card_metadata(text)
    assert meta["pipeline_tag"] == "token-classification" and meta["datasets"] == ["conll", "extra/test.conll"]
    assert meta["metrics"] == ["accuracy", "f1", "precision", "recall"]
    (entry,) = meta["model-index"]
    (test,) = entry["results"]
    values = {m["name"]: m["value"] for m in test["metrics"]}
    assert values == {"test accuracy": 0.9, "test macro-F1": 0.6, "test entity F1": 0.75,
                      "test entity precision": 0.8, "test entity recall": 0.7}  # fmt: skip
    assert "hid × 2 (hidden states of the mapped layers, mse)" in text and "ce ×" not in text
    assert "| split | token accuracy |" in text and "2 epochs (6 optimizer steps)" in text
    assert "AutoModelForTokenClassification" in text and "--task token-classification" in text


def test_embedding_and_general_students_and_the_mlm_head_teacher(tmp_path):
    embedding = {
        "model": "runs/emb/model",
        "recipe": "distil-embedding",
        "task": "embedding",
        "teacher": "all-MiniLM-L6-v2",
        "loss": "cosine",
        "texts": {"source": "texts.txt", "train": 90, "held_out": 10},
        "train": TRAIN,
        "metrics": {"held_out_before": {"cosine_to_teacher": 0.1}, "held_out": {"cosine_to_teacher": 0.95}},
    }
    meta = card_metadata(model_card(embedding))
    assert meta["pipeline_tag"] == "feature-extraction" and "distillation" in meta["tags"]
    (held_out,) = meta["model-index"][0]["results"]
    assert held_out["dataset"]["split"] == "held_out" and held_out["metrics"][0]["value"] == 0.95
    corpus = {"sources": ["texts/"], "corpus_tokens": 5000, "sequences": 40}
    general = {"model": "runs/g/model", "recipe": "distil-general", "teacher": "head/model", "student": STUDENT,
               "weights": {"alpha_kd": 5.0, "alpha_mlm": 2.0, "alpha_cos": 0.0, "temperature": 2.0,
                           "ce_tokens": "masked"}, "corpus": corpus, "train": TRAIN}  # fmt: skip
    text = model_card(general)
    meta = card_metadata(text)
    assert meta["pipeline_tag"] == "fill-mask" and meta["base_model"] == "head/model"
    assert meta["datasets"] == ["texts/"] and "model-index" not in meta and "metrics" not in meta
    assert "kd × 5" in text and "mlm × 2" in text and "cos ×" not in text and "distilkit finetune --model" in text
    head = {"model": "runs/h/model", "recipe": "mlm-head", "teacher": "all-MiniLM-L6-v2", "corpus": corpus}
    meta = card_metadata(model_card(head))
    assert meta["base_model"] == "all-MiniLM-L6-v2" and meta["tags"] == ["distilkit"]  # a teacher, not a student


def test_the_teacher_results_are_used_when_they_describe_the_teacher_and_never_fail_the_card(tmp_path):
    teacher = tmp_path / "ft" / "model"
    teacher.mkdir(parents=True)
    assert results_beside(teacher) is None  # no results.json
    (tmp_path / "ft" / "results.json").write_text("{not json")
    assert results_beside(teacher) is None
    (tmp_path / "ft" / "results.json").write_text(json.dumps({"model": "ft/other", "metrics": {}}))
    assert results_beside(teacher) is None  # another model's results
    teacher_result = {"model": str(teacher), "metrics": {"test": {"accuracy": 0.8}}}
    (tmp_path / "ft" / "results.json").write_text(json.dumps(teacher_result))
    assert results_beside(teacher) == teacher_result
    assert results_beside("bert-base-uncased") is None  # a hub id: nothing to read beside it

    student = {"model": str(tmp_path / "st" / "model"), "recipe": "distil", "task": "sequence-classification",
               "teacher": str(teacher), "metrics": {"test": {"accuracy": 0.6}}}  # fmt: skip
    (tmp_path / "st" / "model").mkdir(parents=True)
    card = write_model_card(student)
    assert card == tmp_path / "st" / "model" / "README.md"
    assert "| teacher test | 0.8000 |" in card.read_text() and "| retention (test) | 75.0% |" in card.read_text()
    without = model_card({**student, "teacher": "bert-base-uncased"})
    assert "teacher test" not in without and "retention" not in without


def test_front_matter_is_plain_yaml_between_two_rules():
    scores = {"accuracy": 0.5, "macro_f1": 0.4}
    result = {"model": "x/model", "task": "sequence-classification", "base_model": "m"}
    text = model_card({**result, "metrics": {"dev": scores, "test": scores}})
    front = text.split("---\n")[1]
    assert yaml.safe_load(front) == card_metadata(text)
    assert "&id" not in front and "*id" not in front  # no YAML aliases for the Hub's parser to trip on
    assert card_metadata("# no front matter\n") == {}
    assert Path(card_metadata(text)["base_model"]).name == "m"
