"""`distilkit serve` as a real process: it binds loopback, answers, and on SIGTERM finishes in-flight requests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from serve_helpers import free_port, make_bundles, start_server


def test_sigterm_finishes_in_flight_requests_then_exits(tmp_path):
    bundle = make_bundles(tmp_path)["sentiment"]
    port = free_port()
    # A long batching wait keeps the request in flight while the signal arrives.
    process = start_server([f"sentiment={bundle}", "--max-wait-ms", "1500", "--max-batch", "8"], port)
    try:
        replies: list[httpx.Response] = []
        client = threading.Thread(
            target=lambda: replies.append(
                httpx.post(f"http://127.0.0.1:{port}/v1/classify", json={"text": "good movie"}, timeout=30)
            )
        )
        client.start()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        client.join(30)
        code = process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    output = process.stdout.read()
    assert [r.status_code for r in replies] == [200], output[-2000:]
    assert replies[0].json()["results"][0]["label"] in ("negative", "positive")
    # uvicorn re-raises the signal once shut down, so the exit status says "terminated by SIGTERM" to the caller.
    assert code in (0, -signal.SIGTERM), output[-2000:]
    assert "Application shutdown complete" in output
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_binds_loopback_by_default(tmp_path):
    bundle = make_bundles(tmp_path)["sentiment"]
    port = free_port()
    process = start_server([str(bundle)], port)
    try:
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    local_addresses = [line.split()[3] for line in listening.splitlines()]
    assert local_addresses == [f"127.0.0.1:{port}"]


def test_serving_imports_neither_torch_nor_transformers():
    code = (
        "import sys; import distilkit.cli, distilkit.serve.server, distilkit.serve.app, distilkit.serve.chat_eval; "
        "print(sorted(m for m in ('torch', 'transformers', 'onnx') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
