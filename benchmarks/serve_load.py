"""Load benchmark: `distilkit serve` (dynamic batching, ONNX Runtime) vs a naive FastAPI + transformers server, and
vs Triton Inference Server on a repository written by `distilkit export-triton`.

The servers are started here, on 127.0.0.1 only, one at a time, with the same thread budget, and driven by the same
closed-loop async clients: each client sends one text, waits for the answer, sends the next: to /v1/classify, or with
``--protocol v2`` as an Open Inference Protocol request to /v2/models/model/infer, the request Triton is sent. Every
level is bounded twice, by a request count and by a time limit. Reported per server and client count: requests/s,
p50/p99 latency, status counts and errors, the serving processes' RSS and CPU time (summed over the server and its
children: Triton runs each Python-backend instance as a process of its own; requests answered per CPU-second: on a
machine shared with other work, a server with more threads gets a larger share of the cores, so req/s alone
measures the scheduler as much as the server), and batching: distilkit's histogram of batch sizes (its /metrics),
Triton's graph rows per execution (its nv_inference_count / nv_inference_exec_count).
`--soak-seconds` adds a long run at a fixed request rate sampling RSS, to show no growth.

    python benchmarks/serve_load.py --bundle BUNDLE --model HF_FOLDER --texts TEST.csv --out runs/serve-load \\
        --clients 1,8,64 --requests 3000 --seconds 30 --threads 2
    # distilkit serve vs Triton (nvidia-pytriton's server, installed in its own venv: pip install -e '.[engine]')
    python benchmarks/serve_load.py --bundle BUNDLE --texts TEST.csv --out runs/serve-triton --protocol v2 \\
        --triton-python ENGINE/bin/python --triton-instances 2 --threads 1 --requests 2000 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

HOST = "127.0.0.1"  # never anything else: this tool only loads servers it started itself
HERE = Path(__file__).resolve().parent
BUCKET = re.compile(r'^distilkit_batch_size_bucket\{.*le="([^"]+)".*\}\s+([0-9.e+]+)$')
MODEL = "model"  # the name every server gives the bundle
FALLBACK_TEXTS = [
    "A gripping, beautifully acted film.",
    "The plot was dull and far too long.",
    "I would not watch it again, but the music was lovely.",
    "What a waste of two hours!",
    "Absolutely wonderful from start to finish; the cast is superb and the story moves quickly.",
    "It is neither good nor bad, just forgettable.",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def read_texts(path: Path | None, limit: int = 2000) -> list[str]:
    if path is None:
        return FALLBACK_TEXTS
    from distilkit.data.classification import read_split

    return read_split(path).texts[:limit]


def start(
    cmd: list[str], port: int, log: Path, ready: str = "/readyz", env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start a server process and wait until `ready` answers 200."""
    handle = log.open("w")
    process = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env or {**os.environ})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early, see {log}")
        try:
            if httpx.get(f"http://{HOST}:{port}{ready}", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit(f"server not ready after 300 s, see {log}")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()


def tree(pid: int) -> list[psutil.Process]:
    """The server process and all its children (Triton's Python-backend stubs)."""
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its children (shared pages counted in each, as `ps` does)."""
    return sum(p.memory_info().rss for p in tree(pid)) / 1e6


def pss_mb(pid: int) -> float:
    """Proportional set size of the server and its children: each shared page split among the processes sharing it,
    so the sum is what the server tree costs the machine (Triton's stubs share the Python and library pages)."""
    return sum(p.memory_full_info().pss for p in tree(pid)) / 1e6


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server and its children so far (all their threads)."""
    return sum(t.user + t.system for t in (p.cpu_times() for p in tree(pid)))


@dataclass
class Server:
    """How to start one server and what to send it."""

    name: str
    cmd: list[str]
    port: int
    path: str  # inference endpoint
    bodies: list[bytes]
    ready: str = "/readyz"
    env: dict[str, str] | None = None
    metrics: bool = True  # distilkit's /metrics (the naive server has none)
    triton: bool = False


def scrape(server: Server) -> dict[str, float]:
    """The server's cumulative batching counters: distilkit's batch-size histogram buckets (its /metrics), or per
    Triton model its rows, executions and queue and compute nanoseconds (its statistics extension)."""
    try:
        if not server.triton:
            text = httpx.get(f"http://{HOST}:{server.port}/metrics", timeout=5).text
            return {m[1]: float(m[2]) for line in text.splitlines() if (m := BUCKET.match(line))}
        stats = httpx.get(f"http://{HOST}:{server.port}/v2/models/stats", timeout=5).json()["model_stats"]
    except (httpx.TransportError, ValueError, KeyError):
        return {}
    counters = {}
    for model in stats:
        step = model["name"].removeprefix(f"{MODEL}-") if model["name"] != MODEL else "ensemble"
        times = model["inference_stats"]
        counters[f"{step}.rows"] = float(model["inference_count"])
        counters[f"{step}.executions"] = float(model["execution_count"])
        counters[f"{step}.requests"] = float(times["success"]["count"])
        # Per request: its wait in the model's queue, and the duration of the execution it was part of.
        counters[f"{step}.queue_ns"] = float(times["queue"]["ns"])
        compute = ("compute_input", "compute_infer", "compute_output")
        counters[f"{step}.compute_ns"] = float(sum(times[k]["ns"] for k in compute))
    return counters


def batching(before: dict[str, float], after: dict[str, float], triton: bool) -> dict[str, Any]:
    """What the server batched during one level: distilkit's batch-size histogram, or per Triton model (tokenize,
    graph, decode) the rows per execution, and per request its mean wait in the model's queue and the mean duration
    of the execution it was run in, in ms (Triton's statistics count both per request)."""
    if not triton:
        return histogram(before, after)
    delta = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}
    out = {}
    for step in ("tokenize", "model", "decode"):
        executions, requests = delta.get(f"{step}.executions", 0), delta.get(f"{step}.requests", 0)
        if executions and requests:
            out[step] = {
                "rows_per_exec": round(delta[f"{step}.rows"] / executions, 2),
                "queue_ms": round(delta[f"{step}.queue_ns"] / requests / 1e6, 2),
                "compute_ms": round(delta[f"{step}.compute_ns"] / requests / 1e6, 2),
            }
    return out


def histogram(before: dict[str, float], after: dict[str, float]) -> dict[str, int]:
    """Batches per size range during one level, from two cumulative scrapes ("<=8": batches of 5..8 texts)."""
    out, previous = {}, 0.0
    for le in sorted(after, key=lambda k: float("inf") if k == "+Inf" else float(k)):
        cumulative = after[le] - before.get(le, 0.0)
        if cumulative - previous > 0:
            out[f"<={le}"] = int(cumulative - previous)
        previous = cumulative
    return out


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for JSON POSTs (Content-Length bodies).

    A full client (httpx) costs ~1 ms of Python per request: with 64 clients on 2 cores the load generator, not the
    server, would set the pace. Both servers answer with Content-Length, so this is all the protocol needed.
    """

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        try:
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionError("connection closed by the server")
            length = 0
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            await self.reader.readexactly(length)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            raise
        return int(status_line.split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def bodies_of(texts: list[str], protocol: str) -> list[bytes]:
    """One request body per text: distilkit's /v1 JSON, or the Open Inference Protocol's one BYTES input."""
    if protocol == "v1":
        return [json.dumps({"text": t}).encode() for t in texts]
    return [
        json.dumps({"inputs": [{"name": "TEXT", "shape": [1], "datatype": "BYTES", "data": [t]}]}).encode()
        for t in texts
    ]


async def drive(
    port: int,
    bodies: list[bytes],
    path: str,
    clients: int,
    max_requests: int,
    max_seconds: float,
    rate: float = 0,
):
    """Closed-loop clients until `max_requests` are sent or `max_seconds` pass; `rate` > 0 paces the total req/s."""
    latencies: list[float] = []
    refusals: list[float] = []  # 503s: over capacity they must come back at once
    statuses: Counter = Counter()
    errors: Counter = Counter()
    sent = 0
    start = time.perf_counter()
    deadline = start + max_seconds

    async def client() -> None:
        nonlocal sent
        connection = Connection(port)
        while sent < max_requests and time.perf_counter() < deadline:
            index = sent
            sent += 1
            if rate > 0:
                await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
            t0 = time.perf_counter()
            try:
                status = await asyncio.wait_for(connection.post(path, bodies[index % len(bodies)]), 60)
                statuses[status] += 1
                if status == 200:
                    latencies.append(time.perf_counter() - t0)
                elif status == 503:
                    refusals.append(time.perf_counter() - t0)
                    await asyncio.sleep(0.05)  # a client backing off, as Retry-After asks (shortened)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
                connection.close()
                errors[type(e).__name__] += 1
        connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {
        "clients": clients,
        "requests": sent,
        "ok": len(latencies),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": dict(errors),
        "p99_503_ms": round(float(np.percentile(np.array(refusals) * 1000, 99)), 1) if refusals else None,
    }


def bench_server(server: Server, args) -> dict:
    process = start(server.cmd, server.port, args.out / f"{server.name}.log", server.ready, server.env)
    try:
        asyncio.run(drive(server.port, server.bodies, server.path, 4, 40, 60))  # warm-up, not reported
        levels = []
        for clients in args.clients:
            before, cpu_before = scrape(server) if server.metrics else {}, cpu_seconds(process.pid)
            level = asyncio.run(drive(server.port, server.bodies, server.path, clients, args.requests, args.seconds))
            cpu = cpu_seconds(process.pid) - cpu_before
            level["server_cpu_s"] = round(cpu, 2)
            # Requests answered per CPU-second the server used: its efficiency, whatever share of a busy machine it got.
            level["ok_per_cpu_s"] = round(level["ok"] / max(cpu, 1e-9), 1)
            after = scrape(server) if server.metrics else {}
            level["batch_sizes"] = batching(before, after, server.triton)
            level["rss_mb"] = round(rss_mb(process.pid), 1)
            level["pss_mb"] = round(pss_mb(process.pid), 1)
            level["processes"] = len(tree(process.pid))
            levels.append(level)
            print(server.name, json.dumps(level), flush=True)
        soak = None
        if server.name == "distilkit" and args.soak_seconds:
            soak = soak_run(server, process.pid, args)
    finally:
        stop(process)
    return {"command": " ".join(server.cmd), "levels": levels, "soak": soak}


def soak_run(server: Server, pid: int, args) -> dict:
    """Fixed-rate load for `soak_seconds`, sampling RSS every 10 s (the process should not grow)."""
    samples: list[tuple[float, float]] = []

    async def sample() -> None:
        start = time.perf_counter()
        while time.perf_counter() - start < args.soak_seconds:
            samples.append((round(time.perf_counter() - start, 1), round(rss_mb(pid), 1)))
            await asyncio.sleep(10)

    async def both():
        load = drive(server.port, server.bodies, server.path, 8, 10**9, args.soak_seconds, rate=args.soak_rate)
        return (await asyncio.gather(load, sample()))[0]

    level = asyncio.run(both())
    rss = [r for _, r in samples]
    later = rss[len(rss) // 2 :]
    return {
        **level,
        "rate_target": args.soak_rate,
        "rss_samples": samples,
        "rss_first_mb": rss[0],
        "rss_max_mb": max(rss),
        "rss_last_mb": rss[-1],
        "rss_growth_second_half_mb": round(max(later) - min(later), 1),
    }


def markdown(report: dict) -> str:
    lines = [
        "| server | clients | req/s | p50 ms | p99 ms | req/CPU-s | statuses | errors | RSS MB | PSS MB | batching |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, result in report["servers"].items():
        for lv in result["levels"]:
            lines.append(
                f"| {name} | {lv['clients']} | {lv['requests_per_s']} | {lv['p50_ms']} | {lv['p99_ms']} | "
                f"{lv['ok_per_cpu_s']} | {lv['statuses']} | {lv['errors'] or 0} | {lv['rss_mb']} | {lv['pss_mb']} | "
                f"{lv['batch_sizes'] or '-'} |"
            )
    return "\n".join(lines) + "\n"


def triton_server(args, texts: list[str]) -> Server:
    """Triton over a repository of the bundle (its graph on ONNX Runtime in a Python-backend model: this Triton has no
    onnxruntime backend), `--triton-instances` instances of every model sharing the `--threads` budget (at least one
    thread each), so both servers get the same number of inference threads."""
    from distilkit.export.triton import RepositorySettings, write_repository
    from distilkit.export.triton_local import Engine

    settings = RepositorySettings(
        onnx_backend="python",
        max_batch=args.max_batch,
        queue_delay_us=int(args.max_wait_ms * 1000),
        instances=args.triton_instances,
        threads=max(1, args.threads // args.triton_instances),
        pad_multiple=args.triton_pad_multiple,
    )
    write_repository([f"{MODEL}={args.bundle}"], args.out / "triton-repo", settings)
    port = free_port()
    cmd, env = Engine.find(args.triton_python).command(
        args.out / "triton-repo", args.out / "triton-work", port, free_port()
    )
    return Server(
        "triton",
        cmd,
        port,
        f"/v2/models/{MODEL}/infer",
        bodies_of(texts, "v2"),
        ready="/v2/health/ready",
        env=env,
        triton=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True, help="sequence-classification bundle for distilkit")
    parser.add_argument("--model", type=Path, help="the same model as a Hugging Face folder, for the naive server")
    parser.add_argument("--texts", type=Path, default=None, help="CSV/TSV/JSONL split whose texts are sent")
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 64])
    parser.add_argument("--requests", type=int, default=3000, help="most requests per level")
    parser.add_argument("--seconds", type=float, default=30, help="longest time per level")
    parser.add_argument("--threads", type=int, default=2, help="inference threads of each server (Triton: shared)")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--forward-batch", type=int, default=8, help="distilkit's texts per ONNX Runtime call")
    parser.add_argument("--max-wait-ms", type=float, default=5, help="batching wait (Triton: its queue delay)")
    parser.add_argument("--max-queue", type=int, default=256, help="distilkit's queue bound (small: over capacity)")
    parser.add_argument("--protocol", choices=("v1", "v2"), default="v1", help="distilkit's endpoint: /v1 or /v2")
    parser.add_argument("--triton-python", type=Path, help="python of the venv with nvidia-pytriton: bench Triton")
    parser.add_argument("--triton-instances", type=int, default=2, help="Triton instances of every model")
    parser.add_argument("--triton-pad-multiple", type=int, default=16, help="token rows padded to a multiple of this")
    parser.add_argument("--soak-seconds", type=float, default=0, help="after the levels: a fixed-rate run this long")
    parser.add_argument("--soak-rate", type=float, default=50, help="requests/s during the soak")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    texts = read_texts(args.texts)
    servers = {}
    port = free_port()
    distilkit_cmd = [sys.executable, "-m", "distilkit", "serve", f"{MODEL}={args.bundle}", "--port", str(port)]
    distilkit_cmd += ["--threads", str(args.threads), "--max-batch", str(args.max_batch)]
    distilkit_cmd += ["--forward-batch", str(args.forward_batch)]
    distilkit_cmd += ["--max-wait-ms", str(args.max_wait_ms), "--max-queue", str(args.max_queue)]
    distilkit_cmd += ["--max-texts", str(min(64, args.max_queue))]
    path = "/v1/classify" if args.protocol == "v1" else f"/v2/models/{MODEL}/infer"
    distilkit = Server("distilkit", distilkit_cmd, port, path, bodies_of(texts, args.protocol))
    servers["distilkit"] = bench_server(distilkit, args)
    if args.triton_python is not None:
        servers["triton"] = bench_server(triton_server(args, texts), args)
    if args.model is not None:
        port = free_port()
        naive_cmd = [sys.executable, str(HERE / "naive_server.py"), str(args.model), "--port", str(port)]
        naive_cmd += ["--threads", str(args.threads)]
        naive = Server("naive", naive_cmd, port, "/v1/classify", bodies_of(texts, "v1"), metrics=False)
        servers["naive"] = bench_server(naive, args)
    report = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "texts": len(texts),
        "cpu_count": os.cpu_count(),
        "servers": servers,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "report.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
