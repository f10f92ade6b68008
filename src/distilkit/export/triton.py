"""Bundles → a Triton model repository: what Triton Inference Server, KServe and Seldon serve, over the Open
Inference Protocol, on as many machines and replicas as the traffic needs.

Triton runs graphs, not text: it does not tokenize, and a bundle's answer (a label and its probability, a windowed
text's pooled logits, entity spans with character offsets) is decoding after the graph. Each bundle NAME therefore
becomes four models:

- ``NAME-tokenize`` (Python backend): texts → the graph's int64 inputs ``[rows, width]``, by distilkit's torch-free
  runtime (`distilkit.runtime.front_end`); rows are padded to a multiple of `pad_multiple` tokens so that the
  dynamic batcher of the next model can put requests of similar lengths together (it batches equal shapes only).
- ``NAME-model``: the bundle's `model.onnx` on the onnxruntime backend, inputs and outputs named and typed from the
  graph, with dynamic batching (`queue_delay_us`) and `instances` CPU instances of `threads` intra-op threads each.
  ``onnx_backend="python"`` runs the same graph with ONNX Runtime inside a Python-backend model instead, for a
  Triton built without the onnxruntime backend (the one in the ``nvidia-pytriton`` wheel: `triton_local`).
- ``NAME-decode`` (Python backend): the graph's outputs → the tensors of `distilkit.runtime.protocol`.
- ``NAME`` (ensemble): ``TEXT`` in, the protocol's outputs back; the model a client calls, under the bundle's name,
  as `distilkit serve NAME=BUNDLE` serves it on its /v2 endpoints.

The ensemble and the Python steps take no batch dimension (``max_batch_size: 0``): a request's texts are ``[n]``
and its rows may be more than n (windows of long texts). The graph model batches across requests; a request needing
more rows than its ``max_batch_size`` is refused by the tokenizer step in one line. The Python steps import only
distilkit's runtime and numpy: the server's Python needs ``pip install distilkit`` (the base install, no torch).

Every config is Triton's text format; `tests/export/test_triton.py` parses each with Triton's own protobuf.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from distilkit.core.atomic import new_folder, write_text
from distilkit.core.errors import DistilkitError
from distilkit.runtime.bundle import BUNDLE_FILE, MODEL_FILE, TOKENIZER_FILE, Bundle, load_bundle, parse_bundle_args
from distilkit.runtime.protocol import TEXT_INPUT, TensorSpec, output_specs

BACKENDS = ("onnxruntime", "python")
CONFIG_FILE = "config.pbtxt"
VERSION = "1"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# ONNX element types (as ONNX Runtime names them) and protocol datatypes → Triton's model-config data types.
DATA_TYPES = {
    "tensor(int64)": "TYPE_INT64",
    "tensor(int32)": "TYPE_INT32",
    "tensor(float)": "TYPE_FP32",
    "tensor(float16)": "TYPE_FP16",
    "BYTES": "TYPE_STRING",
    "FP32": "TYPE_FP32",
    "BOOL": "TYPE_BOOL",
}


@dataclass(frozen=True)
class RepositorySettings:
    """How the models of a repository are scheduled (see the module docstring)."""

    onnx_backend: str = "onnxruntime"
    max_batch: int = 32
    queue_delay_us: int = 2000
    instances: int = 1
    threads: int = 1
    pad_multiple: int = 16

    def __post_init__(self) -> None:
        if self.onnx_backend not in BACKENDS:
            raise DistilkitError(f"onnx_backend: expected one of {', '.join(BACKENDS)}, got {self.onnx_backend!r}")
        for name in ("max_batch", "instances", "threads", "pad_multiple"):
            if getattr(self, name) < 1:
                raise DistilkitError(f"{name}: expected a positive number, got {getattr(self, name)}")
        if self.queue_delay_us < 0:
            raise DistilkitError(f"queue_delay_us: expected a number >= 0, got {self.queue_delay_us}")


@dataclass(frozen=True)
class Tensor:
    """A tensor of a model config: name, Triton data type, dims (without the batch dimension when it batches)."""

    name: str
    data_type: str
    dims: tuple[int, ...]

    def pbtxt(self) -> str:
        dims = ", ".join(str(d) for d in self.dims)
        return f"  {{ name: {_quote(self.name)} data_type: {self.data_type} dims: [ {dims} ] }}"


def _quote(text: str) -> str:
    """A string in protobuf text format (JSON's escapes for quotes, backslashes and control characters are valid
    there; non-ASCII stays UTF-8, since text format has no \\u escapes)."""
    return json.dumps(text, ensure_ascii=False)


def _dims(shape: Sequence[object]) -> tuple[int, ...]:
    """An ONNX shape as config dims: named (symbolic) dimensions are variable, -1."""
    return tuple(d if isinstance(d, int) and d > 0 else -1 for d in shape)


def _protocol_tensor(spec: TensorSpec) -> Tensor:
    return Tensor(spec.name, DATA_TYPES[spec.datatype], spec.shape)


def _block(name: str, tensors: Sequence[Tensor]) -> str:
    return f"{name} [\n" + ",\n".join(t.pbtxt() for t in tensors) + "\n]"


def _parameters(values: dict[str, str]) -> str:
    return "\n".join(
        f"parameters {{ key: {_quote(k)} value: {{ string_value: {_quote(v)} }} }}" for k, v in values.items()
    )


def _cpu_instances(count: int) -> str:
    return f"instance_group [ {{ kind: KIND_CPU count: {count} }} ]"


def _header(name: str, backend: str, max_batch_size: int) -> str:
    return f"name: {_quote(name)}\nbackend: {_quote(backend)}\nmax_batch_size: {max_batch_size}"


@dataclass(frozen=True)
class GraphTensors:
    """The graph's inputs and its one output, as the model config declares them (batch dimension left out)."""

    inputs: list[Tensor]
    output: Tensor

    @classmethod
    def of(cls, bundle: Bundle) -> GraphTensors:
        session = bundle.session
        inputs = [Tensor(i.name, _data_type(i.type), _dims(i.shape[1:])) for i in session.get_inputs()]
        graph_output = next(o for o in session.get_outputs() if o.name == bundle.output)
        # The last dimension is the label count (or embedding width), checked by load_bundle; the graph may leave
        # it symbolic.
        dims = (*_dims(graph_output.shape[1:-1]), bundle.output_width)
        return cls(inputs, Tensor(graph_output.name, _data_type(graph_output.type), dims))


