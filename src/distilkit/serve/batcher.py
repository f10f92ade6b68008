"""Dynamic batching: requests from many clients become one forward pass per model.

A BERT forward on a CPU costs nearly the same for 1 text as for 16 short ones, so under load the server gains most by
running the texts of concurrent requests together. Each model gets one `Batcher`: requests wait in a bounded queue,
one worker thread takes up to `max_batch` texts (waiting at most `max_wait_ms` after the oldest arrived for more to
come), runs them off the event loop, and hands each request its own results.

The queue is bounded in texts: a request that would overflow it is refused at once (`QueueFull`, which the app turns
into 503 + Retry-After) instead of waiting behind work the server cannot finish in time. A request whose caller gave
up (timeout, disconnect) is cancelled and skipped when its turn comes. `close()` stops new work and lets the worker
finish everything already queued, which is what a graceful shutdown needs.

One request must not fail the others it was batched with: when `run` raises on a batch of several requests, each is
run again alone, so only a request that fails on its own gets the error. That costs one extra pass per request of
the failed batch (at most `max_batch` small ones), paid only when something already went wrong.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from distilkit.core.errors import DistilkitError

log = logging.getLogger("distilkit.serve")

RunFn = Callable[[list[str]], Sequence[Any]]


class QueueFull(Exception):
    """The model's queue cannot take this request now; the caller should retry after `retry_after` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"queue full, retry after {retry_after}s")
        self.retry_after = retry_after


class ShuttingDown(Exception):
    """The batcher is closing and takes no new requests."""


@dataclass
class _Request:
    texts: list[str]
    future: Future
    enqueued: float = field(default_factory=time.perf_counter)


@dataclass
class BatcherStats:
    """Texts waiting now: changed under the batcher's lock, read without it by the metrics gauge (a plain int)."""

    queue_texts: int = 0


class Batcher:
    """Queue texts for `run` and call it on batches of up to `max_batch` texts in one worker thread.

    `run(texts)` must return one result per text, in order. It is only ever called from the worker thread, so a
    `Predictor` (whose input buffers are reused between calls) needs no lock. `on_batch(size, seconds)` is called
    after every batch (metrics).
    """

    def __init__(
        self,
        run: RunFn,
        max_batch: int = 32,
        max_wait_ms: float = 5.0,
        max_queue: int = 256,
        name: str = "model",
        on_batch: Callable[[int, float], None] | None = None,
    ):
        if max_batch < 1:
            raise DistilkitError(f"max_batch: expected a positive number, got {max_batch}")
        if max_queue < max_batch:
            raise DistilkitError(f"max_queue ({max_queue}) must hold at least one batch ({max_batch})")
        if max_wait_ms < 0:
            raise DistilkitError(f"max_wait_ms: expected a number >= 0, got {max_wait_ms}")
        self.run = run
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.name = name
        self.on_batch = on_batch
        self.stats = BatcherStats()
        self._pending: deque[_Request] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._seconds_per_text = 0.0  # running estimate, for Retry-After
        self._thread = threading.Thread(target=self._work, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    @property
    def closing(self) -> bool:
        return self._closing

    def submit(self, texts: Sequence[str]) -> Future:
        """Queue `texts` (one request) and return a future of their results; raises `QueueFull` or `ShuttingDown`."""
        texts = list(texts)
        if len(texts) > self.max_queue:
            raise DistilkitError(f"{len(texts)} texts is more than the queue holds ({self.max_queue})")
        request = _Request(texts, Future())
        with self._cond:
            if self._closing:
                raise ShuttingDown()
            if self.stats.queue_texts + len(texts) > self.max_queue:
                raise QueueFull(self._retry_after())
            self._pending.append(request)
            self.stats.queue_texts += len(texts)
            self._cond.notify()
        return request.future

    def _retry_after(self) -> int:
        """Whole seconds for the current queue to drain at the measured speed (at least 1)."""
        return max(1, int(self.stats.queue_texts * self._seconds_per_text + 0.999))

    def stop_accepting(self) -> None:
        """Refuse new requests from now on; queued ones still run (and no longer wait for a fuller batch)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()

    def close(self, timeout: float | None = None) -> None:
        """Refuse new requests, finish the queued ones, stop the worker."""
        self.stop_accepting()
        self._thread.join(timeout)

    def _take(self) -> list[_Request] | None:
        """Wait for work, then for the batch to fill or the oldest request's wait to run out; None when closed."""
        with self._cond:
            while not self._pending:
                if self._closing:
                    return None
                self._cond.wait()
            deadline = self._pending[0].enqueued + self.max_wait
            while self.stats.queue_texts < self.max_batch and not self._closing:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            taken: list[_Request] = []
            size = 0
            # Whole requests only; a request larger than max_batch goes alone (the predictor splits it itself).
            while self._pending and (not taken or size + len(self._pending[0].texts) <= self.max_batch):
                request = self._pending.popleft()
                self.stats.queue_texts -= len(request.texts)
                taken.append(request)
                size += len(request.texts)
            return taken

    def _work(self) -> None:
        while (taken := self._take()) is not None:
            live = [r for r in taken if r.future.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                results = self._run([t for r in live for t in r.texts])
            except Exception as e:
                if len(live) == 1:
                    live[0].future.set_exception(e)
                    continue
                log.warning("%s: a batch of %d requests failed (%s); running each alone", self.name, len(live), e)
                for r in live:  # each gets its own results, or its own exception (never one shared by all)
                    try:
                        r.future.set_result(self._run(r.texts))
                    except Exception as alone:
                        r.future.set_exception(alone)
                continue
            offset = 0
            for r in live:
                r.future.set_result(results[offset : offset + len(r.texts)])
                offset += len(r.texts)

    def _run(self, texts: list[str]) -> list[Any]:
        """One forward pass: `run(texts)`, checked for one result per text, timed and reported to `on_batch`."""
        start = time.perf_counter()
        results = list(self.run(texts))
        if len(results) != len(texts):
            raise RuntimeError(f"{self.name}: {len(results)} results for {len(texts)} texts")
        seconds = time.perf_counter() - start
        self._seconds_per_text = 0.8 * self._seconds_per_text + 0.2 * seconds / max(1, len(texts))
        if self.on_batch is not None:
            self.on_batch(len(texts), seconds)
        return results
