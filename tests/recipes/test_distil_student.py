"""`distil --student M`: the student starts from a given model, used whole or cut, paired with the teacher's layers
only when M is the teacher or records its own map."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from conftest import invoke, make_tokenizer, save_tiny_model, tiny_config
from safetensors.torch import load_file
from transformers import BertModel

from distilkit.core.errors import DistilkitError
from distilkit.models.student import LAYER_MAP_KEY

FAST = ("--epochs", 1, "--batch-size", 8)
FROZEN = ("--max-steps", 2, "--batch-size", 8, "--lr", 0)  # lr 0: the saved student is its starting weights


def distil(teacher, data, out, *extra) -> dict:
    invoke("distil", "--teacher", teacher, "--data", data, "--out", out, *extra)
    return json.loads((out / "results.json").read_text())


def weights(folder):
    return load_file(folder / "model.safetensors")


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_student_with_the_teachers_head_is_used_whole_and_unpaired(tmp_path, tiny_teacher, toy_data):
    start = save_tiny_model(tmp_path / "start", layers=2, seed=1)
    result = distil(tiny_teacher, toy_data, tmp_path / "s", "--student", start, *FROZEN)
    assert same_weights(weights(tmp_path / "s" / "model"), weights(start))  # head kept, nothing cut
    assert result["student_start"] == str(start) and result["layer_map"] is None
    assert result["student"]["num_hidden_layers"] == 2
    card = (tmp_path / "s" / "model" / "README.md").read_text()
    assert f"started from: `{start}`" in card and "layer map: none recorded" in card


def test_a_bare_encoder_gets_a_seeded_head_with_the_teachers_label_order(tmp_path, toy_data):
    teacher = tmp_path / "teacher"
    tokenizer = make_tokenizer(teacher)
    config = tiny_config()
    config.vocab_size = len(tokenizer)
    config.id2label, config.label2id = {0: "positive", 1: "negative"}, {"positive": 0, "negative": 1}
    from transformers import BertForSequenceClassification

    BertForSequenceClassification(config).save_pretrained(teacher)
    encoder = tmp_path / "encoder"
    make_tokenizer(encoder).save_pretrained(encoder)
    BertModel(tiny_config()).save_pretrained(encoder)
    heads = []
    for name in ("a", "b"):
        distil(teacher, toy_data, tmp_path / name, "--student", encoder, *FROZEN, "--seed", 4)
        saved = json.loads((tmp_path / name / "model" / "config.json").read_text())
        assert saved["id2label"] == {"0": "positive", "1": "negative"}
        heads.append({k: v for k, v in weights(tmp_path / name / "model").items() if k.startswith("classifier")})
    assert heads[0] and same_weights(*heads)
    encoder_weights = weights(encoder)
    student = weights(tmp_path / "a" / "model")
    assert all(torch.equal(student[f"bert.{k}"], v) for k, v in encoder_weights.items())


def test_a_student_cut_from_a_distilled_one_keeps_its_recorded_map(tmp_path, tiny_teacher, toy_data):
    first = distil(tiny_teacher, toy_data, tmp_path / "s3", "--student-layers", 3, *FAST)
    assert first["layer_map"] == [0, 2, 3]
    start = tmp_path / "s3" / "model"
    assert json.loads((start / "config.json").read_text())[LAYER_MAP_KEY] == [0, 2, 3]
    result = distil(tiny_teacher, toy_data, tmp_path / "s2", "--student", start, "--layer-map", "0,2", *FROZEN)
    assert result["layer_map"] == [0, 3]  # start layers 0 and 2 were teacher layers 0 and 3
    student, source = weights(tmp_path / "s2" / "model"), weights(start)
    assert torch.equal(
        student["bert.encoder.layer.1.output.dense.weight"], source["bert.encoder.layer.2.output.dense.weight"]
    )
    saved = json.loads((tmp_path / "s2" / "model" / "config.json").read_text())
    assert saved[LAYER_MAP_KEY] == [0, 3] and saved["num_hidden_layers"] == 2
    distil(tiny_teacher, toy_data, tmp_path / "hid", "--student", start, "--alpha-hid", 1, *FAST)  # pairs known


def test_an_older_student_is_paired_through_the_results_json_beside_it(tmp_path, tiny_teacher, toy_data):
    distil(tiny_teacher, toy_data, tmp_path / "s3", "--student-layers", 3, *FAST)
    config_file = tmp_path / "s3" / "model" / "config.json"
    config = json.loads(config_file.read_text())
    del config[LAYER_MAP_KEY]  # as distil wrote it before the key existed
    config_file.write_text(json.dumps(config))
    result = distil(tiny_teacher, toy_data, tmp_path / "o", "--student", config_file.parent, "--alpha-hid", 1, *FAST)
    assert result["layer_map"] == [0, 2, 3]


def test_the_teacher_as_student_is_todays_default(tmp_path, tiny_teacher, toy_data):
    plain = distil(tiny_teacher, toy_data, tmp_path / "a", "--student-layers", 2, "--alpha-hid", 1, *FAST)
    given = distil(
        tiny_teacher,
        toy_data,
        tmp_path / "b",
        "--student",
        tiny_teacher,
        "--student-layers",
        2,
        "--alpha-hid",
        1,
        *FAST,
    )
    assert plain["layer_map"] == given["layer_map"] == [0, 3]
    assert same_weights(weights(tmp_path / "a" / "model"), weights(tmp_path / "b" / "model"))


def test_a_student_without_a_map_cannot_take_the_hidden_state_loss(tmp_path, tiny_teacher, toy_data):
    start = save_tiny_model(tmp_path / "start", layers=2, seed=1)
    with pytest.raises(DistilkitError, match=r"^alpha_hid: .* records no layer map onto this teacher"):
        distil(tiny_teacher, toy_data, tmp_path / "s", "--student", start, "--alpha-hid", 1, *FAST)


def test_a_recorded_map_that_does_not_fit_the_teacher_is_refused(tmp_path, tiny_teacher, toy_data):
    start = save_tiny_model(tmp_path / "start", layers=2, seed=1)
    config = json.loads((start / "config.json").read_text())
    (start / "config.json").write_text(json.dumps({**config, LAYER_MAP_KEY: [0, 7]}))
    with pytest.raises(DistilkitError, match=r"config.json distilkit_layer_map: \[0, 7\] does not map this 2-layer"):
        distil(tiny_teacher, toy_data, tmp_path / "s", "--student", start, *FAST)


def test_a_student_with_another_label_order_is_refused(tmp_path, tiny_teacher, toy_data):
    """(Another vocabulary is allowed: tests/recipes/test_cross_tokenizer.py.)"""
    flipped = tmp_path / "flipped"
    shutil.copytree(save_tiny_model(tmp_path / "x", layers=2), flipped)
    config = json.loads((flipped / "config.json").read_text())
    config["id2label"], config["label2id"] = {"0": "positive", "1": "negative"}, {"positive": 0, "negative": 1}
    (flipped / "config.json").write_text(json.dumps(config))
    with pytest.raises(DistilkitError, match=r"orders its labels \['positive', 'negative'\], the teacher"):
        distil(tiny_teacher, toy_data, tmp_path / "t", "--student", flipped, *FAST)