def _data_type(onnx_type: str) -> str:
    if onnx_type not in DATA_TYPES:
        raise DistilkitError(f"{MODEL_FILE}: no Triton data type for the graph's {onnx_type}")
    return DATA_TYPES[onnx_type]


def graph_config(name: str, graph: GraphTensors, settings: RepositorySettings) -> str:
    """``NAME-model``: the ONNX graph, batched across requests by Triton's dynamic batcher, on CPU instances."""
    return "\n".join(
        [
            _header(name, settings.onnx_backend, settings.max_batch),
            _block("input", graph.inputs),
            _block("output", [graph.output]),
            _cpu_instances(settings.instances),
            f"dynamic_batching {{ max_queue_delay_microseconds: {settings.queue_delay_us} }}",
            # The onnxruntime backend's thread settings; the Python stand-in reads the same key.
            _parameters({"intra_op_thread_count": str(settings.threads), "inter_op_thread_count": "1"}),
        ]
    )


def _unbatched(tensor: Tensor) -> Tensor:
    """A graph tensor as a step without a batch dimension sees it: the rows dimension first."""
    return Tensor(tensor.name, tensor.data_type, (-1, *tensor.dims))


def tokenize_config(name: str, graph: GraphTensors, settings: RepositorySettings) -> str:
    """``NAME-tokenize``: texts ``[n]`` → the graph's inputs ``[rows, width]``, at most `max_batch` rows."""
    return "\n".join(
        [
            _header(name, "python", 0),
            _block("input", [_protocol_tensor(TEXT_INPUT)]),
            _block("output", [_unbatched(t) for t in graph.inputs]),
            _cpu_instances(settings.instances),
            _parameters(
                {"step": "tokenize", "pad_multiple": str(settings.pad_multiple), "max_rows": str(settings.max_batch)}
            ),
        ]
    )


def decode_config(name: str, graph: GraphTensors, outputs: list[TensorSpec], settings: RepositorySettings) -> str:
    """``NAME-decode``: the texts and the graph's output for their rows → the protocol's outputs."""
    return "\n".join(
        [
            _header(name, "python", 0),
            _block("input", [_protocol_tensor(TEXT_INPUT), _unbatched(graph.output)]),
            _block("output", [_protocol_tensor(spec) for spec in outputs]),
            _cpu_instances(settings.instances),
            _parameters({"step": "decode", "model_output": graph.output.name}),
        ]
    )


