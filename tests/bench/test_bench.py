"""`distilkit bench` on tiny random models: report keys and sane values, retention, files, config sizes, errors.

No timing relations are asserted: the machine may be busy, and tiny models are all noise.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import save_tiny_model, toy_rows, write_csv

from distilkit.bench import ModelSpec, parse_model_args, run_bench
from distilkit.bench.configs import param_count, parse_config_spec
from distilkit.bench.measure import Worker, disk_bytes
from distilkit.bench.report import SCHEMA, render_markdown, render_table
from distilkit.core.errors import DistilkitError
from distilkit.core.progress import ENV

TINY_CONFIG = "bert-base:vocab_size=200:hidden_size=32:num_hidden_layers=2:num_attention_heads=2:intermediate_size=64"


def _numel(folder: Path) -> int:
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> tuple[dict, Path, dict[str, Path]]:
    """One bench of a 4-layer and a 2-layer tiny model (plus the 4-layer one again) on a toy test split."""
    root = tmp_path_factory.mktemp("bench")
    big = save_tiny_model(root / "big", layers=4, seed=0)
    small = save_tiny_model(root / "small", layers=2, seed=1)
    test = write_csv(root / "test.csv", toy_rows(10))
    specs = [ModelSpec("big", str(big)), ModelSpec("small", str(small)), ModelSpec("big-again", str(big))]
    out = root / "out"
    report = run_bench(specs, out, test_file=test, runs=3, warmup=1, threads=1, progress=False)
    return report, out, {"big": big, "small": small, "big-again": big}


def test_report_has_documented_keys_and_sane_values(bench_run):
    report, out, folders = bench_run
    assert report["schema"] == SCHEMA
    for key in ("created", "elapsed_s", "machine", "settings", "models", "retention"):
        assert key in report
    for key in ("cpu", "cores", "threads", "torch", "transformers", "load_avg_start"):
        assert key in report["machine"]
    assert report["machine"]["threads"] == 1
    assert report["settings"]["runs"] == 3 and report["settings"]["warmup"] == 1
    assert report["settings"]["reference"] == "big"
    assert [m["name"] for m in report["models"]] == ["big", "small", "big-again"]
    for m in report["models"]:
        folder = folders[m["name"]]
        assert m["params"] == _numel(folder)
        files = [p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".onnx")]
        assert m["disk_bytes"] == sum(p.stat().st_size for p in files) == disk_bytes(folder) > 0
        assert m["inputs"] == "text"
        for setting in ("b1_s128", "b1_s32"):
            lat = m["latency_ms"][setting]
            assert 0 < lat["min"] <= lat["p50"] <= lat["p90"]
            assert lat["n"] == 3
        assert m["batch_ms"]["b32_s128"]["n"] == 3
        assert m["throughput_seq_s"]["b32_s128"] > 0
        assert m["rss_after_load_bytes"] > 0
        assert m["peak_rss_bytes"] >= m["rss_after_load_bytes"]
        assert m["peak_rss_after_eval_bytes"] >= m["peak_rss_bytes"]
        assert 0 <= m["metrics"]["accuracy"] <= 1 and 0 <= m["metrics"]["macro_f1"] <= 1
        assert m["metrics"]["n"] == 10
    # the file on disk is the returned dict
    assert json.loads((out / "report.json").read_text()) == report


def test_params_differ_between_models(bench_run):
    report, _, _ = bench_run
    by_name = {m["name"]: m for m in report["models"]}
    assert by_name["small"]["params"] < by_name["big"]["params"]
    assert by_name["small"]["disk_bytes"] < by_name["big"]["disk_bytes"]


def test_retention_against_itself_is_one(bench_run):
    report, _, _ = bench_run
    ret = report["retention"]
    assert set(ret) == {"small", "big-again"}  # the reference has no entry
    same = ret["big-again"]
    assert same["reference"] == "big"
    assert same["accuracy"] == 1.0 and same["macro_f1"] == 1.0
    assert same["params_ratio"] == 1.0 and same["disk_ratio"] == 1.0
    for key in ("speedup_b1_s128", "speedup_b1_s32", "throughput_ratio_b32_s128", "peak_rss_ratio"):
        assert same[key] > 0
    assert 0 < ret["small"]["params_ratio"] < 1


def test_report_files_and_table(bench_run):
    report, out, _ = bench_run
    assert (out / "report.png").stat().st_size > 1000
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"
    md = (out / "report.md").read_text()
    assert md == render_markdown(report)
    for text in ("big (reference)", "small", "params (M)", "latency b1 s128", "throughput b32 s128", "accuracy"):
        assert text in md
    table = render_table(report)
    assert len(table.columns) == 4  # label column + 3 models


def test_config_parameter_counts():
    # counted on the meta device: no weights are allocated, nothing is timed
    assert param_count("bert-base") == 109_483_778
    assert param_count("distilbert-base") == 66_955_010
    assert parse_config_spec("bert-base:num_hidden_layers=6:hidden_act=gelu") == (
        "bert-base",
        {"num_hidden_layers": 6, "hidden_act": "gelu"},
    )


def test_config_bench_uses_random_inputs_and_real_disk_size(tmp_path):
    report = run_bench(
        [ModelSpec("tiny", config=TINY_CONFIG)], tmp_path / "out", runs=1, warmup=0, threads=1, progress=False
    )
    (m,) = report["models"]
    assert m["source"] == {"config": TINY_CONFIG}
    assert m["inputs"] == "random" and m["metrics"] == {}
    assert m["params"] == param_count(TINY_CONFIG)
    assert m["disk_files"] == ["model.safetensors"]
    assert m["params"] * 4 < m["disk_bytes"] < m["params"] * 4 + 100_000  # fp32 weights plus a small header
    assert report["retention"] == {}
    assert (tmp_path / "out" / "report.png").is_file()


def test_bench_off_a_terminal_prints_a_line_as_each_piece_of_work_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ENV, "0")
    run_bench([ModelSpec("tiny", config=TINY_CONFIG)], tmp_path / "out", runs=1, warmup=0, threads=1)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[bench]")]
    heads = [line.split(" | ")[0] for line in lines]
    assert heads == [
        "[bench] step 0/5 (0%) tiny: building " + TINY_CONFIG,
        "[bench] step 1/5 (20%) tiny: loading",
        "[bench] step 2/5 (40%) tiny: b1_s128, round 1/1",
        "[bench] step 3/5 (60%) tiny: b1_s32, round 1/1",
        "[bench] step 4/5 (80%) tiny: b32_s128, round 1/1",
        "[bench] step 5/5 (100%) done",
    ]
    assert lines[-1].endswith("eta 0:00:00") and all(" elapsed " in line for line in lines)


def test_bad_paths_and_specs_are_user_errors(tmp_path):
    with pytest.raises(DistilkitError, match="ghost"):
        run_bench([ModelSpec("ghost", str(tmp_path / "nope"))], tmp_path / "out", progress=False)
    with pytest.raises(DistilkitError, match="unknown architecture"):
        run_bench([ModelSpec("x", config="gpt-9")], tmp_path / "out", progress=False)
    with pytest.raises(DistilkitError, match="exactly one"):
        ModelSpec("both", path="a", config="bert-base")
    with pytest.raises(DistilkitError, match="unique"):
        run_bench([ModelSpec("a", config="bert-base"), ModelSpec("a", config="bert-base")], tmp_path, progress=False)
    assert not (tmp_path / "out" / "report.json").exists()


def test_model_that_does_not_load_is_a_user_error(tmp_path):
    broken = tmp_path / "broken"
    save_tiny_model(broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(DistilkitError, match=r"^broken: .*cannot load model"):
        run_bench([ModelSpec("broken", str(broken))], tmp_path / "out", runs=1, warmup=0, progress=False)


def test_worker_crash_reports_last_stderr_line():
    code = "import sys; sys.stdin.readline(); sys.stderr.write('first\\nRuntimeError: out of cheese\\n'); sys.exit(3)"
    worker = Worker("crashy", argv=[sys.executable, "-c", code])
    with pytest.raises(DistilkitError, match=r"crashy: bench worker died \(exit code 3\): RuntimeError: out of cheese"):
        worker.call("rss")
    worker.close()


def test_parse_model_args(tmp_path):
    specs = parse_model_args(["teacher=runs/t/model", str(tmp_path / "a" / "model"), str(tmp_path / "b" / "model")])
    assert specs[0] == ModelSpec("teacher", "runs/t/model")
    assert [s.name for s in specs[1:]] == ["a/model", "b/model"]
    assert parse_model_args([str(tmp_path / "student")])[0].name == "student"
    with pytest.raises(DistilkitError):
        parse_model_args(["x="])


def test_test_split_with_unknown_labels_is_a_user_error(tmp_path):
    model = save_tiny_model(tmp_path / "m")
    test = write_csv(tmp_path / "test.csv", [("good movie", "fantastic")])
    with pytest.raises(DistilkitError, match="fantastic"):
        run_bench([ModelSpec("m", str(model))], tmp_path / "out", test_file=test, runs=1, warmup=0, progress=False)
    shutil.rmtree(tmp_path / "m")


def test_texts_of_length_tokenise_to_exactly_the_asked_count(tmp_path):
    from distilkit.bench.texts import load_tokenizer, texts_of_length

    tokenizer = load_tokenizer(save_tiny_model(tmp_path / "m"))
    source = [text for text, _ in toy_rows(12)] + ["the actor, really! was boring?"]
    for tokens in (5, 32, 128):
        texts = texts_of_length(tokenizer, source, tokens, 10)
        assert len(texts) == 10
        assert all(len(tokenizer.encode(t).ids) == tokens for t in texts)
    with pytest.raises(DistilkitError, match="no test texts"):
        texts_of_length(tokenizer, ["  "], 32, 1)


@pytest.fixture(scope="module")
def text_bench(tmp_path_factory) -> tuple[dict, Path]:
    """A PyTorch classifier and its fp32 bundle, timed from raw text on a toy test split."""
    from distilkit.export import export_bundle

    root = tmp_path_factory.mktemp("text-bench")
    model = save_tiny_model(root / "model", layers=2, seed=3)
    bundle = root / "bundle"
    export_bundle(model, bundle)
    test = write_csv(root / "test.csv", toy_rows(10))
    specs = [ModelSpec("torch", str(model)), ModelSpec("onnx", str(bundle))]
    out = root / "out"
    report = run_bench(specs, out, test_file=test, runs=2, warmup=1, threads=1, progress=False, mode="text")
    return report, out


def test_text_bench_runs_bundles_beside_pytorch_models(text_bench):
    report, out = text_bench
    assert report["settings"]["mode"] == "text"
    torch_model, bundle = report["models"]
    assert (torch_model["kind"], bundle["kind"]) == ("torch", "bundle")
    assert torch_model["inputs"] == bundle["inputs"] == "text"
    assert bundle["disk_files"] == ["model.onnx"]
    # the graph's initializers are the model's weights, give or take what the exporter folds or drops
    assert abs(bundle["params"] - torch_model["params"]) < 0.03 * torch_model["params"]
    # an fp32 bundle reproduces the PyTorch model, so the quality is the same
    assert bundle["metrics"]["accuracy"] == torch_model["metrics"]["accuracy"]
    assert bundle["metrics"]["confusion_matrix"] == torch_model["metrics"]["confusion_matrix"]
    assert report["retention"]["onnx"]["accuracy"] == 1.0
    # the bare session call is timed for bundles only, as often as the end-to-end call
    assert torch_model["session_ms"] is None
    for setting in ("b1_s128", "b1_s32", "b32_s128"):
        assert bundle["session_ms"][setting]["n"] == 2
        assert bundle["session_ms"][setting]["p50"] > 0
    # the bundle worker never imports torch: its memory is far below the PyTorch worker's
    assert bundle["rss_after_load_bytes"] < torch_model["rss_after_load_bytes"] - 100 * 2**20
    md = (out / "report.md").read_text()
    assert "runtime overhead b1 s128" in md and "raw text to label" in md


def test_text_bench_needs_a_test_split(tmp_path):
    model = save_tiny_model(tmp_path / "m")
    with pytest.raises(DistilkitError, match="test split"):
        run_bench([ModelSpec("m", str(model))], tmp_path / "out", runs=1, warmup=0, progress=False, mode="text")
    with pytest.raises(DistilkitError, match="mode"):
        run_bench([ModelSpec("m", str(model))], tmp_path / "out", runs=1, warmup=0, progress=False, mode="fast")


def test_worker_peak_rss_is_its_own_not_its_parents():
    # Linux carries ru_maxrss over fork+exec: a parent holding trained models would otherwise lend them to the worker.
    ballast = bytearray(600 * 2**20)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    worker = Worker("light")
    try:
        assert worker.call("rss")["peak_rss_bytes"] < 300 * 2**20
    finally:
        worker.close()
    del ballast
