"""Triton Python-backend model: the tokenizer before a distilkit bundle's graph, or the decoder after it.

`distilkit export-triton` writes this file as ``NAME-tokenize/1/model.py`` and ``NAME-decode/1/model.py``, beside
the bundle's `bundle.json` and `tokenizer.json`; the config's ``step`` parameter says which of the two it is:

- tokenize: ``TEXT`` ``[n]`` → the graph's int64 inputs ``[rows, width]`` (`FrontEnd.inputs`)
- decode: ``TEXT`` and the graph's output for those rows → the tensors of `distilkit.runtime.protocol`
  (`FrontEnd.results`, then `output_tensors`)

Both are distilkit's own runtime code, so the ensemble answers what `distilkit predict` answers. It needs the
torch-free runtime in the server's Python (`pip install distilkit`) and numpy, nothing else. A bad request (a text
that is not UTF-8, more rows than the graph model takes) fails that request alone, with a one-line error.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from distilkit.core.errors import DistilkitError
from distilkit.runtime.front_end import FrontEnd
from distilkit.runtime.protocol import TEXT, output_tensors


def _texts(request) -> list[str]:
    """The request's texts: Triton hands BYTES tensors over as numpy object arrays of bytes."""
    raw = pb_utils.get_input_tensor_by_name(request, TEXT).as_numpy().reshape(-1)
    texts = []
    for i, value in enumerate(raw):
        try:
            texts.append(value.decode("utf-8") if isinstance(value, bytes) else str(value))
        except UnicodeDecodeError:
            raise DistilkitError(f"{TEXT}[{i}]: not valid UTF-8") from None
    if not texts:
        raise DistilkitError(f"{TEXT}: no texts (send at least one)")
    return texts


def _bytes(array: np.ndarray) -> np.ndarray:
    """A BYTES tensor for Triton: the protocol's object arrays of str, encoded."""
    if array.dtype != np.object_:
        return array
    return np.array([value.encode("utf-8") for value in array.reshape(-1)], dtype=np.object_).reshape(array.shape)


class TritonPythonModel:
    """One step of a bundle's ensemble (see the module docstring)."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        parameters = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        self.step = parameters["step"]
        folder = Path(args["model_repository"]) / args["model_version"]
        self.front_end = FrontEnd(folder, pad_multiple=int(parameters.get("pad_multiple", "1")))
        self.max_rows = int(parameters.get("max_rows", "0"))
        self.model_output = parameters.get("model_output", "")

    def execute(self, requests: list) -> list:
        return [self._answer(request) for request in requests]

    def _answer(self, request):
        try:
            texts = _texts(request)
            tensors = self._tokenize(texts) if self.step == "tokenize" else self._decode(texts, request)
        except DistilkitError as e:  # the request's own fault: 400 on HTTP, as the protocol's other bad requests
            return pb_utils.InferenceResponse(error=pb_utils.TritonError(str(e), pb_utils.TritonError.INVALID_ARG))
        return pb_utils.InferenceResponse([pb_utils.Tensor(name, _bytes(value)) for name, value in tensors.items()])

    def _tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        feeds = self.front_end.inputs(texts)  # {input name: [rows, width]}
        rows = len(feeds["input_ids"])
        if rows > self.max_rows:
            raise DistilkitError(
                f"{len(texts)} texts need {rows} model rows (long texts are read in windows); the model takes at most "
                f"{self.max_rows} per request: send fewer texts at a time"
            )
        return feeds

    def _decode(self, texts: list[str], request) -> dict[str, np.ndarray]:
        outputs = pb_utils.get_input_tensor_by_name(request, self.model_output).as_numpy()  # [rows, ...]
        return output_tensors(self.front_end.task, self.front_end.results(texts, outputs))
