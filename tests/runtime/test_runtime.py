"""The torch-free runtime: Predictor outputs, batching and buffers, and `distilkit predict` / `export` on the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import save_tiny_model
from export_helpers import FRESH_TEXTS, TAGS, save_tiny_tagger
from typer.testing import CliRunner

from distilkit.cli import app
from distilkit.core.errors import DistilkitError
from distilkit.export import export_bundle
from distilkit.runtime import Predictor, TextEncoder, load_bundle
from distilkit.runtime.cli import main as runtime_main

runner = CliRunner()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runtime")
    classifier = save_tiny_model(root / "classifier", layers=2)
    tagger = save_tiny_tagger(root / "tagger", layers=2)
    out = {
        "classifier": root / "b-classifier",
        "short": root / "b-short",
        "tagger": root / "b-tagger",
        "embedding": root / "b-embedding",
    }
    export_bundle(classifier, out["classifier"])
    export_bundle(classifier, out["short"], max_length=8)
    export_bundle(tagger, out["tagger"], task="token-classification")
    export_bundle(classifier, out["embedding"], task="embedding")
    return out


def test_classifier_results_are_probabilities_in_input_order(bundles):
    predictor = Predictor(bundles["classifier"], batch_size=2)
    results = predictor.predict(FRESH_TEXTS)
    assert len(results) == len(FRESH_TEXTS)
    for r in results:
        assert set(r) == {"label", "score", "scores"}
        assert set(r["scores"]) == {"negative", "positive"}
        assert abs(sum(r["scores"].values()) - 1) < 1e-6
        assert r["score"] == max(r["scores"].values()) and r["scores"][r["label"]] == r["score"]
    # Batching (sorted by length, padded per batch) must not change any text's result.
    one_by_one = [Predictor(bundles["classifier"], batch_size=1).predict(t)[0] for t in FRESH_TEXTS]
    for a, b in zip(results, one_by_one, strict=True):
        assert a["label"] == b["label"] and abs(a["score"] - b["score"]) < 1e-5
    assert predictor.predict([]) == []


def test_long_texts_are_truncated_to_max_length(bundles):
    predictor = Predictor(bundles["short"])
    long_text = " ".join(["good movie"] * 100)
    (encoding,) = predictor.encoder.encode([long_text])
    assert len(encoding.ids) == 8 and encoding.tokens[0] == "[CLS]" and encoding.tokens[-1] == "[SEP]"
    assert predictor.predict([long_text, "bad"])[0]["label"] in ("negative", "positive")


def test_encoder_pads_per_batch_and_reuses_its_buffers(bundles):
    bundle = load_bundle(bundles["classifier"])
    encoder = TextEncoder(bundle.tokenizer, bundle.inputs, 16, bundle.pad_token_id, batch_size=2)
    batches = []
    for batch in encoder.batches(["a", "good movie", "the actor was not very good", "bad"]):
        feeds = batch.feeds
        assert all(np.shares_memory(feeds[n], encoder._buffers[n]) for n in feeds)
        assert all(v.flags.c_contiguous and v.dtype == np.int64 for v in feeds.values())
        assert feeds["input_ids"].shape[1] == max(batch.lengths)  # padded to this batch's longest only
        assert (feeds["attention_mask"].sum(1) == batch.lengths).all()
        batches.append((batch.indices.tolist(), feeds["input_ids"].shape))
    assert batches == [([0, 3], (2, 3)), ([1, 2], (2, 8))]  # shortest first; indices point back into the input


def test_token_tags_skip_special_tokens_and_carry_offsets(bundles):
    text = "the actor was great"
    (result,) = Predictor(bundles["tagger"]).predict(text)
    tokens = result["tokens"]
    assert [t["token"] for t in tokens] == ["the", "actor", "was", "great"]
    assert all(t["tag"] in TAGS and 0 < t["score"] <= 1 for t in tokens)
    assert [text[t["start"] : t["end"]] for t in tokens] == ["the", "actor", "was", "great"]


def test_embeddings_are_unit_vectors(bundles):
    predictor = Predictor(bundles["embedding"])
    matrix = predictor.embed(FRESH_TEXTS)
    assert matrix.shape == (len(FRESH_TEXTS), 32) and matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1, atol=1e-5)
    assert np.allclose(predictor.predict(FRESH_TEXTS[:1])[0]["embedding"], matrix[0], atol=1e-6)
    with pytest.raises(DistilkitError, match="embed needs a embedding bundle"):
        Predictor(bundles["classifier"]).embed("x")


def test_runtime_imports_neither_torch_nor_transformers():
    code = (
        "import sys, distilkit.runtime, distilkit.runtime.cli; "
        "heavy = sorted(m for m in ('torch', 'transformers', 'typer', 'rich') if m in sys.modules); "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def invoke(*args: str, input: str | None = None):
    result = runner.invoke(app, [str(a) for a in args], input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result


def parse(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_predict_cli_reads_arguments_then_file_then_stdin(tmp_path, bundles):
    expected = {r["text"]: r["label"] for r in parse(invoke("predict", bundles["classifier"], *FRESH_TEXTS).stdout)}
    assert list(expected) == FRESH_TEXTS
    texts_file = tmp_path / "texts.txt"
    texts_file.write_text("\n".join(FRESH_TEXTS[:3]) + "\n\n", encoding="utf-8")
    from_file = parse(invoke("predict", bundles["classifier"], "--file", texts_file, "--batch-size", 1).stdout)
    assert [(r["text"], r["label"]) for r in from_file] == [(t, expected[t]) for t in FRESH_TEXTS[:3]]
    from_stdin = parse(invoke("predict", bundles["classifier"], input="\n".join(FRESH_TEXTS[3:]) + "\n").stdout)
    assert [(r["text"], r["label"]) for r in from_stdin] == [(t, expected[t]) for t in FRESH_TEXTS[3:]]
    with pytest.raises(DistilkitError, match="not both"):
        invoke("predict", bundles["classifier"], "x", "--file", texts_file)
    with pytest.raises(DistilkitError, match=r"missing\.txt: no such file"):
        invoke("predict", bundles["classifier"], "--file", tmp_path / "missing.txt")


def test_predict_cli_on_a_broken_bundle_names_the_file(tmp_path):
    with pytest.raises(DistilkitError, match=r"nowhere: no such bundle folder"):
        invoke("predict", tmp_path / "nowhere", "x")


def test_runtime_module_entry_point(bundles, capsys):
    assert runtime_main([str(bundles["tagger"]), "good movie"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["text"] == "good movie" and len(json.loads(line)["tokens"]) == 2
    assert runtime_main([str(bundles["tagger"] / "nope"), "x"]) == 2
    assert "error: " in capsys.readouterr().err


def test_export_cli_writes_a_bundle_with_its_config(tmp_path, tiny_teacher):
    out = tmp_path / "bundle"
    config = tmp_path / "export.yaml"
    config.write_text(yaml.safe_dump({"quantize": "dynamic", "max-length": 32}))
    result = invoke("export", tiny_teacher, "--out", out, "--config", config, "--max-texts", 8)
    assert "fp32 vs PyTorch: max |Δ|" in result.output and "bundle written to" in result.output
    meta = json.loads((out / "bundle.json").read_text())
    assert meta["quantization"]["method"] == "dynamic" and meta["max_length"] == 32
    assert meta["validation"]["texts"] == 8
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["quantize"] == "dynamic" and saved["max_texts"] == 8 and saved["model"] == str(tiny_teacher)
    (row,) = parse(invoke("predict", out, "good movie").stdout)
    assert row["label"] in ("negative", "positive")
    with pytest.raises(DistilkitError, match="quantize: expected one of none, dynamic, static, auto"):
        invoke("export", tiny_teacher, "--out", tmp_path / "b2", "--quantize", "int4")


def test_predict_says_how_many_texts_were_cut_and_by_how_much(bundles, capsys):
    long_text = " ".join(["good movie"] * 10)  # 20 words: 22 tokens with [CLS] and [SEP]
    predictor = Predictor(bundles["short"])
    results, lengths = predictor.predict_with_lengths([long_text, "bad", long_text + " film"])
    whole = predictor.word_tokenizer.encode_batch([long_text, "bad", long_text + " film"])
    assert lengths == [len(e.ids) for e in whole] == [22, 3, 23]  # measured from the truncated encodings
    assert results == predictor.predict([long_text, "bad", long_text + " film"])
    line = "long texts: 2 of 3 texts exceed 8 tokens (median 22, max 23 tokens); strategy truncate keeps the first 6"
    assert predictor.report(lengths).line() == line
    assert runtime_main([str(bundles["short"]), long_text, "bad", long_text + " film"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == line and len(captured.out.splitlines()) == 3
    result = invoke("predict", bundles["short"], long_text, "bad", long_text + " film")
    assert result.stderr.strip() == line and len(parse(result.stdout)) == 3
    assert invoke("predict", bundles["short"], "bad", "good").stderr == ""  # nothing cut: nothing said
