"""ASGI middleware: a hard cap on request bodies, and per-request metrics.

Both are plain ASGI rather than Starlette's `BaseHTTPMiddleware`, which runs the app in a separate task and would
make a body-size refusal race with the endpoint reading the body.
"""

from __future__ import annotations

import json
import time
from typing import Any

from distilkit.serve.metrics import ServerMetrics

Scope = dict[str, Any]


async def _send_json(send, status: int, body: dict) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    """Refuse bodies over `limit` bytes with 413, whether announced by Content-Length or streamed in chunks.

    The body is read (up to the limit) before the app runs and replayed to it, so the endpoint never sees a cut body.
    """

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = {"detail": f"request body over {self.limit} bytes"}
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _send_json(send, 413, too_large)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _send_json(send, 413, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class RequestMetrics:
    """Count every response by endpoint and status, and time it from arrival to the start of the response.

    An exception that escapes the app (a bug) has no response yet when it passes here: Starlette's outermost
    middleware answers it with a 500 on the way out, past this one. That 500 is counted here, or /metrics would
    never show the errors that matter most.
    """

    def __init__(self, app, metrics: ServerMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        started = False

        async def send_and_record(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                self.metrics.observe_request(scope["path"], message["status"], time.perf_counter() - start)
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        except Exception:
            if not started:
                self.metrics.observe_request(scope["path"], 500, time.perf_counter() - start)
            raise
