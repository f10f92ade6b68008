"""Settings of one server, with safe defaults: loopback only, bounded queue, bounded bodies and texts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from distilkit.core.errors import DistilkitError

TOKEN_ENV = "DISTILKIT_SERVE_TOKEN"


@dataclass
class ServeConfig:
    """What `distilkit serve` exposes as options.

    - ``max_batch`` / ``max_wait_ms``: a batch runs when it holds this many texts or its oldest text has waited
      this long, whichever comes first.
    - ``forward_batch``: texts per ONNX Runtime call. A collected batch is sorted by length and cut into calls of this
      size, so short texts are not padded to a long one's length (on a CPU, padding costs as much as real tokens).
      Small calls also keep the activations small: with one thread, a 3-layer INT8 bundle at 64 clients served
      518 req/s at 146 MB RSS with calls of 2 texts, 501 req/s at 151 MB with 4, 469 at 159 MB with 8 and 414 at
      176 MB with 16 (sentiment snippets, `benchmarks/serve_load.py`, idle 2-core machine). The batch still
      matters: it is one hand-off from the event loop to the worker thread for up to `max_batch` texts.
    - ``max_queue``: texts waiting per model; a request that would overflow it gets 503 + Retry-After at once.
    - ``timeout_s``: a request not answered in this time gets 504 (its texts are dropped if not yet running).
    - ``max_body_bytes`` (413), ``max_texts`` per request (413), ``max_text_chars`` per text (413); texts longer
      than the bundle's ``max_length`` tokens are cut at the end, and each result says whether it was.
    - ``token``: when set, `/v1/*` and `/metrics` need ``Authorization: Bearer <token>``.
    - ``cors_origins``: no CORS headers at all unless origins are listed.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    max_batch: int = 32
    forward_batch: int = 2
    max_wait_ms: float = 5.0
    max_queue: int = 256
    timeout_s: float = 10.0
    max_body_bytes: int = 1 << 20
    max_texts: int = 64
    max_text_chars: int = 10_000
    threads: int | None = None
    token: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    graceful_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        positive = ("max_batch", "forward_batch", "max_queue", "max_body_bytes", "max_texts", "max_text_chars")
        for name in positive:
            if getattr(self, name) < 1:
                raise DistilkitError(f"{name}: expected a positive number, got {getattr(self, name)}")
        if self.timeout_s <= 0:
            raise DistilkitError(f"timeout_s: expected a positive number of seconds, got {self.timeout_s}")
        if self.max_texts > self.max_queue:
            raise DistilkitError(f"max_texts ({self.max_texts}) cannot exceed max_queue ({self.max_queue})")
        if self.token is not None and not self.token.strip():
            raise DistilkitError("token: an empty token would accept everyone; leave it unset instead")

    @classmethod
    def with_env_token(cls, **kwargs) -> ServeConfig:
        """The config, taking the token from $DISTILKIT_SERVE_TOKEN when none is given (keeps it out of `ps`)."""
        if kwargs.get("token") is None and os.environ.get(TOKEN_ENV):
            kwargs["token"] = os.environ[TOKEN_ENV]
        return cls(**kwargs)
