"""The poison text of issue 18 against a real server on 127.0.0.1.

A text that is not valid Unicode used to fail its whole batch with an uncounted 500; over loopback, among 30
concurrent valid requests, it must be the only one refused (422), and /metrics must count every answer.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from serve_helpers import free_port, make_bundles, request_counts, start_server

POISON = '{"text": "\\ud800 film"}'  # valid JSON: a lone UTF-16 surrogate, escaped


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    return make_bundles(tmp_path_factory.mktemp("poison-process"))


async def poison_among_valid(base: str, valid: int) -> tuple[httpx.Response, list[httpx.Response], str]:
    """Send `valid` good requests and the poison at once (so they share batches), then read /metrics."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        texts = [f"the actor number {i} was good" for i in range(valid)]
        good = [client.post("/v1/classify", json={"text": t}) for t in texts]
        bad = client.post("/v1/classify", content=POISON, headers={"Content-Type": "application/json"})
        poisoned, *replies = await asyncio.gather(bad, *good)
        return poisoned, replies, (await client.get("/metrics")).text


def test_a_poison_text_among_30_concurrent_requests_fails_alone(bundles, tmp_path):
    port = free_port()
    args = [f"{name}={path}" for name, path in bundles.items()]
    # A batch waits up to 300 ms to fill: the 31 requests arrive within it and run together.
    log = tmp_path / "server.log"  # a file, not a pipe nobody reads: 31 tracebacks would fill a pipe and stall it
    process = start_server([*args, "--max-batch", "32", "--max-wait-ms", "300"], port, log=log)
    try:
        poisoned, replies, metrics = asyncio.run(
            asyncio.wait_for(poison_among_valid(f"http://127.0.0.1:{port}", 30), 60)
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
    output = log.read_text(encoding="utf-8", errors="replace")
    assert [r.status_code for r in replies] == [200] * 30, output[-3000:]
    assert all(r.json()["results"][0]["label"] in ("negative", "positive") for r in replies)
    assert poisoned.status_code == 422, output[-3000:]
    assert poisoned.json() == {"detail": "text: not valid Unicode (lone surrogate at character 0)"}
    counts = request_counts(metrics)
    assert counts[("/v1/classify", "200")] == 30 and counts[("/v1/classify", "422")] == 1
    assert sum(n for (endpoint, _), n in counts.items() if endpoint == "/v1/classify") == 31
    assert "Traceback" not in output
