"""A real engine: Triton Inference Server (the binary of the nvidia-pytriton wheel) serves a repository written by
`distilkit export-triton` on 127.0.0.1, and the Open Inference Protocol client of `oip_helpers` gets from it what
`distilkit predict` gives on the same bundles: labels and scores (a long text read in windows), word tags and
entities. The same client code then passes against `distilkit serve`.

The engine pins numpy < 2 and so lives in its own venv, torch-free: ``$DISTILKIT_ENGINE_PYTHON`` names its python,
or the test builds one once under the distilkit cache (``engine-venv-<hash of pyproject.toml>``: this checkout with
its ``[engine]`` extra, from the package registry; a minute or two the first time) and runs it with this checkout's
``src`` first on PYTHONPATH, so the engine's Python models import the code under test. Without the registry it skips
(fails under CI). ``pytest -m engine`` selects these tests. About a minute once the venv exists: the server starts
12 Python-backend processes (2 instances of 3 models, 2 bundles).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import invoke, require_registry
from export_helpers import save_sharp_classifier
from oip_helpers import assert_same_labels, assert_same_tags, classify, tag
from serve_helpers import free_port, save_model, start_server

from distilkit.core.cache import cache_dir
from distilkit.core.long_text import LongText
from distilkit.export import export_bundle
from distilkit.export.triton import RepositorySettings, write_repository
from distilkit.export.triton_local import Engine

ENGINE_ENV = "DISTILKIT_ENGINE_PYTHON"
PYTRITON = "nvidia-pytriton==0.7.0"  # as pyproject.toml's [engine] extra pins it
CHECKOUT = Path(__file__).resolve().parents[2]
MAX_LENGTH = 16
LONG = " ".join(["the actor was really quite good and the plot was fun"] * 3)  # 3 windows of 16 tokens
TEXTS = ["good movie", "the plot was dull and long", "Maria met the actor, café-good!", LONG, "a"]


@pytest.fixture(scope="module")
def engine() -> Engine:
    python = os.environ.get(ENGINE_ENV)
    if python:
        return Engine.find(Path(python))  # asked for and broken: an error, not a skip
    return Engine.find(engine_venv() / "bin" / "python")


def engine_venv() -> Path:
    """The cached engine venv of this checkout's pyproject.toml, built on first use (atomically: a venv half
    installed by a killed run is never taken for a whole one)."""
    pyproject = CHECKOUT / "pyproject.toml"
    key = hashlib.sha256(pyproject.read_bytes()).hexdigest()[:12]
    venv = cache_dir() / f"engine-venv-{key}"
    if (venv / "bin" / "python").exists():
        return venv
    require_registry(PYTRITON)
    partial = venv.with_name(venv.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(partial)], check=True, timeout=300)
    install = [str(partial / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", f"{CHECKOUT}[engine]"]
    done = subprocess.run(install, capture_output=True, text=True, timeout=1200, check=False)
    if done.returncode != 0:
        pytest.fail(f"engine venv: {' '.join(install)} failed: {done.stderr.strip()[-2000:]}")
    partial.rename(venv)  # a venv's scripts name its folder, but the engine only runs bin/python, which is a link
    return venv


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("engine-bundles")
    sharp = save_sharp_classifier(root / "sharp")
    export_bundle(sharp, root / "sentiment", max_length=MAX_LENGTH, long_text=LongText("windows", 4))
    tagger = save_model(root / "tagger", tagger=True)
    export_bundle(tagger, root / "tags", task="token-classification", max_length=MAX_LENGTH)
    return {"sentiment": root / "sentiment", "tags": root / "tags"}


def wait_ready(process: subprocess.Popen, port: int, log: Path, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"tritonserver exited early: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"tritonserver not ready in {seconds:.0f} s: {log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@pytest.fixture(scope="module")
def triton(engine, bundles, tmp_path_factory):
    """The server on 127.0.0.1 over a repository of both bundles (the graph on ONNX Runtime in a Python model: this
    Triton has no onnxruntime backend), two instances of every model."""
    root = tmp_path_factory.mktemp("engine")
    settings = RepositorySettings(onnx_backend="python", max_batch=16, queue_delay_us=2000, instances=2)
    write_repository([f"{name}={path}" for name, path in bundles.items()], root / "repo", settings)
    port = free_port()
    command, env = engine.command(root / "repo", root / "work", port, free_port())
    env["PYTHONPATH"] = os.pathsep.join([str(CHECKOUT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    log = root / "tritonserver.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_ready(process, port, log)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield client
    finally:
        stop(process)


def predicted(bundle: Path, tmp_path: Path, task: str = "raw") -> list[dict]:
    """What `distilkit predict` writes for TEXTS, one JSON object per text."""
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    output = invoke("predict", bundle, "--file", texts, "--task", task).stdout
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def check_against_predict(client, bundles: dict[str, Path], tmp_path: Path) -> None:
    """The protocol client's answers for TEXTS equal `distilkit predict`'s on the same bundles."""
    labels = ["negative", "positive"]
    assert_same_labels(classify(client, "sentiment", TEXTS, labels), predicted(bundles["sentiment"], tmp_path))
    tags = tag(client, "tags", TEXTS)
    words = predicted(bundles["tags"], tmp_path, "pos")
    entities = predicted(bundles["tags"], tmp_path, "ner")
    expected = [{"words": w["words"], "entities": e["entities"]} for w, e in zip(words, entities, strict=True)]
    assert_same_tags(tags, expected)
    assert len(tags[3]["words"]) == len(LONG.split())  # every word of the long text, tagged in windows


@pytest.mark.engine
def test_triton_answers_what_distilkit_predict_answers(triton, bundles, tmp_path):
    check_against_predict(triton, bundles, tmp_path)
    metadata = triton.get("/v2/models/sentiment").json()
    assert metadata["platform"] == "ensemble"
    assert [o["name"] for o in metadata["outputs"]] == ["LABEL", "SCORE", "SCORES", "TRUNCATED"]


@pytest.mark.engine
def test_concurrent_requests_are_each_answered_with_their_own_results(triton, bundles):
    """Requests of similar lengths share a padded shape and are batched together by the graph model; each must
    still get the rows of its own texts back."""
    labels = ["negative", "positive"]
    requests = [TEXTS[i % len(TEXTS) :] + TEXTS[: i % len(TEXTS)] for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda texts: classify(triton, "sentiment", texts, labels), requests))
    single = {text: result for text, result in zip(TEXTS, classify(triton, "sentiment", TEXTS, labels), strict=True)}
    for texts, answer in zip(requests, answers, strict=True):
        assert_same_labels(answer, [single[t] for t in texts])


@pytest.mark.engine
def test_triton_refuses_a_request_needing_more_rows_than_the_graph_batches(triton):
    body = {"inputs": [{"name": "TEXT", "shape": [8], "datatype": "BYTES", "data": [LONG] * 8}]}
    response = triton.post("/v2/models/sentiment/infer", json=body)
    assert response.status_code == 400
    assert "8 texts need 24 model rows" in response.json()["error"]


def test_the_same_client_passes_against_distilkit_serve(bundles, tmp_path):
    port = free_port()
    process = start_server([f"{name}={path}" for name, path in bundles.items()], port, tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            check_against_predict(client, bundles, tmp_path)
    finally:
        stop(process)
