"""Structured pruning on tiny BERT and MPNet classifiers: scores, which weights shrink, loading a head-pruned model."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_config
from transformers import (
    AutoModelForSequenceClassification,
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    MPNetConfig,
    MPNetForSequenceClassification,
)

from distilkit.core.errors import DistilkitError
from distilkit.models.pruning.layout import HEAD_SIZE, layout_of, load_pretrained
from distilkit.models.pruning.prune import PrunePlan, apply_pruning, kept, plan_pruning
from distilkit.models.pruning.scores import score_units
from distilkit.models.student import build_student

HEADS, HEAD_DIM, FFN = 4, 8, 64  # hidden 32


def bert() -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = tiny_config(layers=2)
    config.num_attention_heads = HEADS
    return BertForSequenceClassification(config).eval()


def mpnet() -> MPNetForSequenceClassification:
    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=HEADS,
        intermediate_size=FFN,
        max_position_embeddings=64,
        relative_attention_num_buckets=32,
        num_labels=2,
    )
    return MPNetForSequenceClassification(config).eval()


MODELS = {"bert": bert, "mpnet": mpnet}


def batch(seed: int = 0, rows: int = 6, length: int = 12) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(rows, length, dtype=torch.long)
    mask[0, 8:] = 0  # one padded row
    return {
        "input_ids": torch.randint(5, 90, (rows, length), generator=g),
        "attention_mask": mask,
        "labels": torch.randint(0, 2, (rows,), generator=g),
    }


def logits(model, b) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits


@pytest.mark.parametrize("family", MODELS)
def test_pruning_nothing_leaves_the_logits_identical(family):
    model, b = MODELS[family](), batch()
    before = logits(model, b)
    plan = plan_pruning(model, score_units(model, [b]), heads=0.0, ffn=0.0)
    apply_pruning(model, plan)
    assert torch.equal(logits(model, b), before)
    assert not hasattr(model.config, HEAD_SIZE) and model.config.intermediate_size == FFN


@pytest.mark.parametrize("family", MODELS)
def test_removing_a_head_and_neurons_shrinks_exactly_the_expected_weights(family):
    model = MODELS[family]()
    original = {k: v.clone() for k, v in model.state_dict().items()}
    keep_heads = [[0, 1, 3]] * 2 if family == "mpnet" else [[0, 1, 3], [1, 2, 3]]  # MPNet: the same in every layer
    keep_neurons = [list(range(0, FFN, 2)), list(range(1, FFN, 2))]
    apply_pruning(model, PrunePlan(keep_heads, keep_neurons))
    layout = layout_of(model)
    state = model.state_dict()
    assert state.keys() == original.keys()
    q, k, v = (f"{layout.attention}.{p}" for p in layout.projections)
    expected = {}
    for i, (heads, neurons) in enumerate(zip(keep_heads, keep_neurons, strict=True)):
        prefix = f"{family}.encoder.layer.{i}."
        rows = torch.cat([torch.arange(h * HEAD_DIM, (h + 1) * HEAD_DIM) for h in heads])
        for name in (q, k, v):
            expected[f"{prefix}{name}.weight"] = original[f"{prefix}{name}.weight"][rows]
            expected[f"{prefix}{name}.bias"] = original[f"{prefix}{name}.bias"][rows]
        expected[f"{prefix}{layout.output}.weight"] = original[f"{prefix}{layout.output}.weight"][:, rows]
        expected[f"{prefix}{layout.ffn_in}.weight"] = original[f"{prefix}{layout.ffn_in}.weight"][neurons]
        expected[f"{prefix}{layout.ffn_in}.bias"] = original[f"{prefix}{layout.ffn_in}.bias"][neurons]
        expected[f"{prefix}{layout.ffn_out}.weight"] = original[f"{prefix}{layout.ffn_out}.weight"][:, neurons]
    if family == "mpnet":
        table = "mpnet.encoder.relative_attention_bias.weight"  # (buckets, heads), shared by the layers
        expected[table] = original[table][:, keep_heads[0]]
    for key, value in state.items():
        assert torch.equal(value, expected.get(key, original[key])), key  # shape and values, every weight
    assert (model.config.num_attention_heads, getattr(model.config, HEAD_SIZE)) == (3, HEAD_DIM)
    assert model.config.intermediate_size == FFN // 2
    assert logits(model, batch()).shape == (6, 2)


@pytest.mark.parametrize("family", MODELS)
def test_a_head_pruned_checkpoint_round_trips_where_plain_transformers_refuses_it(family, tmp_path):
    model, b = MODELS[family](), batch()
    apply_pruning(model, plan_pruning(model, score_units(model, [b]), heads=0.5, ffn=0.25))
    model.save_pretrained(tmp_path)
    with pytest.raises(RuntimeError, match="mismatch"):  # hidden / heads would be the head size: loud, not wrong
        AutoModelForSequenceClassification.from_pretrained(tmp_path)
    loaded = load_pretrained(AutoModelForSequenceClassification, str(tmp_path)).eval()
    assert type(loaded).__name__ == type(model).__name__ and loaded.config.num_attention_heads == 2
    assert torch.equal(logits(loaded, b), logits(model, b))
    copy, _ = build_student(loaded, layer_map=[1])  # a student cut from it keeps the narrow heads
    assert copy.config.num_attention_heads == 2 and logits(copy, b).shape == (6, 2)


def test_a_neuron_pruned_checkpoint_is_plain_transformers(tmp_path):
    model, b = bert(), batch()
    apply_pruning(model, plan_pruning(model, score_units(model, [b]), heads=0.0, ffn=0.75))
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert loaded.config.intermediate_size == FFN // 4 and torch.equal(logits(loaded, b), logits(model, b))


def test_scores_are_deterministic_and_follow_the_examples():
    model = bert()
    first, again = score_units(model, [batch(0), batch(1)]), score_units(model, [batch(0), batch(1)])
    assert torch.equal(first.heads, again.heads) and torch.equal(first.neurons, again.neurons)
    assert first.examples == 12 and first.heads.shape == (2, HEADS) and first.neurons.shape == (2, FFN)
    assert (first.heads > 0).all()
    other = score_units(model, [batch(2), batch(3)])
    assert not torch.equal(first.heads, other.heads)
    assert all(p.requires_grad for p in model.parameters()) and not model.training  # left as it was


def test_scores_are_per_example_absolute_gradients():
    """Σ over examples of |∂L(x)/∂ξ|: scoring two examples together equals scoring each alone and adding."""
    model, b = bert(), batch(rows=2)
    both = score_units(model, [b])
    alone = [score_units(model, [{k: v[i : i + 1] for k, v in b.items()}]) for i in range(2)]
    torch.testing.assert_close(both.heads, alone[0].heads + alone[1].heads)
    torch.testing.assert_close(both.neurons, alone[0].neurons + alone[1].neurons)


def test_the_plan_keeps_each_layers_best_units_and_mpnets_shared_heads():
    model = bert()
    scores = score_units(model, [batch()])
    plan = plan_pruning(model, scores, heads=0.5, ffn=0.5)
    for row, heads in zip(scores.heads, plan.heads, strict=True):
        assert heads == sorted(torch.topk(row, 2).indices.tolist())
    assert [len(n) for n in plan.neurons] == [FFN // 2] * 2
    shared = mpnet()
    plan = plan_pruning(shared, score_units(shared, [batch()]), heads=0.5, ffn=0.0)
    assert plan.heads[0] == plan.heads[1] and len(plan.heads[0]) == 2


@pytest.mark.parametrize("fraction", [1.0, -0.1, 1.5])
def test_fractions_outside_zero_to_one_are_refused(fraction):
    with pytest.raises(
        DistilkitError, match=rf"^heads: expected the fraction to remove in \[0, 1\), got {fraction:g}$"
    ):
        kept(fraction, 12, "heads")


def test_almost_everything_still_keeps_one_unit():
    assert kept(0.99, 12, "heads") == 1 and kept(0.25, 12, "heads") == 9 and kept(0.75, 1536, "ffn") == 384


def test_a_model_without_bert_or_mpnet_heads_is_refused_in_one_line():
    other = DistilBertForSequenceClassification(
        DistilBertConfig(vocab_size=60, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=40)
    )
    with pytest.raises(DistilkitError, match=r"^prune: DistilBertForSequenceClassification has no attention heads"):
        layout_of(other)
    with pytest.raises(DistilkitError, match="no `layer` lists"):
        layout_of(torch.nn.Linear(2, 2))
