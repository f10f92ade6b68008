"""`distil --task embedding`: a student learns the teacher's mean-pooled vectors from unlabelled text."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import NEGATIVE, POSITIVE
from transformers import AutoConfig
from typer.testing import CliRunner

from distilkit.cli import app
from distilkit.core.errors import DistilkitError
from distilkit.core.model_card import card_metadata
from distilkit.data.texts import read_texts
from distilkit.export import export_bundle
from distilkit.runtime import Predictor

TEXTS = [f"{a} and {b}" for a in POSITIVE + NEGATIVE for b in POSITIVE + NEGATIVE]


def test_student_moves_towards_the_teacher_vectors_and_exports(tmp_path, tiny_teacher):
    corpus = tmp_path / "texts.txt"
    corpus.write_text("\n".join(TEXTS) + "\n\n", encoding="utf-8")
    out = tmp_path / "emb"
    args = ["distil", "--task", "embedding", "--teacher", str(tiny_teacher), "--data", str(corpus), "--out", str(out)]
    args += ["--student-layers", "2", "--init", "random", "--embedding-loss", "cosine", "--max-steps", "60"]
    args += ["--batch-size", "16", "--lr", "3e-3", "--warmup-ratio", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "results.json").read_text())
    assert report["texts"] == {"source": str(corpus), "train": 137, "held_out": 7}
    before, after = report["metrics"]["held_out_before"], report["metrics"]["held_out"]
    assert after["cosine_to_teacher"] > before["cosine_to_teacher"] + 0.1
    assert after["cosine_to_teacher"] > 0.9
    assert AutoConfig.from_pretrained(out / "model").num_hidden_layers == 2
    assert "cosine to teacher" in result.output
    export_bundle(out / "model", tmp_path / "bundle", task="embedding")
    vectors = Predictor(tmp_path / "bundle").embed(["good movie", "bad plot"])
    assert vectors.shape == (2, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    card = card_metadata((out / "model" / "README.md").read_text(encoding="utf-8"))
    assert card["pipeline_tag"] == "feature-extraction" and card["base_model"] == str(tiny_teacher)
    (held_out,) = card["model-index"][0]["results"]
    assert held_out["metrics"][0] == {"type": "cosine_similarity", "value": after["cosine_to_teacher"],
                                      "name": "held_out cosine to teacher"}  # fmt: skip
    bundle_card = card_metadata((tmp_path / "bundle" / "README.md").read_text(encoding="utf-8"))
    assert bundle_card["pipeline_tag"] == "feature-extraction" and "distillation" in bundle_card["tags"]


def test_texts_from_a_data_folder_use_its_dev_split(toy_data):
    texts = read_texts(str(toy_data))
    assert (len(texts.train), len(texts.dev)) == (48, 12)


def test_bad_inputs(tmp_path, tiny_teacher):
    lonely = tmp_path / "one.txt"
    lonely.write_text("just one\n", encoding="utf-8")
    with pytest.raises(DistilkitError, match="at least 2 texts"):
        read_texts(str(lonely))
    result = CliRunner().invoke(
        app, ["distil", "--task", "regression", "--teacher", str(tiny_teacher), "--data", "x", "--out", str(tmp_path)]
    )
    assert isinstance(result.exception, DistilkitError) and "task" in str(result.exception)
