"""`distilkit prune` end to end on tiny models: prune a distilled student, recover it by distillation, export it,
bench it; the same rules for MPNet."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import invoke
from export_helpers import FRESH_TEXTS
from mpnet_helpers import save_tiny_mpnet
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from distilkit.core.errors import DistilkitError
from distilkit.export.pipeline import export_bundle
from distilkit.models.pruning.layout import load_pretrained
from distilkit.models.student import LAYER_MAP_KEY
from distilkit.runtime import Predictor

FAST = ("--epochs", 1, "--batch-size", 8)


def results(folder) -> dict:
    return json.loads((folder / "results.json").read_text())


@pytest.fixture
def student(tmp_path, tiny_teacher, toy_data):
    """A 3-layer student distilled from the 4-layer tiny teacher: layers [0, 2, 3], recorded in its config."""
    invoke(
        "distil", "--teacher", tiny_teacher, "--data", toy_data, "--out", tmp_path / "s3", "--student-layers", 3, *FAST
    )
    return tmp_path / "s3" / "model"


def test_a_pruned_student_keeps_its_map_recovers_by_distillation_and_exports(tmp_path, tiny_teacher, toy_data, student):
    out = tmp_path / "pruned"
    shown = invoke("prune", student, "--data", toy_data, "--heads", 0.5, "--ffn", 0.5, "--out", out, "--examples", 16)
    assert "pruned: heads 2 → 1, feed-forward 64 → 32 per layer" in shown.output
    pruned = results(out)
    assert pruned["layer_map"] == [0, 2, 3] and pruned["pruning"]["examples"] == 16
    assert pruned["student"]["num_attention_heads"] == 1 and pruned["student"]["intermediate_size"] == 32
    assert pruned["student"]["parameters"] < pruned["before"]["parameters"]
    assert set(pruned["metrics"]) == {"dev", "test"}
    saved = json.loads((out / "model" / "config.json").read_text())
    assert saved[LAYER_MAP_KEY] == [0, 2, 3] and saved["attention_head_size"] == 16
    assert "load_pretrained(AutoModelForSequenceClassification" in (out / "model" / "README.md").read_text()

    recovered = tmp_path / "recovered"
    invoke("distil", "--teacher", tiny_teacher, "--data", toy_data, "--out", recovered, "--student", out / "model",
           "--alpha-hid", 1, "--alpha-ce", 0.5, *FAST)  # fmt: skip
    distilled = results(recovered)
    assert distilled["layer_map"] == [0, 2, 3]  # hidden states pair with the teacher layers the student came from
    assert distilled["student"]["num_attention_heads"] == 1 and distilled["student"]["intermediate_size"] == 32

    bundle = tmp_path / "bundle"
    meta = export_bundle(recovered / "model", bundle, quiet=True)
    assert meta["validation"]["fp32_vs_torch"]["passed"]
    assert meta["optimization"]["fused"]["Attention"] == 3  # one fused attention per layer, with 1 head of 16
    model = load_pretrained(AutoModelForSequenceClassification, str(recovered / "model")).eval()
    tokenizer = AutoTokenizer.from_pretrained(recovered / "model")
    with torch.no_grad():
        expected = model(**tokenizer(FRESH_TEXTS, padding=True, return_tensors="pt")).logits.numpy()
    np.testing.assert_allclose(np.stack(Predictor(bundle).outputs(FRESH_TEXTS)), expected, atol=1e-4)


def test_pruning_nothing_writes_a_model_with_the_same_logits(tmp_path, toy_data, student):
    invoke("prune", student, "--data", toy_data, "--out", tmp_path / "p")
    before, after = load_file(student / "model.safetensors"), load_file(tmp_path / "p" / "model" / "model.safetensors")
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    tokenizer = AutoTokenizer.from_pretrained(student)
    inputs = tokenizer(FRESH_TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = [AutoModelForSequenceClassification.from_pretrained(f).eval()(**inputs).logits for f in
                  (student, tmp_path / "p" / "model")]  # fmt: skip
    assert torch.equal(*logits)


def test_scores_depend_on_the_seed_only_through_the_examples(tmp_path, toy_data, student):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        invoke("prune", student, "--data", toy_data, "--ffn", 0.5, "--out", tmp_path / name, "--examples", 8,
               "--seed", seed, "--batch-size", 4)  # fmt: skip
        runs[name] = results(tmp_path / name)["pruning"]
    assert runs["a"]["head_scores"] == runs["b"]["head_scores"] and runs["a"]["kept"] == runs["b"]["kept"]
    assert runs["a"]["head_scores"] != runs["c"]["head_scores"]


def test_bench_times_a_head_pruned_model_and_its_bundle(tmp_path, toy_data, student):
    invoke("prune", student, "--data", toy_data, "--heads", 0.5, "--out", tmp_path / "p", "--examples", 8)
    export_bundle(tmp_path / "p" / "model", tmp_path / "bundle", quiet=True)
    out = tmp_path / "bench"
    invoke("bench", f"student={student}", f"pruned={tmp_path / 'p' / 'model'}", f"bundle={tmp_path / 'bundle'}",
           "--test", toy_data / "test.csv", "--out", out, "--runs", 2, "--warmup", 0)  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    params = {m["name"]: m["params"] for m in report["models"]}
    assert params["pruned"] < params["student"]


def test_mpnet_prunes_the_same_heads_in_every_layer_and_recovers(tmp_path, toy_data):
    teacher = save_tiny_mpnet(tmp_path / "teacher", layers=4)
    out = tmp_path / "pruned"
    invoke("prune", teacher, "--data", toy_data, "--heads", 0.5, "--ffn", 0.25, "--out", out, "--examples", 16)
    kept = results(out)["pruning"]["kept"]["heads"]
    assert len({tuple(k) for k in kept}) == 1 and len(kept[0]) == 1  # MPNet shares its per-head position bias
    weights = load_file(out / "model" / "model.safetensors")
    assert weights["mpnet.encoder.relative_attention_bias.weight"].shape == (32, 1)
    invoke(
        "distil", "--teacher", teacher, "--data", toy_data, "--out", tmp_path / "d", "--student", out / "model", *FAST
    )
    meta = export_bundle(tmp_path / "d" / "model", tmp_path / "bundle", quiet=True)
    assert meta["validation"]["fp32_vs_torch"]["passed"]


def test_a_bare_encoder_cannot_be_scored(tmp_path, toy_data):
    from conftest import make_tokenizer, tiny_config
    from transformers import BertModel

    folder = tmp_path / "encoder"
    make_tokenizer(folder).save_pretrained(folder)
    BertModel(tiny_config()).save_pretrained(folder)
    with pytest.raises(DistilkitError, match="no trained classifier head"):
        invoke("prune", folder, "--data", toy_data, "--heads", 0.5, "--out", tmp_path / "p")
