"""The Open Inference Protocol (KServe V2) endpoints: the same client talks to `distilkit serve`, Triton and KServe.

A bundle served as NAME answers ``POST /v2/models/NAME/infer`` with the tensors of `distilkit.runtime.protocol`
(input ``TEXT``; ``LABEL``/``SCORE``/``SCORES``/``TRUNCATED``, ``WORDS``/``ENTITIES`` or
``EMBEDDING``/``TRUNCATED``), exactly what the ensemble NAME of a repository written by `distilkit export-triton`
answers on Triton. Health (``/v2/health/live``, ``/v2/health/ready``), server and model metadata and model
readiness follow the protocol's HTTP/REST binding: health is 200 or 400, errors are ``{"error": "..."}``.

An inference request goes through the server's own path: the same limits (413), the same Unicode check (422), the
model's batcher (503 queue full, 504 timeout), so /v1 and /v2 requests share one queue and one forward pass.
Only JSON tensors are read (not Triton's binary-data extension): texts are small next to their JSON framing.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

import distilkit
from distilkit.core.errors import DistilkitError
from distilkit.runtime.protocol import (
    TEXT_INPUT,
    output_specs,
    output_tensors,
    request_texts,
    requested_outputs,
    tensor_json,
)

VERSION = "1"
INFER = "/v2/models/{name}/infer"
ROUTES = ("/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{name}", "/v2/models/{name}/ready", INFER)
"""Its paths, as the metrics count them (a model's name stands as ``{name}``)."""
# The request body as /docs shows it (and the fuzzer generates it): one BYTES input of texts.
INFER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["inputs"],
                    "properties": {
                        "id": {"type": "string"},
                        "inputs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "shape", "datatype", "data"],
                                "properties": {
                                    "name": {"type": "string", "enum": ["TEXT"]},
                                    "shape": {"type": "array", "items": {"type": "integer"}},
                                    "datatype": {"type": "string", "enum": ["BYTES"]},
                                    "data": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                        },
                        "outputs": {
                            "type": "array",
                            "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                        },
                    },
                },
                "example": {"inputs": [{"name": "TEXT", "shape": [2], "datatype": "BYTES", "data": ["good", "bad"]}]},
            }
        },
    }
}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The protocol's error body, ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def add_routes(app: FastAPI, state: Any, guarded: list[Any]) -> None:
    """Register the /v2 endpoints on `app` over the server's `state` (`distilkit.serve.app.ServerState`);
    inference and model metadata need the bearer token when the server has one, health does not."""
    tags = ["open inference protocol"]

    def health(ok: bool) -> Response:
        return Response(status_code=200 if ok else 400)

    @app.get("/v2", tags=tags)
    async def server_metadata() -> dict[str, Any]:
        """Server name, version and protocol extensions (none)."""
        return {"name": "distilkit", "version": distilkit.__version__, "extensions": []}

    @app.get("/v2/health/live", tags=tags)
    async def live() -> Response:
        """200 while the process is up."""
        return health(True)

    @app.get("/v2/health/ready", tags=tags)
    async def ready() -> Response:
        """200 when every model can take requests, 400 while starting or shutting down."""
        return health(state.ready)

    def served(name: str):
        return state.models.get(name)

    @app.get("/v2/models/{name}", tags=tags, dependencies=guarded)
    async def model_metadata(name: str) -> Response:
        """The model's input (TEXT) and outputs, named and typed as the Triton ensemble of the same bundle has them."""
        model = served(name)
        if model is None:
            return error(404, f"no model named {name!r}")
        width = model.predictor.bundle.output_width
        return JSONResponse(
            {
                "name": name,
                "versions": [VERSION],
                "platform": "distilkit",
                "inputs": [TEXT_INPUT.metadata()],
                "outputs": [spec.metadata() for spec in output_specs(model.task, width)],
            }
        )

    @app.get("/v2/models/{name}/ready", tags=tags, dependencies=guarded)
    async def model_ready(name: str) -> Response:
        """200 when the model can take requests."""
        if served(name) is None:
            return error(404, f"no model named {name!r}")
        return health(state.ready and name in state.batchers)

    @app.post(INFER, tags=tags, dependencies=guarded, openapi_extra=INFER_BODY)
    async def infer(name: str, request: Request) -> Response:
        """Run the model on the texts of input TEXT ``[n]``; the outputs asked for (all by default) come back."""
        model = served(name)
        if model is None:
            return error(404, f"no model named {name!r}")
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as e:
            return error(400, f"body: not valid JSON ({e})")
        try:
            texts = request_texts(body)
            specs = requested_outputs(body, output_specs(model.task, model.predictor.bundle.output_width))
        except DistilkitError as e:
            return error(400, str(e))
        try:
            results = await state.infer(model, texts, [f"inputs[0].data[{i}]" for i in range(len(texts))])
        except HTTPException as e:
            return error(e.status_code, str(e.detail), e.headers)
        tensors = output_tensors(model.task, results)
        answer: dict[str, Any] = {"model_name": name, "model_version": VERSION}
        if isinstance(body.get("id"), str):
            answer["id"] = body["id"]
        answer["outputs"] = [tensor_json(spec.name, tensors[spec.name], spec.datatype) for spec in specs]
        return JSONResponse(answer)
