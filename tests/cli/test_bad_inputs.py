"""What a user really types wrong (issue 18): each case is one line, ``error: <message>``, exit 2, and nothing on disk
lost, overwritten or half-written; over HTTP, the status and the problem's detail.

Cases go through the real entry point (`distilkit.cli.main`, as ``python -m distilkit`` does), with tiny models and
bundles built once for the module. Each case builds its own inputs in `tmp_path` and returns the command line and
the exact message (a compiled regex where the wording comes from a library and varies).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import save_tiny_model, toy_rows, write_conll, write_csv
from fastapi.testclient import TestClient
from serve_helpers import make_bundles
from transformers import BertModel

from distilkit.cli import main
from distilkit.serve.app import build_state, create_app
from distilkit.serve.config import ServeConfig


@dataclass
class World:
    root: Path
    teacher: Path  # a 4-layer sequence classifier, labels negative/positive
    bare: Path  # an encoder with no classifier head
    bundles: dict[str, Path]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("bad-inputs")
    teacher = save_tiny_model(root / "teacher", layers=4)
    bare = root / "bare"
    shutil.copytree(teacher, bare)
    for weights in bare.glob("*.safetensors"):
        weights.unlink()
    BertModel.from_pretrained(teacher).save_pretrained(bare)
    return World(root, teacher, bare, make_bundles(root / "bundles"))


def snapshot(*folders: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for folder in folders
        for p in sorted(folder.rglob("*"))
    }


def run_main(monkeypatch, capsys, args: list, stdin: bytes = b"") -> tuple[int, list[str]]:
    monkeypatch.setattr(sys, "argv", ["distilkit", *map(str, args)])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    with pytest.raises(SystemExit) as done:
        main()
    return done.value.code, capsys.readouterr().err.splitlines()


# ------------------------------------------------------------------------------------------------------------------
# Inputs a case builds. `t` is the test's tmp_path, `w` the module's World; `out` is an --out folder that already
# holds a file of the user's, which must survive every failing command unchanged.


def csv_file(t: Path, text: str, name: str = "train.csv") -> Path:
    path = t / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def raw_file(t: Path, data: bytes, name: str) -> Path:
    path = t / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def finetune(w: World, t: Path, data: Path | str, *extra) -> list:
    return ["finetune", "--model", w.teacher, "--data", data, "--out", t / "out", "--epochs", 1, *extra]


def distil(w: World, t: Path, data: Path | str, *extra) -> list:
    return ["distil", "--teacher", w.teacher, "--data", data, "--out", t / "out", "--epochs", 1, *extra]


def good_data(t: Path) -> Path:
    folder = t / "in" / "good"
    write_csv(folder / "train.csv", toy_rows(8))
    write_csv(folder / "dev.csv", toy_rows(4))
    return folder


def model_copy(w: World, t: Path, edit: Callable[[Path], None]) -> Path:
    folder = t / "in" / "model"
    shutil.copytree(w.teacher, folder)
    edit(folder)
    return folder


def edit_config(**changes) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, **changes}))

    return edit


def bundle_copy(w: World, t: Path, edit: Callable[[Path], None]) -> Path:
    folder = t / "in" / "bundle"
    shutil.copytree(w.bundles["sentiment"], folder)
    edit(folder)
    return folder


def edit_meta(**changes) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        meta = json.loads((folder / "bundle.json").read_text())
        (folder / "bundle.json").write_text(json.dumps({**meta, **changes}))

    return edit


def pickle_only(folder: Path) -> None:
    import torch
    from safetensors.torch import load_file

    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()


def latin1_rows(t: Path) -> Path:
    return raw_file(t, "text,label\ngood movie,positive\ncafé noir,negative\n".encode("latin-1"), "train.csv")


def dev_with_unknown_label(t: Path) -> Path:
    folder = good_data(t)
    write_csv(folder / "dev.csv", [("good movie", "positive"), ("a film", "neutral")])
    return folder


def folder_without_train(t: Path) -> Path:
    folder = t / "in" / "nothing"
    write_csv(folder / "dev.csv", toy_rows(4))
    return folder


def ragged_conll(t: Path) -> Path:
    return raw_file(t, b"the\tO\nactor\tB-PER\tX\n\n", "train.conll")


def conll(t: Path) -> Path:
    sentences = [(["the", "actor", "was", "good"], ["O", "B-PER", "O", "O"])] * 4
    write_conll(t / "in" / "tags" / "train.conll", sentences)
    write_conll(t / "in" / "tags" / "dev.conll", sentences)
    return t / "in" / "tags"


def hf_folder_with_empty_label(t: Path) -> str:
    folder = t / "in" / "hf"
    write_csv(folder / "train.csv", [("good movie", "positive"), ("bad movie", ""), ("fine film", "positive")])
    return f"hf:{folder}"


def a_file(t: Path) -> Path:
    return raw_file(t, b"mine\n", "a-file")


Case = Callable[[World, Path], tuple[list, "str | re.Pattern[str]"]]

DATA_FILES: dict[str, Case] = {
    "missing column": lambda w, t: (
        finetune(w, t, f := csv_file(t, "sentence,label\ngood movie,positive\n")),
        f"{f}:2: missing column 'text' (found: sentence, label)",
    ),
    "empty text": lambda w, t: (
        finetune(w, t, f := csv_file(t, "text,label\ngood movie,positive\n  ,negative\n")),
        f"{f}:3: empty text in column 'text'",
    ),
    "empty label": lambda w, t: (
        finetune(w, t, f := csv_file(t, "text,label\ngood movie,positive\nbad movie,\n")),
        f"{f}:3: empty label in column 'label'",
    ),
    "NaN label": lambda w, t: (
        finetune(w, t, f := csv_file(t, "text,label\ngood movie,positive\nbad movie,NaN\n")),
        f"{f}:3: missing label (NaN) in column 'label'",
    ),
    "None label": lambda w, t: (
        finetune(w, t, f := csv_file(t, "text,label\ngood movie,None\nbad movie,negative\n")),
        f"{f}:2: missing label (None) in column 'label'",
    ),
    "null label in TSV": lambda w, t: (
        finetune(w, t, f := csv_file(t, "text\tlabel\ngood movie\tpositive\nbad movie\tnull\n", "train.tsv")),
        f"{f}:3: missing label (null) in column 'label'",
    ),
    "JSON null label": lambda w, t: (
        finetune(
            w,
            t,
            f := csv_file(t, '{"text": "good", "label": "positive"}\n{"text": "bad", "label": null}\n', "train.jsonl"),
        ),
        f"{f}:2: empty label in column 'label'",
    ),
    "JSON NaN label": lambda w, t: (
        finetune(
            w,
            t,
            f := csv_file(t, '{"text": "good", "label": "positive"}\n\n{"text": "bad", "label": NaN}\n', "train.jsonl"),
        ),
        f"{f}:3: missing label (NaN) in column 'label'",
    ),
    "JSON list label": lambda w, t: (
        finetune(w, t, f := csv_file(t, '{"text": "good", "label": ["positive"]}\n', "train.jsonl")),
        f"{f}:1: label in column 'label' must be a string or a number, got ['positive']",
    ),
    "bad JSON": lambda w, t: (
        finetune(
            w, t, f := csv_file(t, '{"text": "good", "label": "positive"}\n{"text": "bad", "label"\n', "train.jsonl")
        ),
        f"{f}:2: invalid JSON (Expecting ':' delimiter)",
    ),
    "JSON line not an object": lambda w, t: (
        finetune(w, t, f := csv_file(t, '["good movie", "positive"]\n', "train.jsonl")),
        f"{f}:1: expected a JSON object per line",
    ),
    "one class": lambda w, t: (
        finetune(w, t, f := csv_file(t, "text,label\ngood movie,positive\ngreat film,positive\n")),
        f"{f}: only one label ('positive'): a classifier needs at least two",
    ),
    "unknown label in dev": lambda w, t: (
        finetune(w, t, d := dev_with_unknown_label(t)),
        f"{d / 'dev.csv'}:3: label 'neutral' does not occur in the training split (train labels: negative, positive)",
    ),
    "wrong encoding": lambda w, t: (
        finetune(w, t, f := latin1_rows(t)),
        f"{f}:3: not valid UTF-8 (invalid continuation byte)",
    ),
    "unknown suffix": lambda w, t: (
        finetune(w, t, f := csv_file(t, "text,label\n", "train.xlsx")),
        f"{f}: unknown file type '.xlsx' (expected .csv, .tsv or .jsonl)",
    ),
    "header only": lambda w, t: (
        finetune(w, t, f := csv_file(t, "text,label\n")),
        f"{f}: no examples (the file is empty)",
    ),
    "empty file": lambda w, t: (
        finetune(w, t, f := csv_file(t, "")),
        f"{f}: no examples (the file is empty)",
    ),
    "more fields than the header": lambda w, t: (
        finetune(w, t, f := csv_file(t, "text,label\ngood movie,positive,extra\n")),
        f"{f}:2: more fields than the header has",
    ),
    "no such file": lambda w, t: (finetune(w, t, f := t / "trian.csv"), f"{f}: no such file"),
    "folder without a train file": lambda w, t: (
        finetune(w, t, d := folder_without_train(t)),
        f"{d}: no train.csv, train.tsv or train.jsonl in this folder",
    ),
    "ragged CoNLL": lambda w, t: (
        finetune(w, t, f := ragged_conll(t), "--task", "token-classification"),
        f"{f}:2: 3 tab-separated columns, but the first line (line 1) has 2",
    ),
    "CoNLL not UTF-8": lambda w, t: (
        finetune(
            w,
            t,
            f := raw_file(t, "the\tO\ncafé\tO\n".encode("latin-1"), "train.conll"),
            "--task",
            "token-classification",
        ),
        f"{f}:2: not valid UTF-8 (invalid continuation byte)",
    ),
    "hf: dataset with an empty label": lambda w, t: (
        finetune(w, t, h := hf_folder_with_empty_label(t)),
        f"{h[3:]}[train] row 1: empty label in column 'label'",
    ),
    "embedding texts not UTF-8": lambda w, t: (
        distil(w, t, f := raw_file(t, "good movie\ncafé\n".encode("latin-1"), "texts.txt"), "--task", "embedding"),
        f"{f}:2: not valid UTF-8",
    ),
    "config YAML invalid": lambda w, t: (
        [*finetune(w, t, good_data(t)), "--config", f := csv_file(t, "epochs: [1\n", "run.yaml")],
        f"{f}:2: invalid YAML",
    ),
    "config YAML unknown key": lambda w, t: (
        [*finetune(w, t, good_data(t)), "--config", f := csv_file(t, "epoch: 2\n", "run.yaml")],
        re.compile(rf"{re.escape(str(f))}: unknown key 'epoch' \(options: .*\)"),
    ),
}

OPTIONS: dict[str, Case] = {
    "unknown task": lambda w, t: (
        finetune(w, t, good_data(t), "--task", "summarization"),
        "task: expected one of sequence-classification, token-classification, got 'summarization'",
    ),
    "bad layer map": lambda w, t: (
        distil(w, t, good_data(t), "--layer-map", "0,x"),
        "layer_map: expected comma-separated layer numbers, got '0,x'",
    ),
    "layer map past the teacher": lambda w, t: (
        distil(w, t, good_data(t), "--layer-map", "0,9"),
        "layer_map: layers [9] do not exist in a 4-layer teacher",
    ),
    "student deeper than teacher": lambda w, t: (
        distil(w, t, good_data(t), "--student-layers", 8),
        "student_layers: must be between 1 and the teacher's 4, not 8",
    ),
    "bad scheme": lambda w, t: (
        finetune(w, t, conll(t), "--task", "token-classification", "--scheme", "iobx"),
        "unknown tagging scheme 'iobx' (expected one of: auto, iob1, iob2, bio, bioes, iobes, bilou, none, plain)",
    ),
    "bad unseen-tags": lambda w, t: (
        finetune(w, t, conll(t), "--task", "token-classification", "--unseen-tags", "keep"),
        "unseen_tags: expected one of error, drop, got 'keep'",
    ),
    "bad hidden loss": lambda w, t: (
        distil(w, t, good_data(t), "--hidden-loss", "l1"),
        "hidden_loss: expected one of cosine, mse, got 'l1'",
    ),
    "every loss weight 0": lambda w, t: (
        distil(w, t, good_data(t), "--alpha-kd", 0, "--alpha-ce", 0, "--alpha-hid", 0),
        "all loss weights are 0: nothing to train",
    ),
    "bad quantize mode": lambda w, t: (
        ["export", w.teacher, "--out", t / "out", "--quantize", "int4"],
        "quantize: expected one of none, dynamic, static, auto, got 'int4'",
    ),
    "negative budget": lambda w, t: (
        ["export", w.teacher, "--out", t / "out", "--budget", -1],
        "Invalid value for '--budget': Input should be greater than or equal to 0 (see 'distilkit export --help')",
    ),
    "misspelt option": lambda w, t: (
        ["finetune", "--model", w.teacher, "--data", good_data(t), "--out", t / "out", "--epoch", 1],
        "No such option: --epoch (Possible options: --epochs) (see 'distilkit finetune --help')",
    ),
    "missing --out": lambda w, t: (
        ["finetune", "--data", good_data(t)],
        "Missing option '--out'. (see 'distilkit finetune --help')",
    ),
    "not a number": lambda w, t: (
        finetune(w, t, good_data(t), "--batch-size", "many"),
        "Invalid value for '--batch-size': Input should be a valid integer, unable to parse string as an integer "
        "(see 'distilkit finetune --help')",
    ),
    "infinite learning rate": lambda w, t: (
        finetune(w, t, good_data(t), "--lr", "inf"),
        "lr: expected a finite number, got inf",
    ),
    "unknown command": lambda w, t: (
        ["finetuen"],
        "No such command 'finetuen'. Did you mean 'finetune'? (see 'distilkit --help')",
    ),
    "predict: unknown task": lambda w, t: (
        ["predict", w.bundles["sentiment"], "good", "--task", "sentiment"],
        "task: expected one of raw, ner, pos, got 'sentiment'",
    ),
}

MODEL_FOLDERS: dict[str, Case] = {
    "missing folder": lambda w, t: (
        ["finetune", "--model", m := t / "no-model", "--data", good_data(t), "--out", t / "out"],
        f"{m}: no such model folder",
    ),
    "a file, not a folder": lambda w, t: (
        ["finetune", "--model", m := a_file(t), "--data", good_data(t), "--out", t / "out"],
        f"{m}: a model must be a folder holding config.json and weights",
    ),
    "no config.json": lambda w, t: (
        distil(w, t, good_data(t))[:2]
        + [m := model_copy(w, t, lambda f: (f / "config.json").unlink())]
        + distil(w, t, good_data(t))[3:],
        f"{m}: no config.json (not a Hugging Face model folder)",
    ),
    "config.json not JSON": lambda w, t: (
        [
            "evaluate",
            m := model_copy(w, t, lambda f: (f / "config.json").write_text("{")),
            "--data",
            good_data(t),
            "--split",
            "dev",
        ],
        re.compile(rf"{re.escape(str(m / 'config.json'))}: not a valid JSON config \(Expecting .*\)"),
    ),
    "no weights": lambda w, t: (
        [
            "evaluate",
            m := model_copy(w, t, lambda f: (f / "model.safetensors").unlink()),
            "--data",
            good_data(t),
            "--split",
            "dev",
        ],
        f"{m}: no model weights (expected model.safetensors)",
    ),
    "pickle-only weights": lambda w, t: (
        ["finetune", "--model", m := model_copy(w, t, pickle_only), "--data", good_data(t), "--out", t / "out"],
        f"{m}: only pickle weights (pytorch_model.bin), which can run code when loaded; convert to safetensors or "
        "pass --allow-pickle if you trust the source",
    ),
    "remote code": lambda w, t: (
        [
            "finetune",
            "--model",
            m := model_copy(w, t, edit_config(auto_map={"AutoModel": "modeling_x.XModel"})),
            "--data",
            good_data(t),
            "--out",
            t / "out",
        ],
        f"{m}: config.json asks for the model's own code (auto_map); distilkit never runs a model's own code "
        "(trust_remote_code is off)",
    ),
    "tokenizer larger than the vocabulary (evaluate)": lambda w, t: (
        ["evaluate", m := model_copy(w, t, edit_config(vocab_size=50)), "--data", good_data(t), "--split", "dev"],
        f"{m}: the tokenizer has 95 tokens but the model's vocabulary only 50 (config.json vocab_size): token ids "
        "past it would index out of range",
    ),
    "tokenizer larger than the vocabulary (export)": lambda w, t: (
        ["export", m := model_copy(w, t, edit_config(vocab_size=50)), "--out", t / "out"],
        f"{m}: the tokenizer has 95 tokens but the model's vocabulary only 50 (config.json vocab_size): token ids "
        "past it would index out of range",
    ),
    "teacher without a head": lambda w, t: (
        ["distil", "--teacher", w.bare, "--data", good_data(t), "--out", t / "out"],
        f"{w.bare}: has no trained classifier head for sequence-classification, so it cannot teach; fine-tune it "
        "first (distilkit finetune --task sequence-classification)",
    ),
    "teacher for other labels": lambda w, t: (
        distil(w, t, csv_file(t, "text,label\nbuy now,spam\nhello,ham\n")),
        f"{w.teacher}: its classifier predicts ['negative', 'positive'], but the data has labels ['ham', 'spam']",
    ),
    "student without a layer map, with a hidden-state loss": lambda w, t: (
        distil(w, t, good_data(t), "--student", m := model_copy(w, t, lambda f: None), "--alpha-hid", 1),
        f"alpha_hid: {m} records no layer map onto this teacher (it is not the teacher, and neither its config.json "
        "distilkit_layer_map nor a results.json beside it names one), so its hidden states have no teacher layers "
        "to pair with",
    ),
    "student for an embedding": lambda w, t: (
        distil(w, t, raw_file(t, b"good movie\nbad film\n", "texts.txt"), "--task", "embedding", "--student", w.bare),
        "student: --student is for classifiers; an embedding student is cut from the teacher",
    ),
    "student folder missing": lambda w, t: (
        distil(w, t, good_data(t), "--student", m := t / "no-student"),
        f"{m}: no such model folder",
    ),
}

BUNDLES: dict[str, Case] = {
    "missing bundle": lambda w, t: (["predict", b := t / "no-bundle", "good"], f"{b}: no such bundle folder"),
    "no bundle.json": lambda w, t: (
        ["predict", b := bundle_copy(w, t, lambda f: (f / "bundle.json").unlink()), "good"],
        f"{b / 'bundle.json'}: missing (a bundle holds model.onnx, tokenizer.json and bundle.json)",
    ),
    "bundle.json not JSON": lambda w, t: (
        ["predict", b := bundle_copy(w, t, lambda f: (f / "bundle.json").write_text('{"task": ')), "good"],
        f"{b / 'bundle.json'}:1: invalid JSON (Expecting value)",
    ),
    "format_version from the future": lambda w, t: (
        ["predict", b := bundle_copy(w, t, edit_meta(format_version=99)), "good"],
        re.compile(
            rf"{re.escape(str(b / 'bundle.json'))}: field 'format_version': 99 is newer than this distilkit reads "
            r"\(\d+\); upgrade"
        ),
    ),
    "format_version not a number": lambda w, t: (
        ["predict", b := bundle_copy(w, t, edit_meta(format_version="one")), "good"],
        f"{b / 'bundle.json'}: field 'format_version': expected an integer >= 1, got 'one'",
    ),
    "unknown task in bundle.json": lambda w, t: (
        ["predict", b := bundle_copy(w, t, edit_meta(task="summarization")), "good"],
        f"{b / 'bundle.json'}: field 'task': expected one of sequence-classification, token-classification, "
        "embedding, got 'summarization'",
    ),
    "corrupt model.onnx": lambda w, t: (
        ["predict", b := bundle_copy(w, t, lambda f: (f / "model.onnx").write_bytes(b"\x00garbage")), "good"],
        re.compile(rf"{re.escape(str(b / 'model.onnx'))}: cannot load ONNX model \(.+\)"),
    ),
    "corrupt tokenizer.json": lambda w, t: (
        ["predict", b := bundle_copy(w, t, lambda f: (f / "tokenizer.json").write_text("{}")), "good"],
        re.compile(rf"{re.escape(str(b / 'tokenizer.json'))}: not a tokenizers file \(.+\)"),
    ),
}

PREDICT_INPUT: dict[str, Case] = {
    "stdin not UTF-8": lambda w, t: (["predict", w.bundles["sentiment"]], "stdin:2: not valid UTF-8"),
    "--file not UTF-8": lambda w, t: (
        [
            "predict",
            w.bundles["sentiment"],
            "--file",
            f := raw_file(t, "good\nbad\ncafé\n".encode("latin-1"), "in.txt"),
        ],
        f"{f}:3: not valid UTF-8",
    ),
    "--file missing": lambda w, t: (
        ["predict", w.bundles["sentiment"], "--file", f := t / "no.txt"],
        f"{f}: no such file",
    ),
    "texts and --file": lambda w, t: (
        ["predict", w.bundles["sentiment"], "good", "--file", csv_file(t, "bad\n", "in.txt")],
        "predict: give texts as arguments or --file, not both",
    ),
}

OUT_PATHS: dict[str, Case] = {
    "finetune --out below a file": lambda w, t: (
        ["finetune", "--model", w.teacher, "--data", good_data(t), "--out", (f := a_file(t)) / "run"],
        f"{f / 'run'}: cannot write here ({f} is a file, not a folder)",
    ),
    "finetune --out in /proc": lambda w, t: (
        ["finetune", "--model", w.teacher, "--data", good_data(t), "--out", "/proc/distilkit-run"],
        "/proc/distilkit-run: cannot write here (No such file or directory)",
    ),
    "distil --out is a file": lambda w, t: (
        ["distil", "--teacher", w.teacher, "--data", good_data(t), "--out", f := a_file(t)],
        f"{f}: cannot write here (it is a file, not a folder)",
    ),
    "evaluate --out below a file": lambda w, t: (
        ["evaluate", w.teacher, "--data", good_data(t), "--split", "dev", "--out", (f := a_file(t)) / "m.json"],
        f"{f / 'm.json'}: cannot write here ({f} is a file, not a folder)",
    ),
    "evaluate --out is a folder": lambda w, t: (
        ["evaluate", w.teacher, "--data", d := good_data(t), "--split", "dev", "--out", d],
        f"{d}: cannot write here (it is a folder, not a file)",
    ),
    "export --out below a file": lambda w, t: (
        ["export", w.teacher, "--out", (f := a_file(t)) / "bundle"],
        f"{f / 'bundle'}: cannot write here ({f} is a file, not a folder)",
    ),
    "export --out in /proc": lambda w, t: (
        ["export", w.teacher, "--out", "/proc/distilkit-bundle"],
        "/proc/distilkit-bundle: cannot write here (No such file or directory)",
    ),
    "export --out in /sys": lambda w, t: (
        ["export", w.teacher, "--out", "/sys/distilkit-bundle"],
        "/sys/distilkit-bundle: cannot write here (Operation not permitted)",
    ),
}


def transfer(w: World, t: Path, source: Path, *extra) -> list:
    return distil(w, t, good_data(t), "--transfer", source, *extra)


TRANSFER_SETS = "movie-review-sentences, rt-polarity-sentences, rt-plot-sentences, bbc-train-sentences"

TRANSFER_INPUTS: dict[str, Case] = {
    "missing file": lambda w, t: (
        transfer(w, t, f := t / "in" / "pool.txt"),
        f"{f}: no such file (nor a known transfer set: {TRANSFER_SETS})",
    ),
    "empty file": lambda w, t: (
        transfer(w, t, f := raw_file(t, b"\n  \n", "pool.txt")),
        f"{f}: no texts (the file is empty)",
    ),
    "wrong column": lambda w, t: (
        transfer(w, t, f := csv_file(t, "sentence\na fine film\n", "pool.csv")),
        f"{f}:2: missing column 'text' (found: sentence); see --transfer-column",
    ),
    "a line not UTF-8": lambda w, t: (
        transfer(w, t, f := raw_file(t, b"a fine film\n\xff dull\n", "pool.txt")),
        f"{f}:2: not valid UTF-8 (invalid start byte)",
    ),
    "a JSON text not a string": lambda w, t: (
        transfer(w, t, f := raw_file(t, b'{"text": "fine"}\n{"text": 3}\n', "pool.jsonl")),
        f"{f}:2: text in column 'text' must be a string, got 3",
    ),
}


def distilbert_classifier(t: Path) -> Path:
    """A DistilBERT classifier for the data's labels: a model distil takes, whose heads pruning cannot find."""
    from conftest import make_tokenizer
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    folder = t / "in" / "distilbert"
    tokenizer = make_tokenizer(folder)
    config = DistilBertConfig(vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=2, hidden_dim=64)
    config.id2label, config.label2id = {0: "negative", 1: "positive"}, {"negative": 0, "positive": 1}
    DistilBertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def prune(w: World, t: Path, *extra) -> list:
    return ["prune", w.teacher, "--data", good_data(t), "--out", t / "out", *extra]


