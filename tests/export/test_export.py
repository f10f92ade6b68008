"""ONNX export on tiny random models: agreement with PyTorch for every head, bundles, quantization and its budget."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import save_tiny_model, toy_rows, write_csv
from export_helpers import FRESH_TEXTS, TAGS, save_tiny_tagger
from transformers import AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

import distilkit
from distilkit.core.atomic import write_json
from distilkit.core.errors import DistilkitError
from distilkit.core.progress import ENV
from distilkit.export import export_bundle, export_texts
from distilkit.export import pipeline as export_pipeline
from distilkit.export.onnx_export import export_onnx, load_for_export
from distilkit.export.quantize import (
    AUTO_CANDIDATES,
    DYNAMIC,
    FP32,
    STATIC,
    CandidateResult,
    select_candidate,
    within_budget,
)
from distilkit.runtime import Predictor
from distilkit.runtime.bundle import load_bundle


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        "classifier": save_tiny_model(root / "classifier", layers=2),
        "tagger": save_tiny_tagger(root / "tagger", layers=2),
    }


@pytest.fixture(scope="module")
def fp32_bundle(tmp_path_factory, models) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "fp32"
    export_bundle(models["classifier"], out)
    return out


def torch_reference(task: str, folder: Path, texts: list[str]) -> list[np.ndarray]:
    """What PyTorch says, computed independently of the exporter: HF tokenizer padding, default attention."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    enc = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        if task == "sequence-classification":
            logits = AutoModelForSequenceClassification.from_pretrained(folder).eval()(**enc).logits
            return list(logits.numpy())
        if task == "token-classification":
            logits = AutoModelForTokenClassification.from_pretrained(folder).eval()(**enc).logits.numpy()
            lengths = enc["attention_mask"].sum(-1).tolist()
            return [logits[i, :n] for i, n in enumerate(lengths)]
        hidden = AutoModel.from_pretrained(folder).eval()(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        return list(torch.nn.functional.normalize(pooled, dim=-1).numpy())


@pytest.mark.parametrize(
    ("task", "model"),
    [
        ("sequence-classification", "classifier"),
        ("token-classification", "tagger"),
        ("embedding", "classifier"),  # the base model under a classifier checkpoint, mean-pooled
    ],
)
def test_export_reproduces_pytorch(tmp_path, models, task, model):
    meta = export_bundle(models[model], tmp_path / "bundle", task=task)
    check = meta["validation"]["fp32_vs_torch"]
    assert check["passed"] and check["max_abs_diff"] <= 1e-4
    assert check["agreement"] == (None if task == "embedding" else 1.0)
    assert meta["optimization"]["applied"] and meta["optimization"]["fused"]["Attention"] == 2  # one per layer
    # Independently of the exporter's own check: other texts, other batch sizes, PyTorch's default attention.
    predictor = Predictor(tmp_path / "bundle", batch_size=2)
    got = predictor.outputs(FRESH_TEXTS)
    want = torch_reference(task, models[model], FRESH_TEXTS)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        assert np.max(np.abs(g - w)) <= 1e-4
        assert np.array_equal(g.argmax(-1), w.argmax(-1))


def test_export_does_not_leave_the_model_in_training_mode(tmp_path, models):
    """The legacy exporter restores the module's previous mode: a wrapper in training mode would turn dropout on."""
    loaded = load_for_export(models["classifier"], "sequence-classification")
    sample = {
        "input_ids": np.array([[2, 5, 3], [2, 3, 0]]),
        "attention_mask": np.array([[1, 1, 1], [1, 1, 0]]),
        "token_type_ids": np.zeros((2, 3), dtype=np.int64),
    }
    export_onnx(loaded, sample, tmp_path / "model.onnx")
    assert not any(m.training for m in loaded.module.modules())


def test_bundle_round_trip(fp32_bundle, models):
    bundle = load_bundle(fp32_bundle)
    assert bundle.task == "sequence-classification"
    assert bundle.labels == ["negative", "positive"]
    assert bundle.inputs == ["input_ids", "attention_mask", "token_type_ids"]
    assert bundle.max_length == 128 and bundle.output == "logits" and bundle.output_width == 2
    meta = json.loads((fp32_bundle / "bundle.json").read_text())
    assert meta["labels"] == {"0": "negative", "1": "positive"}
    assert meta["distilkit_version"] == distilkit.__version__
    assert meta["quantization"]["method"] == "none"
    assert meta["validation"]["fp32_vs_torch"]["texts"] == len(export_pipeline.BUILTIN_TEXTS)
    assert meta["scores"]["metric"] == "agreement_with_fp32" and meta["scores"]["bundle"] == 100.0
    assert sorted(p.name for p in fp32_bundle.iterdir()) == ["README.md", "bundle.json", "model.onnx", "tokenizer.json"]
    tokenizer = json.loads((fp32_bundle / "tokenizer.json").read_text())
    assert tokenizer["truncation"] is None and tokenizer["padding"] is None  # the runtime sets its own


def read_card(folder: Path) -> tuple[dict, str]:
    """A card's YAML front matter, parsed on its own (what the Hub reads), and its Markdown body."""
    empty, front, body = (folder / "README.md").read_text(encoding="utf-8").split("---\n", 2)
    assert empty == ""
    return yaml.safe_load(front), body


def test_fp32_bundle_card_names_its_source_and_no_quantization(fp32_bundle, models):
    card, body = read_card(fp32_bundle)
    assert card["base_model"] == str(models["classifier"]) and card["library_name"] == "onnx"
    assert card["pipeline_tag"] == "text-classification" and card["tags"] == ["distilkit", "onnx"]
    assert "model-index" not in card and "base_model_relation" not in card  # built-in texts: agreement, no score
    assert "chosen: **fp32**" in body and f'distilkit predict {fp32_bundle} "' in body


def test_bundle_card_records_quantization_scores_and_the_distilled_source(tmp_path, models, toy_data):
    source = tmp_path / "run" / "model"
    shutil.copytree(models["classifier"], source)
    record = {"model": str(source), "recipe": "distil", "teacher": "big/model", "metrics": {"test": {"accuracy": 0.75}}}
    write_json(tmp_path / "run" / "results.json", record)
    out = tmp_path / "bundle"
    meta = export_bundle(source, out, quantize="dynamic", data=str(toy_data))
    card, body = read_card(out)
    assert card["base_model"] == meta["source_model"] == str(source)
    assert card["base_model_relation"] == "quantized" and card["library_name"] == "onnx"
    assert card["tags"] == ["distilkit", "onnx", "int8", "distillation"]  # distillation: from the source's results
    assert card["datasets"] == [meta["scores"]["source"]] and card["metrics"] == ["accuracy"]
    (entry,) = card["model-index"]
    (scored,) = entry["results"]
    assert scored["dataset"]["split"] == "dev" and scored["dataset"]["name"].endswith("dev.csv")
    assert scored["metrics"] == [{"type": "accuracy", "value": meta["scores"]["bundle"] / 100, "name": "dev accuracy"}]
    scores = meta["scores"]
    assert "- chosen: **dynamic** (method dynamic" in body
    assert f"accuracy on {scores['source']}: {scores['bundle']:.2f} (fp32 {scores['fp32']:.2f}" in body
    assert f"model.onnx: {meta['model_bytes']:,} bytes" in body
    (candidate,) = meta["quantization"]["candidates"]
    assert f"| dynamic | {candidate['score']:.2f} | {candidate['latency_ms']:.2f} |" in body
    assert "made by `distilkit distil` from the teacher `big/model`" in body and "PyTorch test: accuracy 0.7500" in body


def test_optimizer_failure_falls_back_to_the_plain_graph(tmp_path, models, monkeypatch):
    import onnxruntime.transformers.optimizer as ort_optimizer

    def broken(*args, **kwargs):
        raise AssertionError("pattern mismatch")

    monkeypatch.setattr(ort_optimizer, "optimize_model", broken)
    meta = export_bundle(models["classifier"], tmp_path / "bundle")
    assert meta["optimization"] == {
        "applied": False,
        "reason": "optimizer failed (AssertionError: pattern mismatch)",
        "fused": {},
    }
    assert meta["validation"]["fp32_vs_torch"]["passed"]
    assert Predictor(tmp_path / "bundle").predict("good")[0]["label"] in ("negative", "positive")


def test_export_replaces_an_old_bundle_atomically(tmp_path, models):
    out = tmp_path / "bundle"
    export_bundle(models["classifier"], out)
    export_bundle(models["tagger"], out, task="token-classification", resolved_config={"task": "x", "out": out})
    assert load_bundle(out).labels == TAGS
    assert (out / "config.yaml").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # no .tmp-/.old- folder left behind


def test_runtime_tokenizer_matches_transformers(fp32_bundle, models):
    bundle = load_bundle(fp32_bundle)
    from distilkit.runtime import TextEncoder

    encoder = TextEncoder(bundle.tokenizer, bundle.inputs, 8, bundle.pad_token_id)
    tokenizer = AutoTokenizer.from_pretrained(models["classifier"])
    want = tokenizer(FRESH_TEXTS, truncation=True, max_length=8)
    got = encoder.encode(FRESH_TEXTS)
    assert [e.ids for e in got] == want["input_ids"]
    assert [e.type_ids for e in got] == want["token_type_ids"]


def break_labels(bundle: Path) -> None:
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["labels"] = {"0": "negative", "1": "positive", "2": "neutral"}
    (bundle / "bundle.json").write_text(json.dumps(meta))


def edit(field: str, value):
    def apply(bundle: Path) -> None:
        meta = json.loads((bundle / "bundle.json").read_text())
        meta[field] = value
        (bundle / "bundle.json").write_text(json.dumps(meta))

    return apply


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: (b / "model.onnx").unlink(), r"model\.onnx: missing"),
        (lambda b: (b / "tokenizer.json").unlink(), r"tokenizer\.json: missing"),
        (break_labels, r"bundle\.json: field 'labels': has 3 labels but model\.onnx outputs 2 logits"),
        (edit("labels", {"0": "negative", "2": "positive"}), r"bundle\.json: field 'labels': ids must be 0\.\.1"),
        (edit("labels", ["negative", "positive"]), r"bundle\.json: field 'labels': expected a mapping"),
        (edit("labels", {"0": "same", "1": "same"}), r"bundle\.json: field 'labels': duplicate label names"),
        (edit("task", "translation"), r"bundle\.json: field 'task': expected one of"),
        (edit("max_length", "long"), r"bundle\.json: field 'max_length': expected an integer"),
        (edit("inputs", ["input_ids", "attention_mask"]), r"bundle\.json: field 'inputs': lists .* but model\.onnx"),
        (edit("format_version", 99), r"bundle\.json: field 'format_version': 99 is newer"),
        (lambda b: (b / "bundle.json").write_text("{not json"), r"bundle\.json:1: invalid JSON"),
        (lambda b: (b / "model.onnx").write_bytes(b"not a model"), r"model\.onnx: cannot load ONNX model"),
        (lambda b: (b / "tokenizer.json").write_text("{}"), r"tokenizer\.json: not a tokenizers file"),
    ],
)
def test_malformed_bundles_are_refused_by_file_and_field(tmp_path, fp32_bundle, damage, message):
    bundle = tmp_path / "bundle"
    shutil.copytree(fp32_bundle, bundle)
    damage(bundle)
    with pytest.raises(DistilkitError, match=message):
        load_bundle(bundle)


