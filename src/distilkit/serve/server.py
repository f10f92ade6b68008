"""Run the app under uvicorn: one process, one event loop, graceful shutdown on SIGINT/SIGTERM.

On a signal uvicorn stops accepting connections, waits (up to `graceful_timeout_s`) for in-flight requests to be
answered, then runs the app's shutdown, which drains every model's queue. One worker process on purpose: the batcher
gains by seeing all requests, and a 2-core box has no cores to give a second copy of the model.
"""

from __future__ import annotations

import math
from pathlib import Path

from distilkit.serve.app import build_state, create_app
from distilkit.serve.config import ServeConfig

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def serve(
    config: ServeConfig,
    bundles: list[str],
    chatbot: Path | None = None,
    chat_model: str | None = None,
    log_level: str = "info",
) -> None:
    """Load the bundles and serve them until interrupted."""
    import uvicorn

    state = build_state(config, bundles, chatbot, chat_model)
    app = create_app(state)
    if config.host not in LOOPBACK and config.token is None:
        print(f"warning: listening on {config.host} without a token: anyone who reaches this port can use it")
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level=log_level,
        timeout_graceful_shutdown=math.ceil(config.graceful_timeout_s),
        access_log=False,
        server_header=False,
    )
