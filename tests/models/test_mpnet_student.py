"""Students of an MPNet teacher (all-mpnet-base-v2's family): the layer keys, the shared relative attention bias."""

from __future__ import annotations

import torch
from mpnet_helpers import save_tiny_mpnet
from transformers import AutoModelForSequenceClassification, MPNetForSequenceClassification

from distilkit.models.student import LAYER_KEY, build_student


def test_a_12_layer_mpnet_gets_distilberts_map_and_its_mapped_layers(tmp_path):
    teacher = MPNetForSequenceClassification.from_pretrained(save_tiny_mpnet(tmp_path / "t", layers=12))
    student, layer_map = build_student(teacher, student_layers=6)
    assert layer_map == [0, 2, 4, 7, 9, 11]  # DistilBERT's map, the default for 12 → 6
    assert type(student) is MPNetForSequenceClassification and student.config.num_hidden_layers == 6
    t_state, s_state = teacher.state_dict(), student.state_dict()
    prefix = "mpnet.encoder.layer."
    layer_keys = [k for k in s_state if k.startswith(prefix)]
    assert layer_keys and all(LAYER_KEY.match(k) for k in layer_keys)
    for key in s_state:
        if key.startswith(prefix):
            index, rest = key[len(prefix) :].split(".", 1)
            source = f"{prefix}{layer_map[int(index)]}.{rest}"
        else:
            source = key
        assert torch.equal(s_state[key], t_state[source]), key
    # MPNet's relative position bias is one table for all layers, outside `layer.<i>.`: copied as it is.
    bias = "mpnet.encoder.relative_attention_bias.weight"
    assert bias in s_state and not LAYER_KEY.match(bias) and torch.equal(s_state[bias], t_state[bias])


def test_an_mpnet_student_saves_and_loads_with_plain_transformers(tmp_path):
    teacher = MPNetForSequenceClassification.from_pretrained(save_tiny_mpnet(tmp_path / "t", layers=4))
    student, _ = build_student(teacher, layer_map=[0, 1, 2, 3])
    student.save_pretrained(tmp_path / "s")
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "s").eval()
    ids = torch.tensor([[2, 5, 13, 3, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 0]])
    with torch.no_grad():
        assert torch.allclose(loaded(input_ids=ids, attention_mask=mask).logits, teacher.eval()(ids, mask).logits)
