"""The real teacher (all-MiniLM-L6-v2): fine-tune a few steps, distil a few steps, reload with plain transformers."""

from __future__ import annotations

import json

import pytest
from conftest import require_teacher, toy_rows, write_csv
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
from typer.testing import CliRunner

from distilkit.cli import app

pytestmark = pytest.mark.integration


def test_distil_the_real_teacher_and_load_the_student_with_plain_transformers(tmp_path):
    require_teacher()
    data = tmp_path / "data"
    write_csv(data / "train.csv", toy_rows(64))
    write_csv(data / "test.csv", toy_rows(16))
    runner = CliRunner()
    common = ["--data", str(data), "--max-steps", "4", "--batch-size", "16"]
    done = runner.invoke(app, ["finetune", "--model", "all-MiniLM-L6-v2", "--out", str(tmp_path / "t"), *common])
    assert done.exit_code == 0, done.output
    done = runner.invoke(
        app,
        [
            "distil",
            "--teacher",
            str(tmp_path / "t" / "model"),
            "--out",
            str(tmp_path / "s"),
            "--student-layers",
            "3",
            "--alpha-hid",
            "1.0",
            *common,
        ],
    )
    assert done.exit_code == 0, done.output

    student_dir = tmp_path / "s" / "model"
    model = AutoModelForSequenceClassification.from_pretrained(student_dir)
    tokenizer = AutoTokenizer.from_pretrained(student_dir)
    assert model.config.num_hidden_layers == 3 and model.config.hidden_size == 384
    assert json.loads((tmp_path / "s" / "results.json").read_text())["layer_map"] == [0, 3, 5]
    classify = pipeline("text-classification", model=model, tokenizer=tokenizer)
    assert classify("a great movie")[0]["label"] in {"negative", "positive"}
