"""A text model's tensors on the Open Inference Protocol (KServe V2): one input of texts, named outputs per task.

Triton, KServe and Seldon all speak this protocol, and so does `distilkit serve` (its /v2 endpoints). For one client
to work against each of them, the distilkit server and the ensemble of a Triton repository
(`distilkit.export.triton`) take and return the same tensors, defined here once:

- input ``TEXT``, BYTES ``[n]``: the texts, UTF-8
- sequence classification: ``LABEL`` BYTES ``[n]``, ``SCORE`` FP32 ``[n]`` (the label's probability), ``SCORES``
  FP32 ``[n, labels]`` (columns in the bundle's label order), ``TRUNCATED`` BOOL ``[n]``
- token classification: ``WORDS`` and ``ENTITIES`` BYTES ``[n]``, one JSON document per text: the words with their
  tags, scores and offsets, and the entities, exactly as `distilkit predict --task ner` writes them (``null``
  entities for tags that are not IOB2, e.g. POS); per-text lists of different lengths have no tensor shape
- embedding: ``EMBEDDING`` FP32 ``[n, dim]``, ``TRUNCATED`` BOOL ``[n]``

The results these tensors are made from are those of `distilkit.serve.models.ServedModel.run` and
`distilkit.runtime.front_end.FrontEnd.results` (the same form).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from distilkit.core.errors import DistilkitError
from distilkit.core.tasks import EMBEDDING, SEQUENCE_CLASSIFICATION, TOKEN_CLASSIFICATION

TEXT = "TEXT"
DTYPES = {"BYTES": np.object_, "FP32": np.float32, "BOOL": np.bool_}
"""OIP datatype → numpy dtype of the arrays `output_tensors` returns (BYTES arrays hold Python str)."""


@dataclass(frozen=True)
class TensorSpec:
    """One tensor of the protocol: name, OIP datatype and shape, -1 for the texts' dimension."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def metadata(self) -> dict[str, Any]:
        """The tensor as model metadata lists it (``GET /v2/models/{name}``)."""
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


TEXT_INPUT = TensorSpec(TEXT, "BYTES", (-1,))


def output_specs(task: str, width: int) -> list[TensorSpec]:
    """The outputs of a model of `task` whose graph outputs `width` labels (or embedding dimensions)."""
    if task == SEQUENCE_CLASSIFICATION:
        return [
            TensorSpec("LABEL", "BYTES", (-1,)),
            TensorSpec("SCORE", "FP32", (-1,)),
            TensorSpec("SCORES", "FP32", (-1, width)),
            TensorSpec("TRUNCATED", "BOOL", (-1,)),
        ]
    if task == TOKEN_CLASSIFICATION:
        return [TensorSpec("WORDS", "BYTES", (-1,)), TensorSpec("ENTITIES", "BYTES", (-1,))]
    if task == EMBEDDING:
        return [TensorSpec("EMBEDDING", "FP32", (-1, width)), TensorSpec("TRUNCATED", "BOOL", (-1,))]
    raise DistilkitError(f"task: no protocol outputs for {task!r}")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def output_tensors(task: str, results: Sequence[Any]) -> dict[str, np.ndarray]:
    """The output tensors of one request from its per-text results, in `output_specs` order."""
    if task == SEQUENCE_CLASSIFICATION:
        return {
            "LABEL": np.array([r["label"] for r in results], dtype=np.object_),
            "SCORE": np.array([r["score"] for r in results], dtype=np.float32),
            "SCORES": np.array([list(r["scores"].values()) for r in results], dtype=np.float32),  # label order
            "TRUNCATED": np.array([r["truncated"] for r in results], dtype=np.bool_),
        }
    if task == TOKEN_CLASSIFICATION:
        return {
            "WORDS": np.array([_json(r["words"]) for r in results], dtype=np.object_),
            "ENTITIES": np.array([_json(r["entities"]) for r in results], dtype=np.object_),
        }
    if task == EMBEDDING:
        return {
            "EMBEDDING": np.stack([row for row, _ in results]).astype(np.float32, copy=False),
            "TRUNCATED": np.array([cut for _, cut in results], dtype=np.bool_),
        }
    raise DistilkitError(f"task: no protocol outputs for {task!r}")


def tensor_json(name: str, array: np.ndarray, datatype: str) -> dict[str, Any]:
    """One output tensor as the protocol's JSON carries it: its data flattened in row-major order."""
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": array.ravel().tolist()}


def _flat(data: Any) -> list[Any]:
    """The protocol allows a tensor's data flat or nested by its shape: flattened, row-major."""
    if isinstance(data, list) and any(isinstance(item, list) for item in data):
        return [x for item in data for x in (_flat(item) if isinstance(item, list) else [item])]
    return data if isinstance(data, list) else [data]


def request_texts(body: Any) -> list[str]:
    """The texts of an inference request body (parsed JSON): its one BYTES input ``TEXT`` of shape ``[n]``.

    Bad requests raise a one-line `DistilkitError` naming the field (the server answers it with 400, as Triton does).
    """
    if not isinstance(body, dict):
        raise DistilkitError("body: expected a JSON object with an 'inputs' list")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise DistilkitError(f"inputs: expected one input, {TEXT!r}")
    tensor = inputs[0]
    if tensor.get("name") != TEXT:
        raise DistilkitError(f"inputs[0].name: expected {TEXT!r}, got {tensor.get('name')!r}")
    if tensor.get("datatype") != "BYTES":
        raise DistilkitError(f"inputs[0].datatype: expected 'BYTES', got {tensor.get('datatype')!r}")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise DistilkitError(f"inputs[0].shape: expected a list of integers, got {shape!r}")
    if len(shape) != 1:
        raise DistilkitError(f"inputs[0].shape: expected [n] (one dimension of texts), got {shape}")
    texts = _flat(tensor.get("data"))
    if len(texts) != shape[0]:
        raise DistilkitError(f"inputs[0].data: {len(texts)} elements for shape {shape}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DistilkitError(f"inputs[0].data[{i}]: expected a string, got {type(text).__name__}")
    return texts


def requested_outputs(body: dict[str, Any], specs: Sequence[TensorSpec]) -> list[TensorSpec]:
    """The outputs a request asks for (``"outputs": [{"name": ...}]``), all of them when it names none."""
    asked = body.get("outputs")
    if asked is None:
        return list(specs)
    by_name = {spec.name: spec for spec in specs}
    if not isinstance(asked, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in asked):
        raise DistilkitError('outputs: expected a list of {"name": ...}')
    unknown = [o["name"] for o in asked if o["name"] not in by_name]
    if unknown:
        raise DistilkitError(f"outputs: no output named {unknown[0]!r} (this model has {', '.join(by_name)})")
    return [by_name[o["name"]] for o in asked]
