"""The CLI end to end on tiny random models: finetune → distil → evaluate, YAML configs, errors."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from conftest import invoke
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from typer.testing import CliRunner

from distilkit.cli import app
from distilkit.core.errors import DistilkitError

runner = CliRunner()


@pytest.fixture
def finetuned(tmp_path, tiny_teacher, toy_data):
    out = tmp_path / "ft"
    invoke(
        "finetune",
        "--model",
        tiny_teacher,
        "--data",
        toy_data,
        "--out",
        out,
        "--epochs",
        2,
        "--batch-size",
        8,
        "--lr",
        "1e-3",
    )
    return out


def test_finetune_saves_model_results_and_resolved_config(finetuned):
    results = json.loads((finetuned / "results.json").read_text())
    assert set(results["metrics"]) == {"dev", "test"}
    assert 0 <= results["metrics"]["test"]["accuracy"] <= 1
    assert results["train"]["steps"] == 2 * 6  # 48 examples / batch 8, two epochs
    config = yaml.safe_load((finetuned / "config.yaml").read_text())
    assert config["epochs"] == 2 and config["lr"] == 1e-3 and config["batch_size"] == 8
    assert (finetuned / "checkpoints" / "latest").is_file()


def test_finetune_with_one_seed_gives_one_model(tmp_path, toy_data):
    """A bare encoder gets a new classification head at load time; the seed must fix it too."""
    from conftest import make_tokenizer, tiny_config
    from safetensors.torch import load_file
    from transformers import BertModel

    encoder = tmp_path / "encoder"
    tokenizer = make_tokenizer(encoder)
    config = tiny_config()
    config.vocab_size = len(tokenizer)
    BertModel(config).save_pretrained(encoder)
    weights = []
    for name in ("a", "b"):
        out = tmp_path / name
        invoke("finetune", "--model", encoder, "--data", toy_data, "--out", out, "--max-steps", 1, "--seed", 3)
        weights.append(load_file(out / "model" / "model.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # the new head included


def test_distil_writes_a_plain_transformers_checkpoint(tmp_path, finetuned, toy_data):
    out = tmp_path / "student"
    result = invoke(
        "distil",
        "--teacher",
        finetuned / "model",
        "--data",
        toy_data,
        "--out",
        out,
        "--student-layers",
        2,
        "--epochs",
        1,
        "--batch-size",
        8,
        "--alpha-ce",
        0.5,
        "--alpha-hid",
        1.0,
    )
    assert "test: accuracy" in result.output
    model = AutoModelForSequenceClassification.from_pretrained(out / "model")
    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    assert model.config.num_hidden_layers == 2
    assert model.config.id2label == {0: "negative", 1: "positive"}
    logits = model(**tokenizer(["a good movie"], return_tensors="pt")).logits
    assert logits.shape == (1, 2) and torch.isfinite(logits).all()
    results = json.loads((out / "results.json").read_text())
    assert results["layer_map"] == [0, 3]


def read_card(folder) -> tuple[dict, str]:
    """A model card's YAML front matter, parsed on its own (what the Hub reads), and its Markdown body."""
    text = (folder / "README.md").read_text(encoding="utf-8")
    empty, front, body = text.split("---\n", 2)
    assert empty == ""
    return yaml.safe_load(front), body


def indexed_scores(meta: dict) -> dict[tuple[str, str], float]:
    """(split, Hub metric name) → value, from the card's model-index."""
    (entry,) = meta["model-index"]
    return {(r["dataset"]["split"], m["name"]): m["value"] for r in entry["results"] for m in r["metrics"]}


def test_model_cards_of_teacher_and_student_say_what_their_results_say(tmp_path, finetuned, tiny_teacher, toy_data):
    out = tmp_path / "student"
    args = ["distil", "--teacher", finetuned / "model", "--data", toy_data, "--out", out, "--student-layers", 2]
    invoke(*args, "--epochs", 1, "--batch-size", 8, "--alpha-ce", 0.5, "--temperature", 3, "--augment", 1)
    teacher_results = json.loads((finetuned / "results.json").read_text())
    results = json.loads((out / "results.json").read_text())

    teacher_card, _ = read_card(finetuned / "model")
    assert teacher_card["base_model"] == teacher_results["base_model"] == str(tiny_teacher)
    assert teacher_card["pipeline_tag"] == "text-classification" and teacher_card["library_name"] == "transformers"
    assert "distilkit" in teacher_card["tags"] and "distillation" not in teacher_card["tags"]
    assert indexed_scores(teacher_card)[("test", "test accuracy")] == teacher_results["metrics"]["test"]["accuracy"]

    card, body = read_card(out / "model")
    assert card["base_model"] == results["teacher"] == str(finetuned / "model")
    assert {"distilkit", "distillation"} <= set(card["tags"])
    assert card["datasets"] == [str(toy_data)] and card["metrics"] == ["accuracy", "f1"]
    (entry,) = card["model-index"]
    assert entry["name"] == "student"
    first = entry["results"][0]
    assert first["task"] == {"type": "text-classification", "name": "Text Classification"}
    assert first["dataset"] == {"name": str(toy_data), "type": str(toy_data), "split": "dev"}
    scores = indexed_scores(card)
    for split in ("dev", "test"):
        assert scores[(split, f"{split} accuracy")] == results["metrics"][split]["accuracy"]
        assert scores[(split, f"{split} macro-F1")] == results["metrics"][split]["macro_f1"]
    # The body: the recipe, and the teacher's test scores beside the student's, from the teacher's results.json.
    teacher_accuracy = teacher_results["metrics"]["test"]["accuracy"]
    assert f"| teacher test | {teacher_accuracy:.4f} |" in body
    retention = 100 * results["metrics"]["test"]["accuracy"] / teacher_accuracy
    assert f"| retention (test) | {retention:.1f}% |" in body
    assert "student layers 0..1 ← teacher layers [0, 3]" in body and "2 layers, hidden size 32" in body
    assert "kd × 1 (" in body and "ce × 0.5 (" in body and "hid ×" not in body and "temperature T: 3" in body
    assert f"transfer set: {results['transfer_examples']} examples (augment: 1 " in body
    assert f"{results['train']['train_seconds']} s" in body and "seed 0" in body and "batch size 8" in body
    assert f'AutoModelForSequenceClassification.from_pretrained("{out / "model"}")' in body
    AutoModelForSequenceClassification.from_pretrained(out / "model")  # the card does not get in the way of loading


