"""The FastAPI app: inference endpoints over per-model batchers, health, metrics, docs and the try-it page.

Inference never runs on the event loop: an endpoint checks the request, queues its texts with the model's `Batcher`
and awaits the result, so thousands of waiting clients cost the loop nothing. What can go wrong has one status each:
401 no or wrong token, 404 unknown model, 413 body / texts / text too large, 422 malformed JSON or fields or a text
that is not valid Unicode, 500 the model failed on this request's texts (or a bug), 503 queue full or shutting down
(with Retry-After, answered at once), 504 not answered within the timeout.

The same models answer the Open Inference Protocol under /v2 (`oip`), through the same queues.

One request must never break another's (issue 18): a text no tokenizer can encode is refused before it is queued, a
batch whose forward pass fails is retried request by request (see `Batcher`), and every answer, a 500 included, is
counted in /metrics and has a `{"detail": "..."}` body.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, Response

from distilkit.core.errors import DistilkitError
from distilkit.serve import oip
from distilkit.serve.batcher import Batcher, QueueFull, ShuttingDown
from distilkit.serve.chatbot import Chatbot
from distilkit.serve.config import ServeConfig
from distilkit.serve.metrics import ServerMetrics
from distilkit.serve.middleware import BodyLimit, RequestMetrics
from distilkit.serve.models import ServedModel
from distilkit.serve.page import render_page
from distilkit.serve.schemas import (
    ChatRequest,
    ChatResponse,
    ClassifyResponse,
    EmbedResponse,
    ModelInfo,
    ModelsResponse,
    NerResponse,
    Problem,
    TextsRequest,
)

ENDPOINTS = {
    "/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/models",
    "/v1/classify",
    "/v1/ner",
    "/v1/embed",
    "/v1/chat",
    *oip.ROUTES,
}
log = logging.getLogger("distilkit.serve")
TASK_OF = {"classify": "sequence-classification", "ner": "token-classification", "embed": "embedding"}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in {
        401: "Missing or wrong bearer token",
        404: "No such model, or none of this task",
        413: "Body, number of texts or a text too large",
        500: "The model failed on this request's texts (the rest of its batch is still answered), or a server bug",
        503: "Queue full or shutting down; retry after the Retry-After header's seconds",
        504: "Not answered within the server's timeout",
    }.items()
}
# FastAPI documents its own 422 (a list of field errors); a text that is not valid Unicode is a 422 too, but one line.
UNICODE_422 = {
    "responses": {
        "422": {
            "description": "Malformed JSON or fields (detail lists the errors), or a text that is not valid Unicode "
            "(detail is one line naming it, e.g. `text[3]: not valid Unicode (lone surrogate at character 0)`)"
        }
    }
}


def invalid_unicode(text: str) -> str | None:
    """Why `text` cannot be tokenized, or None when it can.

    JSON may carry a lone UTF-16 surrogate (``"\\ud800"``) and Python's parser keeps it, but it is not a character:
    the tokenizer refuses the whole batch it is in. Only surrogates fail UTF-8 encoding, and the JSON parser has
    already joined the pairs, so what fails is a lone one. NUL and other control characters are valid Unicode and
    are served (BERT's normalizer drops them).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"not valid Unicode (lone surrogate at character {e.start})"
    return None


def _finite(value: Any) -> Any:
    """JSON has no NaN or Infinity, though Python's parser reads them: echoed back in a 422, they become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


@dataclass
class ServerState:
    """Everything one server holds: its models, their batchers (created when the app starts), the bot, metrics."""

    config: ServeConfig
    models: dict[str, ServedModel]
    chatbot: Chatbot | None = None
    chat_model: str | None = None
    batchers: dict[str, Batcher] = field(default_factory=dict)
    metrics: ServerMetrics = field(default_factory=lambda: ServerMetrics(ENDPOINTS))

    def start(self) -> None:
        cfg = self.config
        for name, served in self.models.items():
            batcher = Batcher(
                served.run,
                max_batch=cfg.max_batch,
                max_wait_ms=cfg.max_wait_ms,
                max_queue=cfg.max_queue,
                name=name,
                on_batch=self.metrics.batch_callback(name),
            )
            self.metrics.watch_queue(batcher)
            self.batchers[name] = batcher

    def close(self) -> None:
        """Refuse new work on every model, then wait for each queue to drain (graceful shutdown)."""
        for batcher in self.batchers.values():  # all first: no model keeps accepting while another drains
            batcher.stop_accepting()
        for batcher in self.batchers.values():
            batcher.close(self.config.graceful_timeout_s)

    @property
    def ready(self) -> bool:
        return len(self.batchers) == len(self.models) and not any(b.closing for b in self.batchers.values())

    def pick(self, task: str, name: str | None) -> ServedModel:
        if name is not None:
            served = self.models.get(name)
            if served is None:
                raise HTTPException(404, f"no model named {name!r} (GET /v1/models lists them)")
            if served.task != task:
                raise HTTPException(404, f"model {name!r} is a {served.task} bundle, this endpoint needs {task}")
            return served
        for served in self.models.values():
            if served.task == task:
                return served
        raise HTTPException(404, f"this server holds no {task} bundle")

    def check_texts(self, texts: list[str], fields: list[str]) -> None:
        """Refuse what the model should not see, before it joins a batch: too many or too long texts (413), and a
        text that is not valid Unicode (422, named by its field, e.g. ``text[3]``), which would fail its batch."""
        cfg = self.config
        if not texts:  # nothing to answer: a client bug (an empty batch), not a request to answer with []
            raise HTTPException(422, "text: an empty list (send at least one text)")
        if len(texts) > cfg.max_texts:
            raise HTTPException(413, f"{len(texts)} texts in one request; the limit is {cfg.max_texts}")
        for i, (text, name) in enumerate(zip(texts, fields, strict=True)):
            if len(text) > cfg.max_text_chars:
                raise HTTPException(413, f"text {i} has {len(text)} characters; the limit is {cfg.max_text_chars}")
            if (why := invalid_unicode(text)) is not None:
                raise HTTPException(422, f"{name}: {why}")

    async def infer(self, served: ServedModel, texts: list[str], fields: list[str]) -> list[Any]:
        """Queue `texts` (named `fields` in a refusal) on the model's batcher and wait (bounded) for their results.

        A model failure is this request's own: the batcher has already retried it alone, so the detail says so in one
        line and the traceback goes to the server's log, not to the client.
        """
        self.check_texts(texts, fields)
        if not texts:
            return []
        batcher = self.batchers.get(served.name)
        if batcher is None:
            raise HTTPException(503, "starting up", headers={"Retry-After": "1"})
        try:
            future = batcher.submit(texts)
        except QueueFull as e:
            self.metrics.rejected.labels(served.name, "queue_full").inc()
            raise HTTPException(503, "queue full", headers={"Retry-After": str(e.retry_after)}) from None
        except ShuttingDown:
            self.metrics.rejected.labels(served.name, "shutting_down").inc()
            raise HTTPException(503, "shutting down", headers={"Retry-After": "1"}) from None
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.config.timeout_s)
        except asyncio.TimeoutError:
            future.cancel()  # dropped from the queue if its batch has not started
            self.metrics.rejected.labels(served.name, "timeout").inc()
            raise HTTPException(504, f"not answered within {self.config.timeout_s:g} s") from None
        except Exception as e:
            log.error("model %r failed on a request of %d texts", served.name, len(texts), exc_info=e)
            detail = f"model {served.name!r} failed on this request ({type(e).__name__}); the server log has why"
            raise HTTPException(500, detail) from None


def _texts(body: TextsRequest) -> tuple[list[str], list[str]]:
    """The body's texts, and how a refusal names each: `text` when one was sent, `text[i]` in a list."""
    if isinstance(body.text, str):
        return [body.text], ["text"]
    return list(body.text), [f"text[{i}]" for i in range(len(body.text))]


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


def create_app(state: ServerState) -> FastAPI:
    """The app over `state`; its lifespan starts the batchers and, on shutdown, drains them."""
    cfg = state.config

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            await asyncio.to_thread(state.close)

    app = FastAPI(
        title="distilkit serve",
        summary="Distilled BERT-family bundles behind a batched HTTP API.",
        version="1",
        lifespan=lifespan,
    )
    app.state.server = state

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        """FastAPI's 422, written so it cannot fail: its errors echo the input, which may hold a lone surrogate (no
        UTF-8 for it) or NaN (no JSON for it), and FastAPI's own handler would turn that 422 into a 500."""
        body = json.dumps({"detail": _finite(jsonable_encoder(exc.errors()))}, allow_nan=False)
        return Response(body, 422, media_type="application/json")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        """A bug's 500 as a one-line problem. Starlette's outermost middleware sends it, then re-raises, so uvicorn
        still logs the traceback; `RequestMetrics` counts it."""
        body = '{"detail": "internal server error; the server log has why"}'
        return Response(body, 500, media_type="application/json")

    def authorised(request: Request) -> None:
        if cfg.token is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), cfg.token.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    guarded = [Depends(authorised)]

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up (liveness)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: ERRORS[503]})
    async def readyz() -> Response:
        """Every model's batcher is running and the server is not shutting down (readiness)."""
        if state.ready:
            return Response('{"status":"ready"}', media_type="application/json")
        return Response('{"status":"not ready"}', status_code=503, media_type="application/json")

    @app.get("/metrics", tags=["health"], dependencies=guarded, responses={401: ERRORS[401]})
    async def metrics() -> Response:
        """Prometheus text format: requests, latency, batch sizes, queue depth, refusals."""
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/v1/models", tags=["models"], dependencies=guarded, responses={401: ERRORS[401]})
    async def models() -> ModelsResponse:
        """The bundles this server holds, by name, and the chatbot if any."""
        infos = [
            ModelInfo(name=m.name, task=m.task, labels=m.predictor.labels, max_tokens=m.max_tokens)
            for m in state.models.values()
        ]
        return ModelsResponse(models=infos, chatbot=state.chatbot.spec.name if state.chatbot else None)

    inference = {"tags": ["inference"], "dependencies": guarded, "responses": ERRORS, "openapi_extra": UNICODE_422}

    async def run(endpoint: str, body: TextsRequest) -> tuple:
        """The model an inference endpoint serves (by task and optional name), and its batched results."""
        served = state.pick(TASK_OF[endpoint], body.model)
        return served, await state.infer(served, *_texts(body))

    @app.post("/v1/classify", **inference)
    async def classify(body: TextsRequest) -> ClassifyResponse:
        """Label each text (sequence classification): best label, its probability, all probabilities."""
        start = time.perf_counter()
        served, results = await run("classify", body)
        return ClassifyResponse(model=served.name, max_tokens=served.max_tokens, results=results, latency_ms=_ms(start))

    @app.post("/v1/ner", **inference)
    async def ner(body: TextsRequest) -> NerResponse:
        """Tag each text's words and decode its entities, with character offsets (as `distilkit predict --task ner`).

        Texts longer than max_tokens are tagged in windows of whole words, not cut."""
        start = time.perf_counter()
        served, results = await run("ner", body)
        return NerResponse(model=served.name, max_tokens=served.max_tokens, results=results, latency_ms=_ms(start))

    @app.post("/v1/embed", **inference)
    async def embed(body: TextsRequest) -> EmbedResponse:
        """Sentence embeddings (as the bundle was exported: mean-pooled, usually unit length)."""
        start = time.perf_counter()
        served, results = await run("embed", body)
        return EmbedResponse(
            model=served.name,
            max_tokens=served.max_tokens,
            dim=served.predictor.bundle.output_width,
            embeddings=[row.tolist() for row, _ in results],
            truncated=[cut for _, cut in results],
            latency_ms=_ms(start),
        )

    @app.post("/v1/chat", **inference)
    async def chat(body: ChatRequest) -> ChatResponse:
        """The support bot's answer: best intent's response above the threshold, else the fallback."""
        start = time.perf_counter()
        if state.chatbot is None or state.chat_model is None:
            raise HTTPException(404, "this server has no chatbot (start it with --chatbot FILE)")
        served = state.models[state.chat_model]
        ((vector, _),) = await state.infer(served, [body.message], ["message"])
        answer = state.chatbot.reply(vector)
        return ChatResponse(
            model=served.name,
            max_tokens=served.max_tokens,
            threshold=state.chatbot.spec.threshold,
            latency_ms=_ms(start),
            **answer,
        )

    oip.add_routes(app, state, guarded)

    tasks = sorted({m.task for m in state.models.values()})
    page = render_page(tasks, chat=state.chatbot is not None, needs_token=cfg.token is not None)

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    if cfg.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cfg.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimit, limit=cfg.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=state.metrics)  # outermost: counts 413s too
    return app


def build_state(
    config: ServeConfig,
    bundles: list[str],
    chatbot: Path | None = None,
    chat_model: str | None = None,
) -> ServerState:
    """Load the bundles (and the bot, indexed with its embedding bundle) into a state `create_app` can serve."""
    from distilkit.serve.models import load_models

    models = load_models(bundles, config.forward_batch, config.threads)
    if chatbot is None:
        if chat_model is not None:
            raise DistilkitError("chat_model: only meaningful with --chatbot")
        return ServerState(config, models)
    embedders = [m.name for m in models.values() if m.task == "embedding"]
    if chat_model is None:
        if not embedders:
            raise DistilkitError("--chatbot needs an embedding bundle among the served bundles")
        chat_model = embedders[0]
    if chat_model not in embedders:
        raise DistilkitError(f"chat_model: {chat_model!r} is not a served embedding bundle ({embedders})")
    bot = Chatbot.load(chatbot, models[chat_model].predictor.embed)
    return ServerState(config, models, bot, chat_model)
