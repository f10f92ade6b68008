"""`distilkit bench` on token classifiers: a CoNLL test split, entity F1 and token accuracy with their retention."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import invoke, write_conll
from export_helpers import save_tiny_tagger

from distilkit.bench.backends import read_test_split, split_labels, split_texts
from distilkit.bench.report import render_markdown
from distilkit.data.tagged import load_token_data
from distilkit.evaluate.tagger import evaluate_tagger
from distilkit.export.pipeline import export_bundle
from distilkit.models.teacher import load_classifier

SENTENCES = [
    (["the", "actor", "story", "was", "good"], ["O", "B-PER", "I-PER", "O", "O"]),
    (["a", "sad", "film"], ["O", "O", "O"]),
    (["actor", "and", "actor"], ["B-PER", "O", "B-PER"]),
]


def test_bench_scores_token_classifiers_with_entity_f1_retention(tmp_path: Path):
    big = save_tiny_tagger(tmp_path / "big", layers=4, seed=0)
    small = save_tiny_tagger(tmp_path / "small", layers=2, seed=1)
    data = tmp_path / "ner"
    write_conll(data / "test.conll", SENTENCES * 4)
    out = tmp_path / "bench"
    invoke(
        "bench",
        f"big={big}",
        f"small={small}",
        f"again={big}",
        "--test",
        data,
        "--out",
        out,
        "--runs",
        2,
        "--warmup",
        0,
        "--threads",
        1,
    )
    report = json.loads((out / "report.json").read_text())
    metrics = {m["name"]: m["metrics"] for m in report["models"]}
    model, tokenizer = load_classifier(big, task="token-classification")
    expected = evaluate_tagger(model, tokenizer, load_token_data(data / "test.conll").train)
    assert metrics["big"] == expected and metrics["big"]["words"] == 44
    assert report["retention"]["again"]["accuracy"] == 1.0
    small_f1, big_f1 = metrics["small"]["f1"], metrics["big"]["f1"]
    assert report["retention"]["small"]["f1"] == (round(small_f1 / big_f1, 4) if big_f1 else None)
    assert "entity F1 retention" in render_markdown(report)


def test_bench_scores_token_bundles_like_their_pytorch_model(tmp_path: Path):
    big = save_tiny_tagger(tmp_path / "big", layers=2, seed=0)
    bundle = tmp_path / "bundle"
    export_bundle(big, bundle, task="token-classification")
    data = tmp_path / "ner"
    write_conll(data / "test.conll", SENTENCES * 4)
    out = tmp_path / "bench"
    invoke("bench", f"torch={big}", f"onnx={bundle}", "--test", data, "--out", out, "--runs", 2, "--warmup", 0)
    invoke(
        "bench",
        f"torch={big}",
        f"onnx={bundle}",
        "--test",
        data,
        "--out",
        out / "text",
        "--timing",
        "text",
        "--runs",
        2,
        "--warmup",
        0,
    )
    for folder in (out, out / "text"):
        report = json.loads((folder / "report.json").read_text())
        metrics = {m["name"]: m["metrics"] for m in report["models"]}
        assert metrics["onnx"] == metrics["torch"] and metrics["onnx"]["words"] == 44  # fp32 export: same tags
        assert report["retention"]["onnx"]["f1"] == (1.0 if metrics["torch"]["f1"] else None)


def test_test_split_kind_follows_the_file(tmp_path: Path):
    conll = write_conll(tmp_path / "t.conll", SENTENCES)
    tokens = tmp_path / "t.jsonl"
    tokens.write_text(json.dumps({"tokens": ["a", "film"], "tags": ["O", "O"]}) + "\n")
    texts = tmp_path / "c.jsonl"
    texts.write_text(json.dumps({"text": "a film about tokens", "label": "good"}) + "\n")
    assert split_texts(read_test_split(conll))[0] == "the actor story was good"
    assert split_labels(read_test_split(conll)) == {"O", "B-PER", "I-PER"}
    assert split_texts(read_test_split(tokens)) == ["a film"]
    assert split_texts(read_test_split(texts)) == ["a film about tokens"]
    assert split_labels(read_test_split(texts)) == {"good"}
