"""Student construction: layer maps, weights copied from the mapped teacher layers, any BERT-family class."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_config
from transformers import (
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    RobertaConfig,
    RobertaForSequenceClassification,
)

from distilkit.core.errors import DistilkitError
from distilkit.models.student import build_student, default_layer_map, parse_layer_list, parse_layer_map


def test_default_layer_map_matches_distilbert_for_12_to_6():
    assert default_layer_map(12, 6) == [0, 2, 4, 7, 9, 11]


@pytest.mark.parametrize(("teacher", "student"), [(6, 3), (12, 4), (4, 2), (6, 6), (5, 1)])
def test_default_layer_map_spans_first_to_last_in_order(teacher, student):
    layers = default_layer_map(teacher, student)
    assert len(layers) == student
    assert layers == sorted(set(layers))
    assert layers[0] == 0
    if student > 1:
        assert layers[-1] == teacher - 1


@pytest.mark.parametrize(
    ("text", "message"),
    [("0,9", "do not exist"), ("0,x", "comma-separated"), ("0,1,2", "student_layers is 2")],
)
def test_bad_layer_maps_are_refused_with_the_field_named(text, message):
    with pytest.raises(DistilkitError, match=message) as err:
        parse_layer_map(parse_layer_list(text), teacher_layers=4, student_layers=2)
    assert "layer_map" in str(err.value)


def test_student_deeper_than_teacher_is_refused():
    with pytest.raises(DistilkitError, match="student_layers"):
        default_layer_map(4, 5)


def _teachers():
    torch.manual_seed(0)
    bert = BertForSequenceClassification(tiny_config(layers=4))
    roberta = RobertaForSequenceClassification(
        RobertaConfig(
            vocab_size=60,
            hidden_size=32,
            num_hidden_layers=4,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=40,
            num_labels=2,
        )
    )
    distil = DistilBertForSequenceClassification(
        DistilBertConfig(
            vocab_size=60, dim=32, n_layers=4, n_heads=2, hidden_dim=64, max_position_embeddings=40, num_labels=2
        )
    )
    return {
        "bert": (bert, "bert.encoder.layer"),
        "roberta": (roberta, "roberta.encoder.layer"),
        "distilbert": (distil, "distilbert.transformer.layer"),
    }


@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert"])
def test_student_layers_equal_the_mapped_teacher_layers(family):
    teacher, prefix = _teachers()[family]
    student, layer_map = build_student(teacher, layer_map=[0, 3])
    assert type(student) is type(teacher)
    assert student.config.num_hidden_layers == 2
    t_state, s_state = teacher.state_dict(), student.state_dict()
    layer_keys = [k for k in s_state if k.startswith(prefix + ".")]
    assert layer_keys, "the student has transformer layers"
    for key in s_state:
        if key.startswith(prefix + "."):
            index, rest = key[len(prefix) + 1 :].split(".", 1)
            source = f"{prefix}.{layer_map[int(index)]}.{rest}"
        else:
            source = key  # embeddings, pooler and head are copied as they are
        assert torch.equal(s_state[key], t_state[source]), key


def test_student_output_equals_teacher_when_all_layers_are_kept():
    teacher, _ = _teachers()["bert"]
    student, _ = build_student(teacher, layer_map=[0, 1, 2, 3])
    ids = torch.randint(5, 60, (2, 7))
    teacher.eval(), student.eval()
    assert torch.allclose(teacher(input_ids=ids).logits, student(input_ids=ids).logits)


def test_random_init_student_shares_no_layer_weights():
    teacher, _ = _teachers()["bert"]
    student, layer_map = build_student(teacher, student_layers=2, init="random")
    assert layer_map == [0, 3]
    q = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(student.state_dict()[q], teacher.state_dict()[q])


def test_student_does_not_share_storage_with_teacher():
    teacher, _ = _teachers()["bert"]
    student, _ = build_student(teacher, student_layers=2)
    with torch.no_grad():
        student.bert.embeddings.word_embeddings.weight.zero_()
    assert teacher.bert.embeddings.word_embeddings.weight.abs().sum() > 0
