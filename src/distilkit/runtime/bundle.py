"""Read and check a bundle folder: `model.onnx`, `tokenizer.json` and `bundle.json`.

A bundle travels on its own (copied to a server, unpacked on a laptop), so `load_bundle` trusts nothing in it: every
file must be there, `bundle.json` must have the fields the runtime needs with the right types, and its labels must fit
the model's output width. A mismatch found here is one line naming the file and field; found later it would be a
wrong label printed next to a confident score.

`bundle.json` (format version 1) holds, besides bookkeeping written by the exporter:

- ``task``: ``sequence-classification``, ``token-classification`` or ``embedding``
- ``labels``: id → name as ``{"0": "negative", "1": "positive"}`` (classification tasks)
- ``embedding_dim``: width of the ``embeddings`` output (embedding task)
- ``max_length``: inputs are truncated to this many tokens, special tokens included
- ``inputs``: the model's input names, a subset of input_ids / attention_mask / token_type_ids
- ``output``: ``logits`` or ``embeddings``
- ``pad_token_id``: the id padding positions get
- ``long_text`` (optional; format version 2 when not truncate): ``{"strategy": "truncate" | "head-tail" | "windows",
  "stride": tokens consecutive windows share, or null}``, how a text longer than ``max_length`` is read (see
  `distilkit.core.long_text`); sequence classification only. A bundle without it truncates, as before the field.

The exporter writes format version 1 unless the bundle needs ``long_text`` read: an older runtime refuses a version-2
bundle ("newer than this distilkit reads") instead of silently truncating texts the bundle was validated windowed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from distilkit.core.errors import DistilkitError, at
from distilkit.core.long_text import STRATEGIES, TRUNCATE, WINDOWS, LongText
from distilkit.core.tasks import MODEL_INPUTS, SEQUENCE_CLASSIFICATION, TASKS

FORMAT_VERSION = 2
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
BUNDLE_FILE = "bundle.json"
OUTPUT_NAMES = {"sequence-classification": "logits", "token-classification": "logits", "embedding": "embeddings"}


@dataclass
class Bundle:
    """A checked bundle: its metadata, an ONNX Runtime session and the tokenizer, ready to run."""

    path: Path
    meta: dict[str, Any]
    task: str
    labels: list[str]
    max_length: int
    inputs: list[str]
    output: str
    pad_token_id: int
    output_width: int
    session: ort.InferenceSession = field(repr=False)
    tokenizer: Tokenizer = field(repr=False)
    long_text: LongText = field(default_factory=LongText)


def session_options(threads: int | None = None, spin: bool = True) -> ort.SessionOptions:
    """Session options for inference on a CPU shared with other work.

    `threads` caps the intra-op pool (ONNX Runtime's default, 0, means one thread per physical core); inter-op
    parallelism stays at one thread because BERT graphs are a chain of big ops with little to run side by side.
    Warnings are silenced: ONNX Runtime logs harmless notes (unused initializers in quantized graphs) on every load.
    Memory patterns are off: they are planned per input shape, and text batches change shape on every call, so
    they only grow the arena (about 10 MB more peak RSS for a 3-layer bundle, measured) without speeding anything up.
    `spin=False` stops idle pool threads from busy-waiting for the next call: spinning saves microseconds when the
    cores are the model's alone, but a server's event loop needs those cores between forward passes.
    """
    options = ort.SessionOptions()
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = int(threads or 0)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_mem_pattern = False
    options.log_severity_level = 3
    return options


def read_meta(path: str | Path, model: bool = True) -> dict[str, Any]:
    """`bundle.json` of a bundle folder, with every field the runtime uses checked (no model is loaded).

    `model=False` reads the text side of a bundle without its `model.onnx` (`distilkit.runtime.front_end`: a serving
    engine's tokenizer step, whose folder holds only `bundle.json` and `tokenizer.json`)."""
    folder = Path(path)
    if not folder.is_dir():
        raise at(folder, None, "no such bundle folder")
    for name in (MODEL_FILE, TOKENIZER_FILE, BUNDLE_FILE) if model else (TOKENIZER_FILE, BUNDLE_FILE):
        if not (folder / name).is_file():
            raise at(folder / name, None, "missing (a bundle holds model.onnx, tokenizer.json and bundle.json)")
    meta_file = folder / BUNDLE_FILE
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise at(meta_file, None, "not valid UTF-8") from None
    except json.JSONDecodeError as e:
        raise at(meta_file, e.lineno, f"invalid JSON ({e.msg})") from None
    if not isinstance(meta, dict):
        raise at(meta_file, None, "expected a JSON object")
    _check_meta(meta_file, meta)
    return meta


def _field_error(meta_file: Path, name: str, message: str) -> DistilkitError:
    return at(meta_file, None, f"field {name!r}: {message}")


def _int_field(meta_file: Path, meta: dict, name: str, minimum: int) -> int:
    value = meta.get(name)
    if value is None:
        raise _field_error(meta_file, name, "missing")
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _field_error(meta_file, name, f"expected an integer >= {minimum}, got {value!r}")
    return value


def _check_meta(meta_file: Path, meta: dict) -> None:
    """Types and values of the fields the runtime relies on; the model-dependent checks come in `load_bundle`."""
    version = _int_field(meta_file, meta, "format_version", 1)
    if version > FORMAT_VERSION:
        raise _field_error(
            meta_file, "format_version", f"{version} is newer than this distilkit reads ({FORMAT_VERSION}); upgrade"
        )
    task = meta.get("task")
    if task not in TASKS:
        raise _field_error(meta_file, "task", f"expected one of {', '.join(TASKS)}, got {task!r}")
    _int_field(meta_file, meta, "max_length", 2)
    _int_field(meta_file, meta, "pad_token_id", 0)
    inputs = meta.get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(x, str) for x in inputs):
        raise _field_error(meta_file, "inputs", f"expected a list of input names, got {inputs!r}")
    unknown = [x for x in inputs if x not in MODEL_INPUTS]
    if unknown or "input_ids" not in inputs or len(set(inputs)) != len(inputs):
        raise _field_error(meta_file, "inputs", f"expected input_ids plus attention_mask/token_type_ids, got {inputs}")
    if meta.get("output") != OUTPUT_NAMES[task]:
        raise _field_error(meta_file, "output", f"a {task} bundle's output is {OUTPUT_NAMES[task]!r}")
    if task == "embedding":
        _int_field(meta_file, meta, "embedding_dim", 1)
    else:
        label_names(meta_file, meta.get("labels"))
    long_text_of(meta_file, meta)


def long_text_of(meta_file: Path, meta: dict) -> LongText:
    """The ``long_text`` field as a `LongText`; a bundle without the field truncates (bundles from before it)."""
    value = meta.get("long_text")
    if value is None:
        return LongText()
    if not isinstance(value, dict) or set(value) - {"strategy", "stride"}:
        raise _field_error(meta_file, "long_text", f'expected {{"strategy": ..., "stride": ...}}, got {value!r}')
    strategy, stride = value.get("strategy"), value.get("stride")
    if strategy not in STRATEGIES:
        raise _field_error(
            meta_file, "long_text", f"strategy: expected one of {', '.join(STRATEGIES)}, got {strategy!r}"
        )
    if stride is not None and (isinstance(stride, bool) or not isinstance(stride, int) or stride < 0):
        raise _field_error(meta_file, "long_text", f"stride: expected an integer >= 0 or null, got {stride!r}")
    if strategy == WINDOWS and stride is None:
        raise _field_error(meta_file, "long_text", "windows needs a stride")
    if strategy != TRUNCATE and meta["task"] != SEQUENCE_CLASSIFICATION:
        raise _field_error(meta_file, "long_text", f"{strategy} is for sequence-classification, not {meta['task']}")
    return LongText(strategy, stride)


def label_names(meta_file: Path, labels: Any) -> list[str]:
    """Label names in id order from the ``{"0": name, ...}`` mapping; ids must be exactly 0..n-1, names unique."""
    if not isinstance(labels, dict) or not labels:
        raise _field_error(meta_file, "labels", f'expected a mapping like {{"0": "negative"}}, got {labels!r}')
    expected = [str(i) for i in range(len(labels))]
    if sorted(labels, key=lambda k: (len(str(k)), str(k))) != expected:
        raise _field_error(meta_file, "labels", f"ids must be 0..{len(labels) - 1}, got {sorted(labels)}")
    names = [labels[k] for k in expected]
    if not all(isinstance(n, str) and n.strip() for n in names):
        raise _field_error(meta_file, "labels", f"label names must be non-empty strings, got {names}")
    if len(set(names)) != len(names):
        raise _field_error(meta_file, "labels", f"duplicate label names in {names}")
    return names


def read_tokenizer(folder: Path) -> Tokenizer:
    """The bundle's `tokenizer.json`; a malformed file is one line naming it."""
    try:
        return Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    except Exception as e:  # tokenizers raises a bare Exception for a malformed file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise at(folder / TOKENIZER_FILE, None, f"not a tokenizers file ({first})") from None


def load_bundle(path: str | Path, threads: int | None = None, spin: bool = True) -> Bundle:
    """Load and check a bundle: files present, `bundle.json` well formed, inputs and labels matching the model.

    `threads` and `spin` go to `session_options`."""
    folder = Path(path)
    meta = read_meta(folder)
    meta_file = folder / BUNDLE_FILE
    model_file = folder / MODEL_FILE
    try:
        session = ort.InferenceSession(
            str(model_file), sess_options=session_options(threads, spin), providers=["CPUExecutionProvider"]
        )
    except Exception as e:  # onnxruntime raises its own pybind types (InvalidProtobuf, Fail, ...)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise at(model_file, None, f"cannot load ONNX model ({first})") from None
    tokenizer = read_tokenizer(folder)

    session_inputs = [i.name for i in session.get_inputs()]
    if sorted(session_inputs) != sorted(meta["inputs"]):
        raise _field_error(meta_file, "inputs", f"lists {meta['inputs']} but {MODEL_FILE} takes {session_inputs}")
    outputs = {o.name: o for o in session.get_outputs()}
    if meta["output"] not in outputs:
        found = list(outputs)
        raise _field_error(meta_file, "output", f"{meta['output']!r} is not an output of {MODEL_FILE} ({found})")
    width = _output_width(session, meta)
    task = meta["task"]
    if task == "embedding":
        labels: list[str] = []
        if meta["embedding_dim"] != width:
            raise _field_error(
                meta_file, "embedding_dim", f"is {meta['embedding_dim']} but {MODEL_FILE} outputs {width} dimensions"
            )
    else:
        labels = label_names(meta_file, meta["labels"])
        if len(labels) != width:
            raise _field_error(meta_file, "labels", f"has {len(labels)} labels but {MODEL_FILE} outputs {width} logits")
    return Bundle(
        path=folder,
        meta=meta,
        task=task,
        labels=labels,
        max_length=meta["max_length"],
        inputs=list(meta["inputs"]),
        output=meta["output"],
        pad_token_id=meta["pad_token_id"],
        output_width=width,
        session=session,
        tokenizer=tokenizer,
        long_text=long_text_of(meta_file, meta),
    )


def _output_width(session: ort.InferenceSession, meta: dict) -> int:
    """The last dimension of the output: declared in the graph when static, else measured on a two-token input."""
    output = next(o for o in session.get_outputs() if o.name == meta["output"])
    declared = output.shape[-1] if output.shape else None
    if isinstance(declared, int) and declared > 0:
        return declared
    feeds = {name: np.ones((1, 2), dtype=np.int64) for name in meta["inputs"]}
    if "token_type_ids" in feeds:
        feeds["token_type_ids"][:] = 0
    (value,) = session.run([meta["output"]], feeds)
    return int(value.shape[-1])


def parse_bundle_args(args: Sequence[str]) -> list[tuple[str, Path]]:
    """`NAME=PATH` or `PATH` (named after its folder) → (name, path); names must be unique (how `distilkit serve`
    and `distilkit export-triton` name the bundles they are given)."""
    pairs: list[tuple[str, Path]] = []
    for arg in args:
        name, sep, path = arg.partition("=")
        if not sep:
            name, path = Path(arg).resolve().name, arg
        if not name or not path:
            raise DistilkitError(f"bundle {arg!r}: expected NAME=PATH or PATH")
        if any(name == n for n, _ in pairs):
            raise DistilkitError(f"bundle name {name!r} given twice (name them: NAME=PATH)")
        pairs.append((name, Path(path)))
    return pairs
