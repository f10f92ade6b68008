"""Classification data: formats, columns, and every bad-input case as a one-line error naming file and line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import toy_rows, write_csv

from distilkit.core.errors import DistilkitError
from distilkit.data.batching import LengthGroupedBatches
from distilkit.data.classification import Columns, load_classification, read_split


def test_reads_csv_tsv_jsonl_and_text_pairs(tmp_path):
    csv_path = write_csv(tmp_path / "a.csv", [('good, "quoted" movie', "positive"), ("bad", "negative")])
    tsv_path = tmp_path / "a.tsv"
    tsv_path.write_text("sentence\tother\tgold\ngood movie\tx\tpositive\n", encoding="utf-8")
    jsonl_path = tmp_path / "a.jsonl"
    jsonl_path.write_text(json.dumps({"text": "fine", "text_pair": "film", "label": 1}) + "\n\n", encoding="utf-8")
    assert read_split(csv_path).texts == ['good, "quoted" movie', "bad"]
    tsv = read_split(tsv_path, Columns(text="sentence", label="gold"))
    assert (tsv.texts, tsv.labels) == (["good movie"], ["positive"])
    pairs = read_split(jsonl_path, Columns(text_pair="text_pair"))
    assert (pairs.texts, pairs.pairs, pairs.labels) == (["fine"], ["film"], ["1"])


def test_label_vocabulary_comes_from_train_sorted(tmp_path):
    write_csv(tmp_path / "train.csv", toy_rows(6))
    write_csv(tmp_path / "test.csv", toy_rows(2))
    data = load_classification(tmp_path)
    assert data.label_names == ["negative", "positive"]
    assert len(data.train) == 6 and data.dev is None and len(data.test) == 2


def _bad_cases(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Each case: a data folder whose train/test files hold one defect, and the message expected (file:line: what)."""
    cases = {}

    def folder(name, train_text, test_text=None, train_name="train.csv", raw=False):
        d = tmp / name
        d.mkdir()
        (d / train_name).write_bytes(train_text if raw else train_text.encode())
        if test_text is not None:
            (d / "test.csv").write_text(test_text, encoding="utf-8")
        return d

    cases["missing column"] = (folder("m", "text,gold\ngood,positive\n"), "train.csv:2: missing column 'label'")
    cases["empty text"] = (folder("e", "text,label\ngood,positive\n  ,negative\n"), "train.csv:3: empty text")
    cases["empty label"] = (folder("l", "text,label\ngood,positive\nbad,\n"), "train.csv:3: empty label")
    cases["unseen label"] = (
        folder("u", "text,label\ngood,positive\nbad,negative\n", "text,label\nok,negative\nmeh,neutral\n"),
        "test.csv:3: label 'neutral' does not occur in the training split",
    )
    cases["undecodable"] = (
        folder("d", b"text,label\ngood,positive\ncaf\xe9,positive\n", raw=True),
        "train.csv:3: not valid UTF-8",
    )
    deep = b"text,label\n" + b"a fine and long enough line of text,positive\n" * 5000 + b"caf\xe9,positive\n"
    cases["undecodable deep in the file"] = (folder("dd", deep, raw=True), "train.csv:5002: not valid UTF-8")
    cases["empty file"] = (folder("z", ""), "train.csv: no examples (the file is empty)")
    cases["header only"] = (folder("h", "text,label\n"), "train.csv: no examples (the file is empty)")
    cases["ragged row"] = (folder("r", "text,label\ngood,positive,extra\n"), "train.csv:2: more fields than")
    cases["bad json"] = (
        folder("j", '{"text": "good", "label": "positive"}\n{"text": oops}\n', train_name="train.jsonl"),
        "train.jsonl:2: invalid JSON",
    )
    cases["no train file"] = (folder("n", "", train_name="notes.txt"), "no train.csv, train.tsv or train.jsonl")
    return cases


@pytest.mark.parametrize(
    "case",
    [
        "missing column",
        "empty text",
        "empty label",
        "unseen label",
        "undecodable",
        "undecodable deep in the file",
        "empty file",
        "header only",
        "ragged row",
        "bad json",
        "no train file",
    ],
)
def test_bad_input_raises_one_line_error_naming_file_and_line(tmp_path, case):
    folder, expected = _bad_cases(tmp_path)[case]
    with pytest.raises(DistilkitError) as err:
        load_classification(folder)
    message = str(err.value)
    assert expected in message
    assert "\n" not in message


def test_cli_reports_bad_input_on_one_line_with_exit_code_2(tmp_path):
    folder, expected = _bad_cases(tmp_path)["empty text"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "distilkit",
            "finetune",
            "--data",
            str(folder),
            "--out",
            str(tmp_path / "out"),
            "--model",
            str(tmp_path / "no-such-model-needed"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "Traceback" not in done.stderr


def test_length_grouped_batches_cover_every_index_once_and_are_reproducible():
    lengths = [5, 30, 7, 12, 3, 40, 9, 9, 22, 1, 17]
    a = LengthGroupedBatches(lengths, batch_size=3, seed=4, pool_batches=2)
    b = LengthGroupedBatches(lengths, batch_size=3, seed=4, pool_batches=2)
    for epoch in (0, 1):
        a.set_epoch(epoch), b.set_epoch(epoch)
        batches = a.batches()
        assert batches == b.batches()
        assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    a.set_epoch(0)
    first = a.batches()
    a.set_epoch(1)
    assert a.batches() != first  # a new order each epoch
    # within a pool, batches hold neighbours in length order
    pool = sorted(range(6), key=lambda i: lengths[i])
    assert LengthGroupedBatches(lengths[:6], 3, seed=0, pool_batches=2).batches() in (
        [pool[:3], pool[3:]],
        [pool[3:], pool[:3]],
    )


def test_unknown_file_type_is_refused(tmp_path):
    path = tmp_path / "train.xlsx"
    path.write_text("x")
    with pytest.raises(DistilkitError, match="unknown file type"):
        read_split(path)


def test_hugging_face_datasets_load_by_name_with_label_names(tmp_path):
    # A local folder of CSVs is a dataset `datasets.load_dataset` understands, without the hub.
    folder = tmp_path / "hfdata"
    write_csv(folder / "train.csv", toy_rows(8))
    write_csv(folder / "validation.csv", toy_rows(4))
    write_csv(folder / "test.csv", toy_rows(2))
    data = load_classification(f"hf:{folder}")
    assert (len(data.train), len(data.dev), len(data.test)) == (8, 4, 2)
    assert data.label_names == ["negative", "positive"]
    assert data.train.source == f"{folder}[train]"


def test_missing_hugging_face_dataset_is_one_line(tmp_path):
    with pytest.raises(DistilkitError, match=r"cannot load dataset") as err:
        load_classification(f"hf:{tmp_path / 'nothing-here'}")
    assert "\n" not in str(err.value)