def test_export_refuses_a_graph_that_differs_from_pytorch(tmp_path, models, monkeypatch):
    real = export_pipeline.torch_forward

    def off_by_a_bit(loaded):
        forward = real(loaded)
        return lambda feeds: forward(feeds) + 1e-3

    monkeypatch.setattr(export_pipeline, "torch_forward", off_by_a_bit)
    out = tmp_path / "bundle"
    with pytest.raises(DistilkitError, match=r"does not reproduce PyTorch: max \|Δ\| 0\.001 .*--force"):
        export_bundle(models["classifier"], out)
    assert not out.exists()
    meta = export_bundle(models["classifier"], out, force=True)
    assert meta["validation"]["fp32_vs_torch"]["forced"] is True
    assert load_bundle(out).labels == ["negative", "positive"]


def test_export_refuses_a_model_without_the_head_asked_for(tmp_path, models):
    with pytest.raises(DistilkitError, match=r"no trained \*ForTokenClassification head"):
        export_bundle(models["classifier"], tmp_path / "b", task="token-classification")
    with pytest.raises(DistilkitError, match=r"max_length: 512 is more than .* takes \(128 tokens\)"):
        export_bundle(models["classifier"], tmp_path / "b", max_length=512)


def test_export_texts_take_dev_to_validate_and_train_to_calibrate(tmp_path, toy_data):
    texts = export_texts(str(toy_data), "sequence-classification", calibration_size=5)
    assert len(texts.validation) == 12 and texts.gold is not None and len(texts.gold) == 12
    assert texts.source.endswith("dev.csv") and texts.calibration_source.endswith("train.csv")
    assert len(texts.calibration) == 5
    plain = tmp_path / "texts.txt"
    plain.write_text("good movie\n\nbad film\n", encoding="utf-8")
    from_txt = export_texts(str(plain), "sequence-classification")
    assert from_txt.validation == ["good movie", "bad film"] and from_txt.gold is None
    builtin = export_texts(None, "embedding")
    assert builtin.gold is None and builtin.validation == list(export_pipeline.BUILTIN_TEXTS)


