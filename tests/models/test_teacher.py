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