PRUNE: dict[str, Case] = {
    "all the heads": lambda w, t: (
        prune(w, t, "--heads", 1),
        "heads: expected the fraction to remove in [0, 1), got 1",
    ),
    "a negative fraction": lambda w, t: (
        prune(w, t, "--ffn", -0.5),
        "ffn: expected the fraction to remove in [0, 1), got -0.5",
    ),
    "a model without a head": lambda w, t: (
        ["prune", w.bare, "--data", good_data(t), "--out", t / "out"],
        f"{w.bare}: has no trained classifier head for sequence-classification, so it cannot teach; fine-tune it "
        "first (distilkit finetune --task sequence-classification)",
    ),
    "a model whose heads pruning cannot find": lambda w, t: (
        ["prune", distilbert_classifier(t), "--data", good_data(t), "--out", t / "out", "--heads", 0.5],
        "prune: DistilBertForSequenceClassification has no attention heads where pruning looks for them (BERT-style: "
        "attention.self.query or MPNet: attention.attn.q); supported are BERT-style models (BERT, RoBERTa, ELECTRA, "
        "MiniLM) and MPNet",
    ),
}

CLI_CASES = {
    f"{category}: {name}": case
    for category, cases in (
        ("data", DATA_FILES),
        ("transfer", TRANSFER_INPUTS),
        ("option", OPTIONS),
        ("model", MODEL_FOLDERS),
        ("prune", PRUNE),
        ("bundle", BUNDLES),
        ("predict input", PREDICT_INPUT),
        ("out", OUT_PATHS),
    )
    for name, case in cases.items()
}