def result(config, score, latency, size=100, **kw) -> CandidateResult:
    return CandidateResult(config, score=score, latency_ms=latency, size_bytes=size, **kw)


def test_budget_rejects_a_candidate_that_loses_too_much():
    fast_but_worse = result(DYNAMIC, 88.0, 2.0)  # 2 points below fp32: over a 1-point budget
    fp32 = result(FP32, 90.0, 10.0)
    ok = result(STATIC, 89.0, 5.0)  # exactly 1 point below: allowed
    broken = CandidateResult(AUTO_CANDIDATES[2], error="RuntimeError: boom")
    chosen, judged = select_candidate([fp32, fast_but_worse, ok, broken], reference=90.0, budget=1.0)
    assert chosen is not None and chosen.name == "static" and chosen.status == "chosen"
    verdicts = {r.name: (r.status, r.score) for r in judged}
    assert verdicts["dynamic"] == ("rejected", 88.0)
    assert "2.00 points below fp32 90.00 (budget 1)" in next(r.reason for r in judged if r.name == "dynamic")
    assert verdicts["fp32"] == ("slower", 90.0)
    assert verdicts["dynamic+embeddings"][0] == "failed"
    assert fast_but_worse.status == "" and ok.status == ""  # pure: the inputs are untouched
    # A bigger budget lets the fastest through; ties in time go to the smaller file.
    assert select_candidate([fp32, fast_but_worse], 90.0, 2.0)[0].name == "dynamic"
    tie = [result(DYNAMIC, 90.0, 5.0, size=200), result(STATIC, 90.0, 5.0, size=50)]
    assert select_candidate(tie, 90.0, 1.0)[0].name == "static"
    assert select_candidate([fast_but_worse], 90.0, 1.0)[0] is None