def test_evaluate_reports_metrics_and_confusion_matrix(tmp_path, finetuned, toy_data):
    out = tmp_path / "eval.json"
    result = invoke("evaluate", finetuned / "model", "--data", toy_data, "--out", out)
    metrics = json.loads(out.read_text())
    assert metrics["n"] == 12
    assert sum(map(sum, metrics["confusion_matrix"])) == 12
    assert set(metrics["per_class"]) == {"negative", "positive"}
    assert "macro-F1" in result.output


def test_config_file_sets_options_and_the_command_line_wins(tmp_path, tiny_teacher, toy_data):
    cfg = tmp_path / "ft.yaml"
    cfg.write_text(
        yaml.safe_dump({"model": str(tiny_teacher), "data": str(toy_data), "epochs": 1, "lr": 0.002, "batch-size": 16})
    )
    out = tmp_path / "out"
    invoke("finetune", "--config", cfg, "--out", out, "--lr", "0.0005")
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["epochs"] == 1 and resolved["batch_size"] == 16 and resolved["lr"] == 0.0005
    assert json.loads((out / "results.json").read_text())["train"]["steps"] == 3


def test_unknown_config_key_is_an_error_naming_it(tmp_path, toy_data):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("data: x\nlearning_rat: 3\n")
    with pytest.raises(DistilkitError, match=r"bad.yaml: unknown key 'learning_rat'"):
        invoke("finetune", "--config", cfg, "--out", tmp_path / "o")


def test_distil_refuses_a_teacher_without_a_trained_head(tmp_path, toy_data):
    from conftest import make_tokenizer
    from transformers import BertConfig, BertModel

    folder = tmp_path / "encoder"
    tok = make_tokenizer(folder)
    BertModel(
        BertConfig(
            vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
        )
    ).save_pretrained(folder)
    tok.save_pretrained(folder)
    with pytest.raises(DistilkitError, match="no trained classifier head"):
        invoke("distil", "--teacher", folder, "--data", toy_data, "--out", tmp_path / "s")


def test_resume_flag_continues_from_the_checkpoint(tmp_path, tiny_teacher, toy_data):
    out = tmp_path / "ft"
    args = [
        "finetune",
        "--model",
        tiny_teacher,
        "--data",
        toy_data,
        "--out",
        out,
        "--batch-size",
        8,
        "--epochs",
        1,
        "--save-every",
        2,
    ]
    invoke(*args)
    result = invoke(*args, "--resume")
    assert "resuming from" in result.output and "step-6" in result.output


def test_run_main_job_on_a_tiny_teacher_writes_the_report_and_resumes(tmp_path, tiny_teacher, toy_data):
    args = ["run", "--teacher", tiny_teacher, "--data", toy_data, "--runs-dir", tmp_path / "runs", "--name", "tiny"]
    args += ["--teacher-epochs", 1, "--student-epochs", 1, "--student-layers", 2, "--bench-runs", 2]
    result = invoke(*args)
    out = tmp_path / "runs" / "tiny"
    report = json.loads((out / "report.json").read_text())
    assert [m["name"] for m in report["models"]] == ["teacher", "student", "bundle"]
    assert [m["kind"] for m in report["models"]] == ["torch", "torch", "bundle"]
    assert report["settings"]["mode"] == "text" and report["settings"]["reference"] == "teacher"
    assert report["models"][1]["params"] < report["models"][0]["params"]
    assert all("accuracy" in m["metrics"] for m in report["models"])
    assert set(report["retention"]) == {"student", "bundle"}
    assert report["retention"]["bundle"]["accuracy"] is not None and report["retention"]["bundle"]["disk_ratio"] < 1
    assert isinstance(report["machine"]["vector_extensions"], list)
    assert (out / "report.md").is_file() and (out / "report.png").stat().st_size > 0
    bundle = json.loads((out / "bundle" / "bundle.json").read_text())
    assert bundle["quantization"]["name"] != "fp32" or bundle["quantization"]["candidates"]  # auto tried INT8
    assert f"distilkit predict {out / 'bundle'} " in result.output
    assert f"distilkit serve tiny={out / 'bundle'}\n" in result.output
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["student"]["layer_map"] == [0, 3] and summary["bundle"] == str(out / "bundle")
    # a second run finds the trained stages and the bundle done and only re-benches
    again = invoke(*args)
    assert again.output.count("already done") == 3


