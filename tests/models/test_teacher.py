"""Teacher resolution: local folders, hub ids, the embedded default; pickle weights refused unless allowed."""

from __future__ import annotations

import pytest
from conftest import require_teacher, save_tiny_model

from distilkit.core.errors import DistilkitError
from distilkit.models.teacher import embedded_teacher_dir, load_classifier, resolve_model_path


def test_local_folder_with_safetensors_is_accepted(tiny_teacher):
    assert resolve_model_path(tiny_teacher) == str(tiny_teacher)


def test_pickle_only_weights_are_refused_unless_allowed(tmp_path):
    folder = save_tiny_model(tmp_path / "m")
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(DistilkitError, match="--allow-pickle"):
        resolve_model_path(folder)
    assert resolve_model_path(folder, allow_pickle=True) == str(folder)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "no config.json"),
        (lambda p: (p.mkdir(), (p / "config.json").write_text("{}")), "no model weights"),
        (lambda p: p.write_text("x"), "must be a folder"),
    ],
)
def test_broken_local_models_are_named_in_the_error(tmp_path, make, message):
    path = tmp_path / "model"
    make(path)
    with pytest.raises(DistilkitError, match=message):
        resolve_model_path(path)


def test_hub_ids_pass_through_and_missing_paths_fail(tmp_path):
    assert resolve_model_path("bert-base-uncased") == "bert-base-uncased"
    assert resolve_model_path("google/bert_uncased_L-2_H-128_A-2") == "google/bert_uncased_L-2_H-128_A-2"
    with pytest.raises(DistilkitError, match="no such model folder"):
        resolve_model_path(str(tmp_path / "nope" / "deeper"))


def test_classifier_with_other_labels_is_refused(tiny_teacher):
    with pytest.raises(DistilkitError, match="its classifier predicts"):
        load_classifier(tiny_teacher, ["cat", "dog"], require_head=True)


@pytest.mark.integration
def test_embedded_teacher_resolves_offline_and_loads():
    require_teacher()
    folder = embedded_teacher_dir()
    assert (folder / "model.safetensors").is_file()
    model, tokenizer = load_classifier("all-MiniLM-L6-v2", ["negative", "positive"])
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384
    assert tokenizer("hello world")["input_ids"][0] == tokenizer.cls_token_id


def _reordered(folder, task: str = "sequence-classification"):
    """A tiny classifier (or tagger) whose head lists the labels in another order than the data's sorted one, its
    head biased to predict the first of them everywhere."""
    import torch
    from conftest import make_tokenizer, tiny_config
    from transformers import BertForSequenceClassification, BertForTokenClassification

    torch.manual_seed(0)
    tokenizer = make_tokenizer(folder)
    names = ["positive", "negative"] if task == "sequence-classification" else ["B-PER", "O", "I-PER"]
    config = tiny_config(num_labels=len(names), layers=4)
    config.vocab_size = len(tokenizer)
    config.id2label, config.label2id = dict(enumerate(names)), {n: i for i, n in enumerate(names)}
    model = (BertForSequenceClassification if task == "sequence-classification" else BertForTokenClassification)(config)
    with torch.no_grad():
        model.classifier.bias[0] = 10.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize(
    ("task", "data_labels"),
    [("sequence-classification", ["negative", "positive"]), ("token-classification", ["B-PER", "I-PER", "O"])],
)
def test_a_head_with_the_datas_labels_in_another_order_keeps_its_own_order(tmp_path, task, data_labels):
    folder = _reordered(tmp_path / "m", task)
    model, _ = load_classifier(folder, data_labels, require_head=True, task=task)
    assert model.config.id2label == dict(enumerate(model.config.id2label.values()))
    assert list(model.config.id2label.values()) == (
        ["positive", "negative"] if task == "sequence-classification" else ["B-PER", "O", "I-PER"]
    )
    assert model.config.label2id == {name: i for i, name in model.config.id2label.items()}
    with pytest.raises(DistilkitError, match="its classifier predicts"):
        load_classifier(folder, [*data_labels[:-1], "other"], require_head=True, task=task)


def test_distil_from_a_teacher_in_its_own_label_order_scores_by_name(tmp_path):
    """The teacher says `positive` (its id 0) everywhere; on all-positive dev data the student, cut from it and
    trained on its soft targets, must score 1.0: encoding or scoring by position would score 0."""
    import json

    from conftest import invoke, toy_rows, write_csv

    teacher = _reordered(tmp_path / "teacher")
    data = tmp_path / "data"
    write_csv(data / "train.csv", toy_rows(16))
    write_csv(data / "dev.csv", [("good movie", "positive"), ("great film", "positive"), ("a fine plot", "positive")])
    out = tmp_path / "student"
    invoke("distil", "--teacher", teacher, "--data", data, "--out", out, "--max-steps", 1, "--batch-size", 8)
    results = json.loads((out / "results.json").read_text())
    assert results["metrics"]["dev"]["accuracy"] == 1.0
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "positive", "1": "negative"}