def test_a_much_smaller_candidate_wins_when_it_is_nearly_as_fast():
    # the real student: dynamic 900 ms / 53 MB, dynamic+embeddings 945 ms / 17 MB: a tie on a shared CPU
    dynamic = result(DYNAMIC, 89.5, 900.0, size=53_000_000)
    with_embeddings = result(AUTO_CANDIDATES[2], 89.8, 945.0, size=17_000_000)
    chosen, judged = select_candidate([dynamic, with_embeddings], 90.0, 1.0)
    assert chosen is not None and chosen.name == "dynamic+embeddings"
    assert "smallest of the 2" in chosen.reason
    # 20% slower is a real difference: speed wins
    slow = result(AUTO_CANDIDATES[2], 89.8, 1080.0, size=17_000_000)
    assert select_candidate([dynamic, slow], 90.0, 1.0)[0].name == "dynamic"


def test_within_budget_edges():
    assert within_budget(89.0, 90.0, 1.0)
    assert not within_budget(88.99, 90.0, 1.0)
    assert within_budget(91.0, 90.0, 0.0)
    with pytest.raises(DistilkitError, match="budget"):
        select_candidate([], 90.0, -1.0)


def test_dynamic_quantization_makes_a_smaller_model_that_still_agrees(tmp_path, models, fp32_bundle):
    out = tmp_path / "int8"
    meta = export_bundle(models["classifier"], out, quantize="dynamic")
    assert meta["quantization"]["method"] == "dynamic"
    assert meta["quantization"]["op_types"] == ["MatMul", "Attention"]
    assert (out / "model.onnx").stat().st_size < 0.8 * (fp32_bundle / "model.onnx").stat().st_size
    assert meta["validation"]["bundle_vs_fp32"]["agreement"] == 1.0
    results = Predictor(out).predict(FRESH_TEXTS)
    assert [r["label"] for r in results] == [r["label"] for r in Predictor(fp32_bundle).predict(FRESH_TEXTS)]


