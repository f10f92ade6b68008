"""`export --long-text`: bundle.json records the strategy, and the runtime reads a long text as PyTorch would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import invoke
from export_helpers import hand_windows, save_sharp_classifier
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from distilkit.core.errors import DistilkitError
from distilkit.core.long_text import LongText
from distilkit.data.classification import ClassificationSplit
from distilkit.evaluate.classifier import predict_logits
from distilkit.export import export_bundle
from distilkit.runtime import Predictor, load_bundle

MAX_LENGTH = 16
STRIDE = 4
LONG = " ".join(["the actor was good but the plot was dull and long", "a boring story", "it is fun"] * 3)
TEXTS = [LONG, "good movie", "bad film " * 12]


@pytest.fixture(scope="module")
def sharp(tmp_path_factory) -> Path:
    return save_sharp_classifier(tmp_path_factory.mktemp("models") / "sharp")


@pytest.fixture(scope="module")
def windows_bundle(tmp_path_factory, sharp) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "windows"
    result = invoke(
        "export",
        sharp,
        "--out",
        out,
        "--max-length",
        MAX_LENGTH,
        "--long-text",
        "windows",
        "--long-text-stride",
        STRIDE,
    )
    assert "long texts: " in result.output and "validation texts exceed 16 tokens" in result.output
    return out


def torch_windows(folder: Path, text: str) -> np.ndarray:
    """PyTorch's logits of each window of `text`, windows cut by hand and wrapped in [CLS] … [SEP]."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    content = tokenizer(text, add_special_tokens=False)["input_ids"]
    rows = [[tokenizer.cls_token_id, *w, tokenizer.sep_token_id] for w in hand_windows(content, MAX_LENGTH - 2, STRIDE)]
    width = max(map(len, rows))
    ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])  # [windows, width]
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])  # [windows, width]
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask).logits.numpy()  # [windows, labels]


def test_bundle_json_records_the_strategy_and_needs_a_runtime_that_reads_it(windows_bundle):
    meta = json.loads((windows_bundle / "bundle.json").read_text())
    assert meta["long_text"] == {"strategy": "windows", "stride": STRIDE}
    assert meta["format_version"] == 2  # an older runtime refuses it instead of silently truncating
    assert meta["validation"]["long_text"]["strategy"] == "windows" and meta["validation"]["long_text"]["long"] > 0
    assert load_bundle(windows_bundle).long_text == LongText("windows", STRIDE)


def test_runtime_pools_windows_like_pytorch_for_a_text_longer_than_max_length(windows_bundle, sharp):
    per_window = torch_windows(sharp, LONG)
    assert len(per_window) >= 3  # the text really is several windows long
    want = per_window.mean(0)
    predictor = Predictor(windows_bundle, batch_size=2)
    got = predictor.outputs(TEXTS)
    np.testing.assert_allclose(got[0], want, atol=1e-4)
    assert np.abs(got[0] - per_window[0]).max() > 0.1  # not what truncation (the first window alone) would give
    # the runtime and the training side's evaluation read every text the same way
    split = ClassificationSplit(TEXTS, ["negative"] * len(TEXTS))
    model = AutoModelForSequenceClassification.from_pretrained(sharp).eval()
    tokenizer = AutoTokenizer.from_pretrained(sharp)
    evaluated = predict_logits(model, tokenizer, split, MAX_LENGTH, long_text=LongText("windows", STRIDE))
    np.testing.assert_allclose(np.stack(got), evaluated, atol=1e-4)
    result = predictor.predict(LONG)[0]
    assert result["label"] == ["negative", "positive"][int(want.argmax())]
    assert predictor.predict_with_truncation(TEXTS)[1] == [False, False, False]  # windows read every token


def test_head_tail_bundle_reads_the_start_and_the_end(tmp_path, sharp):
    out = tmp_path / "head-tail"
    export_bundle(sharp, out, max_length=MAX_LENGTH, long_text=LongText("head-tail"))
    tokenizer = AutoTokenizer.from_pretrained(sharp)
    model = AutoModelForSequenceClassification.from_pretrained(sharp).eval()
    content = tokenizer(LONG, add_special_tokens=False)["input_ids"]
    kept = content[:4] + content[-10:]  # budget 14: round(3.5) = 4 from the head, 10 from the tail
    with torch.no_grad():
        want = model(input_ids=torch.tensor([[tokenizer.cls_token_id, *kept, tokenizer.sep_token_id]])).logits[0]
    predictor = Predictor(out)
    np.testing.assert_allclose(predictor.outputs([LONG])[0], want.numpy(), atol=1e-4)
    assert predictor.predict_with_truncation([LONG, "good"])[1] == [True, False]  # its middle was not read


def test_a_bundle_without_the_field_truncates_as_before(tmp_path, windows_bundle):
    old = tmp_path / "old"
    shutil.copytree(windows_bundle, old)
    meta = json.loads((old / "bundle.json").read_text())
    del meta["long_text"]
    meta["format_version"] = 1
    (old / "bundle.json").write_text(json.dumps(meta))
    predictor = Predictor(old)
    assert predictor.bundle.long_text == LongText()
    (encoding,) = predictor.encoder.encode([LONG])
    truncated = predictor.outputs([LONG])[0]
    (values,) = predictor.bundle.session.run(
        ["logits"],
        {
            "input_ids": np.array([encoding.ids]),
            "attention_mask": np.ones((1, len(encoding.ids)), dtype=np.int64),
            "token_type_ids": np.zeros((1, len(encoding.ids)), dtype=np.int64),
        },
    )
    np.testing.assert_array_equal(truncated, values[0])
    assert predictor.predict_with_truncation([LONG])[1] == [True]


def edit_long_text(value):
    def apply(bundle: Path) -> None:
        meta = json.loads((bundle / "bundle.json").read_text())
        meta["long_text"] = value
        (bundle / "bundle.json").write_text(json.dumps(meta))

    return apply


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"strategy": "middle", "stride": None}, r"field 'long_text': strategy: expected one of truncate, head-tail"),
        ({"strategy": "windows", "stride": None}, r"field 'long_text': windows needs a stride"),
        ({"strategy": "windows", "stride": -1}, r"field 'long_text': stride: expected an integer >= 0 or null"),
        ("windows", r"field 'long_text': expected \{\"strategy\": \.\.\., \"stride\": \.\.\.\}"),
    ],
)
def test_a_malformed_long_text_field_is_one_line_naming_it(tmp_path, windows_bundle, value, message):
    bundle = tmp_path / "bundle"
    shutil.copytree(windows_bundle, bundle)
    edit_long_text(value)(bundle)
    with pytest.raises(DistilkitError, match=message):
        load_bundle(bundle)


def test_export_refuses_long_text_strategies_for_other_tasks_and_a_stride_that_does_not_advance(tmp_path, sharp):
    with pytest.raises(
        DistilkitError, match="long_text: windows is for sequence-classification bundles, not embedding"
    ):
        export_bundle(sharp, tmp_path / "e", task="embedding", long_text=LongText("windows"))
    with pytest.raises(DistilkitError, match="long_text_stride: 14 must be smaller than the 14 text tokens"):
        export_bundle(sharp, tmp_path / "w", max_length=MAX_LENGTH, long_text=LongText("windows", 14))
