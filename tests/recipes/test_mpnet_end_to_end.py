"""MPNet (all-mpnet-base-v2's architecture) through every command on a tiny random model: finetune → distil →
evaluate → export → predict and bench, token classification, and head-less general distillation.

MPNet differs from BERT where distilkit could trip: no token_type_ids, a relative attention bias shared by all layers,
query/key/value projections named q/k/v, position ids offset by the padding id.
"""

from __future__ import annotations

import json
import random

import torch
from conftest import WORDS, invoke, toy_rows, write_conll, write_csv
from general_helpers import write_corpus
from mpnet_helpers import save_tiny_mpnet
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

TEXTS = ["good movie", "the actor was not very good and the plot was long", "bad film"]


def test_mpnet_finetune_distil_evaluate_export_predict_and_bench(tmp_path):
    data = tmp_path / "data"
    for split, n in (("train", 48), ("dev", 12), ("test", 12)):
        write_csv(data / f"{split}.csv", toy_rows(n))
    encoder = save_tiny_mpnet(tmp_path / "encoder", head="none")
    train = ["--epochs", 1, "--batch-size", 8, "--lr", "1e-3"]
    invoke("finetune", "--model", encoder, "--data", data, "--out", tmp_path / "ft", *train)
    teacher = tmp_path / "ft" / "model"
    assert AutoConfig.from_pretrained(teacher).architectures == ["MPNetForSequenceClassification"]
    invoke(
        "distil",
        "--teacher",
        teacher,
        "--data",
        data,
        "--out",
        tmp_path / "st",
        "--student-layers",
        2,
        "--alpha-hid",
        1,
        *train,
    )
    student = tmp_path / "st" / "model"
    assert json.loads((tmp_path / "st" / "results.json").read_text())["layer_map"] == [0, 3]
    model = AutoModelForSequenceClassification.from_pretrained(student).eval()
    assert type(model).__name__ == "MPNetForSequenceClassification" and model.config.num_hidden_layers == 2

    shown = invoke("evaluate", student, "--data", data, "--out", tmp_path / "eval.json")
    assert "accuracy" in shown.output and 0 <= json.loads((tmp_path / "eval.json").read_text())["accuracy"] <= 1

    invoke("export", student, "--out", tmp_path / "bundle", "--data", data)
    meta = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert meta["inputs"] == ["input_ids", "attention_mask"] and meta["model_type"] == "mpnet"
    assert meta["validation"]["fp32_vs_torch"]["max_abs_diff"] < 1e-4
    predicted = [json.loads(line) for line in invoke("predict", tmp_path / "bundle", *TEXTS).stdout.splitlines()]
    tokenizer = AutoTokenizer.from_pretrained(student)
    with torch.no_grad():
        probs = model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits.softmax(-1)
    for row, p in zip(predicted, probs, strict=True):
        assert row["label"] == model.config.id2label[int(p.argmax())]
        assert abs(row["scores"]["positive"] - float(p[1])) < 1e-4

    invoke(
        "bench", teacher, student, "--out", tmp_path / "bench", "--test", data / "test.csv", "--runs", 2, "--threads", 1
    )
    report = json.loads((tmp_path / "bench" / "report.json").read_text())
    assert [m["params"] > 0 for m in report["models"]] == [True, True]


def test_mpnet_token_classification_finetune_distil_export_predict(tmp_path):
    rng = random.Random(0)

    def sentence():
        words = rng.choices(WORDS, k=rng.randint(2, 8))
        return words, ["B-PER" if w == "actor" else "O" for w in words]

    for split, n in (("train", 40), ("dev", 10), ("test", 10)):
        write_conll(tmp_path / "ner" / f"{split}.conll", [sentence() for _ in range(n)])
    encoder = save_tiny_mpnet(tmp_path / "encoder", head="none")
    common = ["--task", "token-classification", "--batch-size", 8, "--max-length", 16, "--stride", 4]
    invoke("finetune", "--model", encoder, "--data", tmp_path / "ner", "--out", tmp_path / "t", "--epochs", 1, *common)
    assert AutoConfig.from_pretrained(tmp_path / "t" / "model").architectures == ["MPNetForTokenClassification"]
    args = ["--student-layers", 2, "--max-steps", 3, "--alpha-ce", 0.5, "--augment", 1]
    result = invoke(
        "distil",
        "--teacher",
        tmp_path / "t" / "model",
        "--data",
        tmp_path / "ner",
        "--out",
        tmp_path / "s",
        *args,
        *common,
    )
    assert "entity-F1" in result.output
    invoke("export", tmp_path / "s" / "model", "--out", tmp_path / "bundle", "--task", "token-classification")
    assert json.loads((tmp_path / "bundle" / "bundle.json").read_text())["inputs"] == ["input_ids", "attention_mask"]
    (row,) = [
        json.loads(line)
        for line in invoke("predict", tmp_path / "bundle", "the actor was good", "--task", "ner").stdout.splitlines()
    ]
    assert row["text"] == "the actor was good" and isinstance(row["entities"], list)


def test_mpnet_general_distillation_headless_and_with_a_masked_lm_head(tmp_path):
    corpus = write_corpus(tmp_path / "corpus" / "c.txt", lines=120)
    run = ["--corpus", corpus, "--max-steps", 2, "--batch-size", 8, "--student-layers", 2]
    # all-mpnet-base-v2 ships without an MLM head: the head-less recipe, relations read from MPNet's q/k/v.
    bare = save_tiny_mpnet(tmp_path / "encoder", head="none")
    headless = ["--alpha-kd", 0, "--alpha-mlm", 0, "--alpha-cos", 1, "--alpha-hid", 1, "--alpha-rel", 1]
    invoke("distil-general", "--teacher", bare, *run, *headless, "--out", tmp_path / "g1")
    losses = json.loads((tmp_path / "g1" / "results.json").read_text())["train"]
    assert losses["steps"] == 2 and torch.isfinite(torch.tensor(losses["final_loss"]))
    # MPNetForMaskedLM: the full DistilBERT objective plus attention maps.
    mlm = save_tiny_mpnet(tmp_path / "mlm", head="mlm")
    invoke("distil-general", "--teacher", mlm, *run, "--alpha-att", 1, "--out", tmp_path / "g2")
    assert AutoConfig.from_pretrained(tmp_path / "g2" / "model").architectures == ["MPNetForMaskedLM"]
    invoke(
        "mlm-head", "--teacher", bare, "--corpus", corpus, "--max-steps", 2, "--batch-size", 8, "--out", tmp_path / "h"
    )
    assert AutoConfig.from_pretrained(tmp_path / "h" / "model").architectures == ["MPNetForMaskedLM"]