def test_export_off_a_terminal_prints_a_line_as_each_stage_starts(tmp_path, models, monkeypatch, capsys):
    monkeypatch.setenv(ENV, "0")
    export_bundle(models["classifier"], tmp_path / "int8", quantize="dynamic")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[export]")]
    assert [line.split(" | ")[0] for line in lines] == [
        "[export] stage 0/7 (0%) trace",
        f"[export] stage 1/7 (14%) PyTorch outputs on {len(export_pipeline.BUILTIN_TEXTS)} texts",
        "[export] stage 2/7 (28%) fuse",
        "[export] stage 3/7 (42%) validate",
        "[export] stage 4/7 (57%) fp32 score",
        "[export] stage 5/7 (71%) quantize dynamic",
        "[export] stage 6/7 (85%) write bundle",
        "[export] stage 7/7 (100%) done",
    ]
    assert all(re.search(r" \| elapsed \d+:\d\d:\d\d eta (\d+:\d\d:\d\d|\?)$", line) for line in lines)
    export_bundle(models["classifier"], tmp_path / "quiet", quiet=True)
    assert "[export]" not in capsys.readouterr().out


def test_auto_quantization_scores_every_candidate_on_the_dev_split(tmp_path, models):
    data = tmp_path / "data"
    write_csv(data / "train.csv", toy_rows(24))
    write_csv(data / "dev.csv", toy_rows(10))
    meta = export_bundle(models["classifier"], tmp_path / "auto", quantize="auto", data=str(data), budget=1.0)
    candidates = {c["name"]: c for c in meta["quantization"]["candidates"]}
    assert set(candidates) == {c.name for c in AUTO_CANDIDATES}
    assert meta["scores"]["metric"] == "accuracy" and meta["scores"]["source"].endswith("dev.csv")
    assert [c["status"] for c in candidates.values()].count("chosen") == 1
    # After fusion the embedding tables live inside EmbedLayerNormalization: static cannot quantize them.
    assert candidates["static+embeddings"]["status"] == "duplicate"
    assert candidates["static"]["status"] != "failed" and candidates["dynamic"]["status"] != "failed"
    for c in candidates.values():
        if c["status"] in ("chosen", "slower"):
            assert c["score"] >= meta["scores"]["fp32"] - 1.0
        if c["status"] == "rejected":
            assert c["score"] < meta["scores"]["fp32"] - 1.0
    assert meta["quantization"]["calibration"]["texts"] == 24
    assert meta["quantization"]["name"] == next(n for n, c in candidates.items() if c["status"] == "chosen")
    load_bundle(tmp_path / "auto")
    body = (tmp_path / "auto" / "README.md").read_text(encoding="utf-8")
    for name, c in candidates.items():  # every candidate's measured speed and verdict, as bundle.json records them
        score, latency = (("—" if c[k] is None else f"{c[k]:.2f}") for k in ("score", "latency_ms"))
        size = "—" if c["size_bytes"] is None else f"{c['size_bytes']:,}"
        assert f"| {name} | {score} | {latency} | {size} | {c['status']} |" in body
