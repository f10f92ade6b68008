"""Load benchmark: `distilkit serve` (dynamic batching, ONNX Runtime) vs a naive FastAPI + transformers server.

Both servers are started here, on 127.0.0.1 only, one at a time, with the same thread budget, and driven by the same
closed-loop async clients: each client sends one text to /v1/classify, waits for the answer, sends the next. Every
level is bounded twice, by a request count and by a time limit. Reported per server and client count: requests/s,
p50/p99 latency, status counts and errors, the serving process's RSS and CPU time (requests answered per CPU-second:
on a machine shared with other work, a server with more threads gets a larger share of the cores, so req/s alone
measures the scheduler as much as the server), and (distilkit only, from its /metrics) the histogram of batch sizes.
`--soak-seconds` adds a long run at a fixed request rate sampling RSS, to show no growth.

    python benchmarks/serve_load.py --bundle BUNDLE --model HF_FOLDER --texts TEST.csv --out runs/serve-load \\
        --clients 1,8,64 --requests 3000 --seconds 30 --threads 2
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
from pathlib import Path

import httpx
import numpy as np
import psutil

HOST = "127.0.0.1"  # never anything else: this tool only loads servers it started itself
HERE = Path(__file__).resolve().parent
BUCKET = re.compile(r'^distilkit_batch_size_bucket\{.*le="([^"]+)".*\}\s+([0-9.e+]+)$')
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


def start(cmd: list[str], port: int, log: Path) -> subprocess.Popen:
    """Start a server process and wait until its /readyz answers 200."""
    handle = log.open("w")
    process = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ})
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early, see {log}")
        try:
            if httpx.get(f"http://{HOST}:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit(f"server not ready after 180 s, see {log}")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 1e6


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server process so far (all its threads)."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def batch_buckets(port: int) -> dict[str, float]:
    """Cumulative batch-size histogram buckets from distilkit's /metrics (empty for the naive server)."""
    try:
        text = httpx.get(f"http://{HOST}:{port}/metrics", timeout=5).text
    except httpx.TransportError:
        return {}
    return {m[1]: float(m[2]) for line in text.splitlines() if (m := BUCKET.match(line))}


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


async def drive(port: int, texts: list[str], clients: int, max_requests: int, max_seconds: float, rate: float = 0):
    """Closed-loop clients until `max_requests` are sent or `max_seconds` pass; `rate` > 0 paces the total req/s."""
    bodies = [json.dumps({"text": t}).encode() for t in texts]
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
                status = await asyncio.wait_for(connection.post("/v1/classify", bodies[index % len(bodies)]), 60)
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


def bench_server(name: str, cmd: list[str], port: int, args, texts: list[str]) -> dict:
    process = start(cmd, port, args.out / f"{name}.log")
    try:
        asyncio.run(drive(port, texts, 4, 40, 60))  # warm-up, not reported
        levels = []
        for clients in args.clients:
            before, cpu_before = batch_buckets(port), cpu_seconds(process.pid)
            level = asyncio.run(drive(port, texts, clients, args.requests, args.seconds))
            cpu = cpu_seconds(process.pid) - cpu_before
            level["server_cpu_s"] = round(cpu, 2)
            # Requests answered per CPU-second the server used: its efficiency, whatever share of a busy machine it got.
            level["ok_per_cpu_s"] = round(level["ok"] / max(cpu, 1e-9), 1)
            level["batch_sizes"] = histogram(before, batch_buckets(port))
            level["rss_mb"] = round(rss_mb(process.pid), 1)
            levels.append(level)
            print(name, json.dumps(level), flush=True)
        soak = soak_run(port, process.pid, texts, args) if name == "distilkit" and args.soak_seconds else None
    finally:
        stop(process)
    return {"command": " ".join(cmd), "levels": levels, "soak": soak}


def soak_run(port: int, pid: int, texts: list[str], args) -> dict:
    """Fixed-rate load for `soak_seconds`, sampling RSS every 10 s (the process should not grow)."""
    samples: list[tuple[float, float]] = []

    async def sample() -> None:
        start = time.perf_counter()
        while time.perf_counter() - start < args.soak_seconds:
            samples.append((round(time.perf_counter() - start, 1), round(rss_mb(pid), 1)))
            await asyncio.sleep(10)

    async def both():
        load = drive(port, texts, 8, 10**9, args.soak_seconds, rate=args.soak_rate)
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
        "| server | clients | req/s | p50 ms | p99 ms | req/CPU-s | statuses | errors | RSS MB | batch sizes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, result in report["servers"].items():
        for lv in result["levels"]:
            lines.append(
                f"| {name} | {lv['clients']} | {lv['requests_per_s']} | {lv['p50_ms']} | {lv['p99_ms']} | "
                f"{lv['ok_per_cpu_s']} | {lv['statuses']} | {lv['errors'] or 0} | {lv['rss_mb']} | "
                f"{lv['batch_sizes'] or '-'} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True, help="sequence-classification bundle for distilkit")
    parser.add_argument("--model", type=Path, help="the same model as a Hugging Face folder, for the naive server")
    parser.add_argument("--texts", type=Path, default=None, help="CSV/TSV/JSONL split whose texts are sent")
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 64])
    parser.add_argument("--requests", type=int, default=3000, help="most requests per level")
    parser.add_argument("--seconds", type=float, default=30, help="longest time per level")
    parser.add_argument("--threads", type=int, default=2, help="inference threads of each server")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--forward-batch", type=int, default=8, help="distilkit's texts per ONNX Runtime call")
    parser.add_argument("--max-wait-ms", type=float, default=5)
    parser.add_argument("--max-queue", type=int, default=256, help="distilkit's queue bound (small: over capacity)")
    parser.add_argument("--soak-seconds", type=float, default=0, help="after the levels: a fixed-rate run this long")
    parser.add_argument("--soak-rate", type=float, default=50, help="requests/s during the soak")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    texts = read_texts(args.texts)
    servers = {}
    port = free_port()
    distilkit_cmd = [sys.executable, "-m", "distilkit", "serve", f"model={args.bundle}", "--port", str(port)]
    distilkit_cmd += ["--threads", str(args.threads), "--max-batch", str(args.max_batch)]
    distilkit_cmd += ["--forward-batch", str(args.forward_batch)]
    distilkit_cmd += ["--max-wait-ms", str(args.max_wait_ms), "--max-queue", str(args.max_queue)]
    distilkit_cmd += ["--max-texts", str(min(64, args.max_queue))]
    servers["distilkit"] = bench_server("distilkit", distilkit_cmd, port, args, texts)
    if args.model is not None:
        port = free_port()
        naive_cmd = [sys.executable, str(HERE / "naive_server.py"), str(args.model), "--port", str(port)]
        naive_cmd += ["--threads", str(args.threads)]
        servers["naive"] = bench_server("naive", naive_cmd, port, args, texts)
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
