"""Triton Python-backend model: a bundle's ONNX graph on ONNX Runtime, for a Triton without the onnxruntime backend.

`distilkit export-triton --onnx-backend python` writes this file as ``NAME-model/1/model.py`` beside `model.onnx`,
with the same config as for the onnxruntime backend (inputs, outputs, dynamic batching, instances) but
``backend: "python"``. The Triton server in the ``nvidia-pytriton`` wheel, which installs from PyPI, has only the
Python backend; a production Triton (the NGC container, KServe's Triton runtime) runs the graph on its onnxruntime
backend instead, from the same repository written without the option.

Triton's dynamic batcher hands `execute` the requests it has collected; those whose inputs share a shape run as one
batch, as the onnxruntime backend batches them, and each gets its own rows back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

from distilkit.runtime.bundle import MODEL_FILE, session_options


class TritonPythonModel:
    """The graph of ``model.onnx`` in this version folder, one ONNX Runtime session per instance."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        parameters = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        self.inputs = [tensor["name"] for tensor in config["input"]]
        self.output = config["output"][0]["name"]
        threads = int(parameters.get("intra_op_thread_count", "1"))
        model = Path(args["model_repository"]) / args["model_version"] / MODEL_FILE
        # spin=False: idle threads must not busy-wait on cores the server's other instances and steps need.
        options = session_options(threads, spin=False)
        self.session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])

    def execute(self, requests: list) -> list:
        feeds = [
            {name: pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in self.inputs}
            for request in requests
        ]
        groups: dict[tuple[int, ...], list[int]] = {}  # shape after the batch dimension → requests of that shape
        for i, feed in enumerate(feeds):
            groups.setdefault(feed[self.inputs[0]].shape[1:], []).append(i)
        outputs: list[np.ndarray | None] = [None] * len(requests)
        for members in groups.values():
            batch = {name: np.concatenate([feeds[i][name] for i in members]) for name in self.inputs}
            (values,) = self.session.run([self.output], batch)  # [rows of all members, ...]
            offset = 0
            for i in members:
                rows = len(feeds[i][self.inputs[0]])
                outputs[i] = values[offset : offset + rows]
                offset += rows
        return [pb_utils.InferenceResponse([pb_utils.Tensor(self.output, value)]) for value in outputs]
