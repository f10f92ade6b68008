"""`distilkit export-triton`: a Triton model repository whose configs Triton's own protobuf reads, and whose Python
models (run here against a stand-in of Triton's `triton_python_backend_utils`) answer what `Predictor` answers,
windows of long texts and entity spans included. The real engine runs the same repository in
tests/process/test_triton_engine.py."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke, require
from export_helpers import save_sharp_classifier
from oip_helpers import assert_same_labels, assert_same_tags
from serve_helpers import save_model

from distilkit.core.errors import DistilkitError
from distilkit.core.long_text import LongText
from distilkit.export import export_bundle
from distilkit.export.triton import RepositorySettings, write_repository
from distilkit.export.triton_local import Engine
from distilkit.runtime import Predictor

MAX_LENGTH = 16  # a 16-token window: the long texts below need several
LONG = " ".join(["the actor was really quite good and the plot was fun"] * 3)
TEXTS = ["good movie", "the plot was dull and long", "", "Maria met the actor, café-good!", LONG]
MODELS = ("tokenize", "model", "decode")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    """A windowed classifier with sharp logits (windows change its answer), a tagger and an embedder, 16 tokens."""
    root = tmp_path_factory.mktemp("triton-bundles")
    sharp = save_sharp_classifier(root / "sharp")
    export_bundle(sharp, root / "sentiment", max_length=MAX_LENGTH, long_text=LongText("windows", 4))
    tagger = save_model(root / "tagger", tagger=True)
    export_bundle(tagger, root / "tags", task="token-classification", max_length=MAX_LENGTH)
    export_bundle(sharp, root / "vectors", task="embedding", max_length=MAX_LENGTH)
    return {name: root / name for name in ("sentiment", "tags", "vectors")}


@pytest.fixture(scope="module")
def repository(bundles, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("triton-repo") / "repo"
    settings = RepositorySettings(onnx_backend="python", max_batch=16, queue_delay_us=500, instances=2, threads=1)
    write_repository([f"{name}={path}" for name, path in bundles.items()], out, settings)
    return out


def model_config_pb2():
    """Triton's model-configuration protobuf, from tritonclient (its grpc package would import grpc first)."""
    try:
        import tritonclient
    except ImportError:
        require(False, "tritonclient (pip install -e '.[dev]')")
    path = Path(tritonclient.__file__).parent / "grpc" / "model_config_pb2.py"
    spec = importlib.util.spec_from_file_location("triton_model_config_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse(config: Path):
    from google.protobuf import text_format

    return text_format.Parse(config.read_text(encoding="utf-8"), model_config_pb2().ModelConfig())


def test_every_config_parses_with_tritons_protobuf(repository, bundles):
    configs = sorted(repository.glob("*/config.pbtxt"))
    assert [c.parent.name for c in configs] == sorted(
        f"{n}{s}" for n in bundles for s in ["", "-decode", "-model", "-tokenize"]
    )
    parsed = {c.parent.name: parse(c) for c in configs}
    assert all(config.name == name for name, config in parsed.items())
    graph = parsed["sentiment-model"]
    assert graph.backend == "python" and graph.max_batch_size == 16
    assert graph.dynamic_batching.max_queue_delay_microseconds == 500
    assert [(g.kind, g.count) for g in graph.instance_group] == [(model_config_pb2().ModelInstanceGroup.KIND_CPU, 2)]
    types_ = model_config_pb2().DataType
    assert [(i.name, i.data_type, list(i.dims)) for i in graph.input] == [
        (name, types_.TYPE_INT64, [-1]) for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    assert [(o.name, o.data_type, list(o.dims)) for o in graph.output] == [("logits", types_.TYPE_FP32, [2])]
    assert graph.parameters["intra_op_thread_count"].string_value == "1"
    assert list(parsed["tags-model"].output[0].dims) == [-1, 3]  # a tag per token
    assert list(parsed["vectors-model"].output[0].dims) == [32]
    ensemble = parsed["sentiment"]
    assert ensemble.platform == "ensemble" and ensemble.max_batch_size == 0
    steps = ensemble.ensemble_scheduling.step
    assert [s.model_name for s in steps] == ["sentiment-tokenize", "sentiment-model", "sentiment-decode"]
    assert dict(steps[2].input_map) == {"TEXT": "TEXT", "logits": "logits"}
    assert [o.name for o in ensemble.output] == ["LABEL", "SCORE", "SCORES", "TRUNCATED"]
    assert json.loads(ensemble.parameters["labels"].string_value) == ["negative", "positive"]
    tokenize = parsed["sentiment-tokenize"]
    assert tokenize.backend == "python" and tokenize.parameters["max_rows"].string_value == "16"
    assert [(o.name, list(o.dims)) for o in tokenize.output][0] == ("input_ids", [-1, -1])


def test_the_onnxruntime_backend_is_the_default(bundles, tmp_path):
    write_repository([f"sentiment={bundles['sentiment']}"], tmp_path / "repo")
    graph = parse(tmp_path / "repo" / "sentiment-model" / "config.pbtxt")
    assert graph.backend == "onnxruntime"
    assert not (tmp_path / "repo" / "sentiment-model" / "1" / "model.py").exists()
    assert (tmp_path / "repo" / "sentiment-model" / "1" / "model.onnx").is_file()
    assert sorted(p.name for p in (tmp_path / "repo" / "sentiment").iterdir()) == ["1", "config.pbtxt"]


# --------------------------------------------------------------------------------------------------------------------
# The Python models, run outside Triton against a stand-in of its utilities module.


class Tensor:
    def __init__(self, name: str, array: np.ndarray):
        self._name, self._array = name, np.asarray(array)

    def name(self) -> str:
        return self._name

    def as_numpy(self) -> np.ndarray:
        return self._array


class TritonError(str):
    INVALID_ARG = 3

    def __new__(cls, message: str, code: int = 0):
        error = super().__new__(cls, message)
        error.code = code
        return error


class Response:
    def __init__(self, output_tensors=None, error=None):
        self.tensors = {t.name(): t.as_numpy() for t in output_tensors or []}
        self.error = error


def fake_triton(monkeypatch) -> None:
    """`triton_python_backend_utils` as far as the models use it; a request is a dict of name → Tensor."""
    module = types.ModuleType("triton_python_backend_utils")
    module.Tensor = Tensor
    module.InferenceResponse = Response
    module.TritonError = TritonError
    module.get_input_tensor_by_name = lambda request, name: request.get(name)
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", module)


def load_model(folder: Path):
    """A repository model's model.py, initialised as Triton's Python backend would (config as JSON, its folder)."""
    config = parse(folder / "config.pbtxt")
    from google.protobuf import json_format

    args = {
        "model_config": json.dumps(json_format.MessageToDict(config, preserving_proto_field_name=True)),
        "model_repository": str(folder),
        "model_version": "1",
    }
    spec = importlib.util.spec_from_file_location(f"model_{folder.name}", folder / "1" / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.TritonPythonModel()
    model.initialize(args)
    return model


class Ensemble:
    """The three steps of a bundle's ensemble, chained as Triton's ensemble scheduler chains them."""

    def __init__(self, repository: Path, name: str):
        self.steps = [load_model(repository / f"{name}-{step}") for step in MODELS]

    def __call__(self, *requests: list[str]) -> list[Response]:
        texts = [{"TEXT": Tensor("TEXT", np.array([t.encode() for t in r], dtype=np.object_))} for r in requests]
        tokenized = self.steps[0].execute(texts)
        if any(r.error for r in tokenized):
            return tokenized
        graph = self.steps[1].execute([{k: Tensor(k, v) for k, v in r.tensors.items()} for r in tokenized])
        decode = [{**t, **{k: Tensor(k, v) for k, v in g.tensors.items()}} for t, g in zip(texts, graph, strict=True)]
        return self.steps[2].execute(decode)


def text_of(array: np.ndarray) -> list[str]:
    return [v.decode() for v in array]


def test_the_ensemble_answers_what_the_predictor_answers(repository, bundles, monkeypatch):
    fake_triton(monkeypatch)
    classifier, tagger = Predictor(bundles["sentiment"]), Predictor(bundles["tags"])
    # Two requests at once: the graph model batches those of one padded shape, as Triton's dynamic batcher does.
    first, second = Ensemble(repository, "sentiment")(TEXTS, TEXTS[:2])
    expected, truncated = classifier.predict_with_truncation(TEXTS)
    got = [
        {"label": label, "score": float(score), "scores": dict(zip(classifier.labels, map(float, row), strict=True))}
        for label, score, row in zip(
            text_of(first.tensors["LABEL"]), first.tensors["SCORE"], first.tensors["SCORES"], strict=True
        )
    ]
    assert_same_labels(got, expected)
    assert first.tensors["TRUNCATED"].tolist() == truncated == [False] * len(TEXTS)  # windows read the long text
    assert text_of(second.tensors["LABEL"]) == [e["label"] for e in expected[:2]]
    (tags,) = Ensemble(repository, "tags")(TEXTS)
    tagged = [
        {"words": json.loads(w), "entities": json.loads(e)}
        for w, e in zip(text_of(tags.tensors["WORDS"]), text_of(tags.tensors["ENTITIES"]), strict=True)
    ]
    assert_same_tags(tagged, tagger.words_and_entities(TEXTS))
    assert len(tagged[-1]["words"]) == len(LONG.split())  # every word of the long text tagged, in windows
    (vectors,) = Ensemble(repository, "vectors")(TEXTS)
    assert vectors.tensors["EMBEDDING"] == pytest.approx(Predictor(bundles["vectors"]).embed(TEXTS), abs=1e-5)


def test_a_request_with_more_rows_than_the_graph_takes_fails_alone(repository, monkeypatch):
    fake_triton(monkeypatch)
    ensemble = Ensemble(repository, "sentiment")
    tokenized = ensemble.steps[0].execute(
        [
            {"TEXT": Tensor("TEXT", np.array([LONG.encode()] * 8, dtype=np.object_))},  # 8 texts x 3 windows
            {"TEXT": Tensor("TEXT", np.array([b"good"], dtype=np.object_))},
            {"TEXT": Tensor("TEXT", np.array([b"\xff"], dtype=np.object_))},
        ]
    )
    assert tokenized[0].error.startswith("8 texts need 24 model rows (long texts are read in windows)")
    assert "at most 16 per request" in tokenized[0].error
    assert tokenized[1].error is None and tokenized[1].tensors["input_ids"].shape == (1, 16)  # padded to 16
    assert tokenized[2].error == "TEXT[0]: not valid UTF-8"
    assert {tokenized[0].error.code, tokenized[2].error.code} == {TritonError.INVALID_ARG}  # HTTP 400


def test_the_graph_runner_batches_requests_of_one_shape(repository, bundles, monkeypatch):
    fake_triton(monkeypatch)
    runner = load_model(repository / "sentiment-model")
    calls = []
    session_run = runner.session.run
    runner.session.run = lambda names, feeds: calls.append(feeds["input_ids"].shape) or session_run(names, feeds)
    encoder = Predictor(bundles["sentiment"]).encoder
    texts = (["good"], ["bad", "a dull film"], ["the actor was really quite good and the plot was fun"])
    feeds = [encoder.padded(encoder.encode(t), 8) for t in texts]  # widths 8, 8 and 16
    answers = runner.execute([{k: Tensor(k, v) for k, v in f.items()} for f in feeds])
    assert sorted(calls) == [(1, 16), (3, 8)]  # the two 8-wide requests ran as one batch
    assert [a.tensors["logits"].shape for a in answers] == [(1, 2), (2, 2), (1, 2)]


# --------------------------------------------------------------------------------------------------------------------
# The command.


def test_the_command_writes_the_repository_and_says_how_to_run_it(bundles, tmp_path):
    out = tmp_path / "repo"
    result = invoke(
        "export-triton",
        f"sentiment={bundles['sentiment']}",
        f"tags={bundles['tags']}",
        "--out",
        out,
        "--instances",
        "2",
        "--max-batch",
        "8",
    )
    assert (
        "sentiment (sequence-classification): sentiment-tokenize → sentiment-model → sentiment-decode" in result.output
    )
    assert "tritonserver --model-repository" in result.output
    assert parse(out / "tags-model" / "config.pbtxt").instance_group[0].count == 2
    assert parse(out / "tags-model" / "config.pbtxt").max_batch_size == 8


def test_bad_bundles_and_settings_are_one_line_errors(bundles, tmp_path):
    with pytest.raises(DistilkitError, match="no such bundle folder"):
        write_repository([f"x={tmp_path / 'missing'}"], tmp_path / "repo")
    with pytest.raises(DistilkitError, match="bundle name 'a b'"):
        write_repository([f"a b={bundles['sentiment']}"], tmp_path / "repo")
    with pytest.raises(DistilkitError, match="onnx_backend: expected one of onnxruntime, python"):
        RepositorySettings(onnx_backend="tensorrt")
    assert not (tmp_path / "repo").exists()


def test_the_local_engine_is_found_or_named_missing_and_listens_on_loopback(tmp_path):
    with pytest.raises(DistilkitError, match="no Triton engine there .*pip install 'distilkit\\[engine\\]' there"):
        Engine.find(Path(sys.executable))  # the test environment has no nvidia-pytriton
    with pytest.raises(DistilkitError, match="no such Python"):
        Engine.find(tmp_path / "nope" / "python")
    files = {name: tmp_path / name for name in ("tritonserver", "libtriton_python.so", "utils.py", "stub")}
    for path in files.values():
        path.touch()
    engine = Engine(
        python=tmp_path / "venv" / "bin" / "python",
        server=files["tritonserver"],
        libraries=tmp_path / "libs",
        python_backend=tmp_path,
        stub=files["stub"],
        libpython_dir=tmp_path / "lib",
    )
    argv, env = engine.command(tmp_path / "repo", tmp_path / "work", 8000, 8001)
    assert argv[0] == str(files["tritonserver"])
    assert "--http-address=127.0.0.1" in argv and "--grpc-address=127.0.0.1" in argv
    assert "--allow-metrics=false" in argv
    backend = tmp_path / "work" / "backends" / "python"
    assert f"--backend-directory={backend.parent}" in argv
    assert (backend / "triton_python_backend_stub").resolve() == files["stub"]
    assert env["PATH"].startswith(str(tmp_path / "venv" / "bin") + ":")
    assert env["LD_LIBRARY_PATH"].split(":")[:2] == [str(tmp_path / "libs"), str(tmp_path / "lib")]
