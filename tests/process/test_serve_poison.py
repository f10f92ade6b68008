"""The poison text of issue 18 against real processes: a server on 127.0.0.1 and `distilkit predict` on a pipe.

A text that is not valid Unicode used to fail its whole batch with an uncounted 500; over loopback, among 30
concurrent valid requests, it must be the only one refused (422), and /metrics must count every answer. The CLI
reads the same poison as bytes that are not UTF-8 and must say where, on one line, with exit code 2.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from serve_helpers import SOURCE, free_port, make_bundles, request_counts, start_server

from distilkit.core.errors import DistilkitError
from distilkit.runtime.cli import read_texts

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


def run_predict(module: str, bundle: Path, *args: str | bytes, stdin: bytes = b"") -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", module, *(["predict"] if module == "distilkit" else []), str(bundle), *args]
    env = {**os.environ, "PYTHONPATH": str(SOURCE), "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, input=stdin, capture_output=True, env=env, timeout=120)


@pytest.mark.parametrize("module", ["distilkit", "distilkit.runtime"])
def test_predict_reads_bytes_that_are_not_utf8_as_a_one_line_error(bundles, tmp_path, module):
    bundle = bundles["sentiment"]
    cases = {
        "a stray byte, blank line counted": (b"good movie\n\nbad \xff film\n", "stdin:3"),
        "an encoded lone surrogate": (b"good\n\xed\xa0\x80 film\n", "stdin:2"),
        "a cut multi-byte character": (b"fine\r\nnice\r\ncaf\xc3", "stdin:3"),
    }
    for name, (data, where) in cases.items():
        done = run_predict(module, bundle, stdin=data)
        assert (done.returncode, done.stderr.decode(), done.stdout) == (2, f"error: {where}: not valid UTF-8\n", b""), (
            name
        )
    texts = tmp_path / "texts.txt"
    texts.write_bytes(b"good\nfine\n\xed\xb0\x80\n")
    done = run_predict(module, bundle, "--file", str(texts))
    assert (done.returncode, done.stderr.decode()) == (2, f"error: {texts}:3: not valid UTF-8\n")
    done = run_predict(module, bundle, "good", b"bad \xff")  # argv bytes arrive as surrogate escapes
    assert (done.returncode, done.stderr.decode()) == (2, "error: text argument 2: not valid UTF-8\n")
    done = run_predict(module, bundle, stdin="good café\n\nnaïve film\n".encode())
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode()[-2000:]
    assert [line.count(b'"text"') for line in done.stdout.splitlines()] == [1, 1]


def test_a_text_stream_holding_a_surrogate_names_its_line():
    """A str stream has no bytes to decode (io.StringIO; Python's surrogate escapes): its surrogates are refused."""
    with pytest.raises(DistilkitError, match=r"^stdin:3: not valid UTF-8$"):
        read_texts(None, None, io.StringIO("good\n\nbad \udcff film\n"))
    assert read_texts(None, None, io.StringIO("good\n\n fine \n")) == ["good", " fine "]