def _step(model: str, inputs: Sequence[str], outputs: Sequence[str]) -> str:
    """One ensemble step; every tensor keeps its name from model to model (the ensemble's own TEXT included)."""
    maps = [f"input_map {{ key: {_quote(t)} value: {_quote(t)} }}" for t in inputs]
    maps += [f"output_map {{ key: {_quote(t)} value: {_quote(t)} }}" for t in outputs]
    return f"    {{ model_name: {_quote(model)} model_version: -1 " + " ".join(maps) + " }"


def ensemble_config(name: str, graph: GraphTensors, outputs: list[TensorSpec], bundle: Bundle) -> str:
    """``NAME``: tokenize → graph → decode, TEXT in and the protocol's outputs out."""
    graph_inputs = [t.name for t in graph.inputs]
    out_names = [spec.name for spec in outputs]
    steps = [
        _step(f"{name}-tokenize", [TEXT_INPUT.name], graph_inputs),
        _step(f"{name}-model", graph_inputs, [graph.output.name]),
        _step(f"{name}-decode", [TEXT_INPUT.name, graph.output.name], out_names),
    ]
    return "\n".join(
        [
            f'name: {_quote(name)}\nplatform: "ensemble"\nmax_batch_size: 0',
            _block("input", [_protocol_tensor(TEXT_INPUT)]),
            _block("output", [_protocol_tensor(spec) for spec in outputs]),
            "ensemble_scheduling {\n  step [\n" + ",\n".join(steps) + "\n  ]\n}",
            # What a client reads the SCORES columns by, and what the ensemble is for.
            _parameters({"task": bundle.task, "labels": json.dumps(bundle.labels, ensure_ascii=False)}),
        ]
    )


def _template(file: str) -> str:
    """A Python-backend model.py shipped with distilkit (`distilkit/export/triton_models/`)."""
    return resources.files("distilkit.export.triton_models").joinpath(file).read_text(encoding="utf-8")


def write_model(folder: Path, config: str, files: dict[str, Path | str]) -> None:
    """One model of the repository: ``config.pbtxt`` and its version folder ``1/`` with `files` (a Path is copied,
    a str written)."""
    version = folder / VERSION
    version.mkdir(parents=True)
    write_text(folder / CONFIG_FILE, config + "\n")
    for name, content in files.items():
        if isinstance(content, Path):
            shutil.copyfile(content, version / name)
        else:
            write_text(version / name, content)


def add_bundle(repo: Path, name: str, bundle: Bundle, settings: RepositorySettings) -> list[str]:
    """Write the four models of one bundle into `repo`; returns their names, the ensemble's first."""
    if not NAME.match(name):
        raise DistilkitError(f"bundle name {name!r}: use letters, digits, '_', '.' and '-' (a Triton model name)")
    graph = GraphTensors.of(bundle)
    outputs = output_specs(bundle.task, bundle.output_width)
    text_side = {BUNDLE_FILE: bundle.path / BUNDLE_FILE, TOKENIZER_FILE: bundle.path / TOKENIZER_FILE}
    front_end = _template("front_end.py")
    graph_files: dict[str, Path | str] = {MODEL_FILE: bundle.path / MODEL_FILE}
    if settings.onnx_backend == "python":
        graph_files["model.py"] = _template("onnx_runner.py")
    write_model(repo / name, ensemble_config(name, graph, outputs, bundle), {})
    steps = {"model.py": front_end, **text_side}
    write_model(repo / f"{name}-tokenize", tokenize_config(f"{name}-tokenize", graph, settings), steps)
    write_model(repo / f"{name}-model", graph_config(f"{name}-model", graph, settings), graph_files)
    write_model(repo / f"{name}-decode", decode_config(f"{name}-decode", graph, outputs, settings), steps)
    return [name, f"{name}-tokenize", f"{name}-model", f"{name}-decode"]


def write_repository(bundles: Sequence[str], out: Path, settings: RepositorySettings | None = None) -> dict[str, str]:
    """Write a Triton model repository at `out` for `bundles` (``NAME=PATH`` or ``PATH``), replacing any old one
    whole (`core.atomic.new_folder`). Every bundle is loaded and checked by the runtime first. Returns each bundle
    name → its task."""
    settings = settings or RepositorySettings()
    pairs = parse_bundle_args(bundles)
    if not pairs:
        raise DistilkitError("export-triton: give at least one bundle folder")
    loaded = {name: load_bundle(path, threads=1) for name, path in pairs}
    with new_folder(Path(out)) as tmp:
        for name, bundle in loaded.items():
            add_bundle(tmp, name, bundle, settings)
    return {name: bundle.task for name, bundle in loaded.items()}