@pytest.mark.parametrize("name", CLI_CASES)
def test_a_bad_input_is_one_line_exit_2_and_nothing_on_disk_changes(name, world, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("the user's own file")
    args, expected = CLI_CASES[name](world, tmp_path)
    before = snapshot(tmp_path, world.root)
    stdin = b"good movie\n\xff\xfe bad\n" if name.endswith("stdin not UTF-8") else b""
    code, lines = run_main(monkeypatch, capsys, args, stdin)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    message = lines[0][len("error: ") :]
    if isinstance(expected, re.Pattern):
        assert expected.fullmatch(message), message
    else:
        assert message == expected
    assert code == 2
    assert snapshot(tmp_path, world.root) == before  # no file lost, changed or added (no config.yaml, no bundle)


# ------------------------------------------------------------------------------------------------------------------
# HTTP bodies: a status and a problem detail, never a 500, and the server still answers the next request.


@pytest.fixture(scope="module")
def client(world):
    state = build_state(ServeConfig(max_texts=4), [f"{n}={p}" for n, p in world.bundles.items()], None)
    with TestClient(create_app(state), raise_server_exceptions=False) as client:
        yield client


HTTP_CASES = {
    "malformed JSON": ("/v1/classify", '{"text": ', 422, None),
    "not JSON at all": ("/v1/classify", "good movie", 422, None),
    "text is a number": ("/v1/classify", '{"text": 5}', 422, None),
    "a number among the texts": ("/v1/classify", '{"text": ["good", 3]}', 422, None),
    "misspelt field": ("/v1/classify", '{"texts": ["good"]}', 422, None),
    "a list, not an object": ("/v1/classify", '["good"]', 422, None),
    "empty list": ("/v1/classify", '{"text": []}', 422, None),
    "too many texts": ("/v1/classify", json.dumps({"text": ["good"] * 5}), 413, re.compile(r".*limit is 4.*")),
    "lone surrogate": (
        "/v1/classify",
        '{"text": "\\ud800 film"}',
        422,
        "text: not valid Unicode (lone surrogate at character 0)",
    ),
    "embedding model asked to classify": ("/v1/vectors/classify", '{"text": "good"}', 404, None),
    "unknown model": ("/v1/nosuch/classify", '{"text": "good"}', 404, None),
}


@pytest.mark.parametrize("name", HTTP_CASES)
def test_a_bad_request_body_is_a_4xx_with_a_detail_and_the_server_still_serves(name, client):
    path, body, status, detail = HTTP_CASES[name]
    reply = client.post(path, content=body.encode("ascii"), headers={"Content-Type": "application/json"})
    assert reply.status_code == status, reply.text
    problem = reply.json()
    assert "detail" in problem
    if isinstance(detail, re.Pattern):
        assert detail.fullmatch(str(problem["detail"])), problem
    elif detail is not None:
        assert problem["detail"] == detail or any(detail == e.get("msg") for e in problem["detail"]), problem
    assert client.post("/v1/classify", json={"text": "good movie"}).status_code == 200