def test_help_shows_the_install_extra_that_rich_markup_would_swallow():
    """A bare [ner-data] in a help text is taken as rich markup and vanishes from the screen."""
    result = runner.invoke(app, ["data", "get", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0
    assert "distilkit[ner-data]" in result.output


@pytest.fixture
def long_data(tmp_path):
    from conftest import toy_rows, write_csv

    folder = tmp_path / "long"
    rows = [(" ".join([text] * 5), label) for text, label in toy_rows(8)]  # 10 to 25 words: longer than 8 tokens
    for name in ("train", "dev", "test"):
        write_csv(folder / f"{name}.csv", rows if name == "train" else rows[:4])
    return folder


def test_finetune_distil_and_evaluate_read_long_texts_in_windows_and_say_so(tmp_path, tiny_teacher, long_data):
    args = ["--data", long_data, "--max-length", 8, "--long-text", "windows", "--batch-size", 8]
    teacher = tmp_path / "teacher"
    result = invoke("finetune", "--model", tiny_teacher, "--out", teacher, "--epochs", 1, *args)
    results = json.loads((teacher / "results.json").read_text())
    long_text = results["long_text"]
    assert long_text["strategy"] == "windows" and long_text["stride"] == 2 and long_text["max_length"] == 8
    train = long_text["splits"]["train"]
    assert train["texts"] == 8 and train["long"] == 8 and train["inputs"] > 8
    assert results["train"]["steps"] == -(-train["inputs"] // 8)  # one example per window, batches of 8
    assert set(long_text["splits"]) == {"train", "dev", "test"} and "long_text" not in results["metrics"]["dev"]
    assert results["metrics"]["dev"]["n"] == 4  # one prediction per document, not per window
    assert f"long texts: 8 of 8 train texts exceed 8 tokens (median {train['median_tokens']}" in result.output
    assert f"{train['inputs']} windows of up to 8 tokens for 8 texts, overlapping by 2" in result.output
    student = tmp_path / "student"
    result = invoke("distil", "--teacher", teacher / "model", "--out", student, "--student-layers", 1, *args)
    distilled = json.loads((student / "results.json").read_text())
    assert distilled["long_text"]["splits"]["train"]["inputs"] == train["inputs"]
    assert distilled["train"]["steps"] == 3 * -(-train["inputs"] // 8)  # three epochs of windows
    out = tmp_path / "eval.json"
    result = invoke("evaluate", student / "model", "--data", long_data, "--out", out, *args[2:6])
    metrics = json.loads(out.read_text())
    assert metrics["n"] == 4 and metrics["long_text"]["strategy"] == "windows"
    assert "long texts: 4 of 4 test texts exceed 8 tokens" in result.output


def test_truncate_stays_the_default_and_reports_what_it_cut(finetuned, toy_data):
    results = json.loads((finetuned / "results.json").read_text())
    assert results["long_text"]["strategy"] == "truncate" and results["long_text"]["stride"] is None
    assert results["long_text"]["splits"]["train"] == {
        **results["long_text"]["splits"]["train"],
        "texts": 48,
        "long": 0,
        "inputs": 48,
    }


def test_long_text_options_refuse_what_they_cannot_do(tmp_path, tiny_teacher, toy_data):
    from conftest import write_csv

    pairs = tmp_path / "pairs"
    for name in ("train", "dev"):
        rows = [("good", "movie", "positive"), ("bad", "film", "negative")]
        write_csv(pairs / f"{name}.csv", rows, header=("text", "second", "label"))
    with pytest.raises(DistilkitError, match=r"pairs: --long-text head-tail does not support text pairs"):
        invoke("finetune", "--model", tiny_teacher, "--data", pairs, "--out", tmp_path / "p", "--max-steps", 1,
               "--text-pair-column", "second", "--long-text", "head-tail")  # fmt: skip
    with pytest.raises(DistilkitError, match="long_text: expected one of truncate, head-tail, windows, got 'middle'"):
        invoke(
            "finetune", "--model", tiny_teacher, "--data", toy_data, "--out", tmp_path / "m", "--long-text", "middle"
        )
    with pytest.raises(DistilkitError, match="long_text: windows is for sequence-classification"):
        invoke("finetune", "--model", tiny_teacher, "--data", toy_data, "--out", tmp_path / "t",
               "--task", "token-classification", "--long-text", "windows")  # fmt: skip
    for command in ("finetune", "distil", "evaluate", "export"):
        shown = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"}).output
        assert "--long-text " in shown and "--long-text-stride" in shown and "head-tail" in shown, command
