"""The bench worker: one long-lived process per model, driven over stdin/stdout JSON lines, so memory is per model.

Run as ``python -m distilkit.bench.measure``. The parent (`distilkit.bench.run_bench`, through `Worker`) sends one
JSON object per line and reads one reply per line:

- ``{"cmd": "load", "path": DIR, "threads": N, "mode": "tensors"|"text", "test_file": FILE|null,
  "max_length": L, "texts": {setting: [str, ...]}|null}`` opens the model with `distilkit.bench.backends` (a PyTorch
  classifier, or a bundle when DIR holds bundle.json) on N threads and prepares the inputs of every setting of
  `SETTINGS` from ``texts`` (strings of exactly the setting's token count, built by the parent) or from random token
  ids when there are none. Replies with the backend kind, params, RSS after loading and versions.
- ``{"cmd": "time", "setting": "b1_s128", "n": K}`` runs K timed calls of that setting and replies with their wall
  times in seconds (``seconds``; for a bundle timed from text also ``session_seconds``, the bare session call).
- ``{"cmd": "rss"}`` replies with the peak RSS so far (``ru_maxrss``) and the current RSS.
- ``{"cmd": "eval"}`` scores the model on the test file (accuracy, macro-F1, per class, confusion matrix; token
  classifiers: token accuracy and entity P/R/F1).
- ``{"cmd": "quit"}`` exits.

Every reply has ``"ok"``; a failed command replies ``{"ok": false, "error": ONE_LINE}`` and the worker keeps serving.
The protocol uses a private copy of the original stdout: the worker points fd 1 at stderr first, so a library that
prints cannot corrupt the replies.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from distilkit.bench.backends import SETTINGS, one_line
from distilkit.core.errors import DistilkitError

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".onnx_data", ".onnx.data")
NOT_WEIGHTS = {"training_args.bin"}


def weight_files(folder: str | Path) -> list[Path]:
    """The weight files directly in `folder`: *.safetensors, *.bin, *.onnx (and ONNX external data), sorted.

    Subfolders (checkpoints, exports) are not counted, nor ``training_args.bin`` (pickled arguments, no weights).
    """
    folder = Path(folder)
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES) and p.name not in NOT_WEIGHTS
    )


def disk_bytes(folder: str | Path) -> int:
    """Total size in bytes of `weight_files(folder)`: the model's size on disk as report.json defines it."""
    return sum(p.stat().st_size for p in weight_files(folder))


def onnx_params(folder: str | Path) -> int:
    """Elements in the initializers of a bundle's model.onnx: its parameter count (INT8 weights count once each;
    a quantized graph's scales and zero points add a few)."""
    import onnx

    model = onnx.load(str(Path(folder) / "model.onnx"), load_external_data=False)
    total = 0
    for init in model.graph.initializer:
        n = 1
        for d in init.dims:
            n *= d
        total += n
    return total


def summarize(seconds: list[float]) -> dict:
    """p50/p90/min in milliseconds (linear-interpolated percentiles) and the number of timed runs."""
    import numpy as np

    ms = np.asarray(seconds, dtype=float) * 1000.0
    return {
        "p50": round(float(np.percentile(ms, 50)), 3),
        "p90": round(float(np.percentile(ms, 90)), 3),
        "min": round(float(ms.min()), 3),
        "n": len(seconds),
    }


class Worker:
    """The parent's handle on one worker process; `call` raises DistilkitError naming the model on any failure."""

    def __init__(self, name: str, argv: list[str] | None = None):
        self.name = name
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            argv or [sys.executable, "-m", "distilkit.bench.measure"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )
        self._stderr: deque[str] = deque(maxlen=200)
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if line.strip():
                self._stderr.append(line.rstrip())

    def last_stderr_line(self) -> str:
        return self._stderr[-1] if self._stderr else ""

    def _died(self) -> DistilkitError:
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._drain.join(timeout=5)
        last = self.last_stderr_line() or "no error output"
        return DistilkitError(f"{self.name}: bench worker died (exit code {code}): {last}")

    def call(self, cmd: str, **args) -> dict:
        """Send one command and return its reply; a failed command or a dead worker raises DistilkitError."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None
        line = self.proc.stdout.readline()
        if not line:
            raise self._died()
        try:
            reply = json.loads(line)
        except json.JSONDecodeError:
            raise DistilkitError(f"{self.name}: bench worker sent an invalid reply: {line.strip()[:200]}") from None
        if reply.get("missing_module"):  # the command's extra is not installed: the CLI names it (cli.app.Group)
            raise ModuleNotFoundError(f"{self.name}: {reply['error']}", name=reply["missing_module"])
        if not reply.get("ok"):
            raise DistilkitError(f"{self.name}: {reply.get('error', 'unknown error')}")
        return reply

    def close(self) -> None:
        """Ask the worker to quit; kill it if it does not within a few seconds."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._drain.join(timeout=5)


# ----------------------------------------------------------------------------------------------- worker side


def _peak_rss_bytes() -> int:
    """This process's own peak RSS.

    On Linux this is VmHWM of /proc/self/status, not ``ru_maxrss``: the kernel carries ``ru_maxrss`` over exec from
    the forked copy of the parent, so a worker started by a parent holding 1.8 GB of trained models would report
    1.8 GB whatever it loads itself (seen in `distilkit run`).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB, macOS bytes


def _rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


class _State:
    """What the worker holds between commands."""

    def __init__(self) -> None:
        self.backend = None
        self.counters: dict[str, int] = {}
        self.test_file: str | None = None


def _load(state: _State, msg: dict) -> dict:
    from distilkit.bench.backends import open_backend

    path = msg["path"]
    start = time.perf_counter()
    state.test_file = msg.get("test_file")
    backend = open_backend(
        path, msg.get("threads"), msg.get("mode", "tensors"), int(msg.get("max_length") or 128), bool(state.test_file)
    )
    if state.test_file:
        from distilkit.bench.backends import read_test_split, split_labels

        split = read_test_split(state.test_file)
        unknown = sorted(split_labels(split) - set(backend.label_names))
        if unknown:  # fail before the timing, not after it (the evaluation would refuse them too)
            raise DistilkitError(f"{split.source}: labels {unknown} are not among the model's {backend.label_names}")
    texts = msg.get("texts")
    backend.prepare(texts)
    state.backend = backend
    state.counters = dict.fromkeys(SETTINGS, 0)
    load_s = time.perf_counter() - start
    import gc

    gc.collect()
    gc.freeze()  # what is alive now stays: later collections (before each timing block) only scan new objects
    return {
        "kind": backend.kind,
        "params": backend.params,
        "rss_after_load_bytes": _rss_bytes(),
        "load_s": round(load_s, 3),
        "inputs": "text" if texts is not None else "random",
        "threads": backend.threads,
        **backend.versions,
    }


def _time(state: _State, msg: dict) -> dict:
    import gc

    setting, n = msg["setting"], int(msg["n"])
    if state.backend is None:
        raise DistilkitError("no model loaded")
    if setting not in SETTINGS:
        raise DistilkitError(f"unknown setting {setting!r}")
    runs: dict[str, list[float]] = {}
    gc.collect()
    for _ in range(n):
        timed = state.backend.run(setting, state.counters[setting])
        state.counters[setting] += 1
        for key, value in timed.items():
            runs.setdefault(key, []).append(value)
    return runs


def _eval(state: _State, msg: dict) -> dict:
    from distilkit.bench.backends import read_test_split

    if state.backend is None or not state.test_file:
        raise DistilkitError("nothing to evaluate (no model or test file)")
    start = time.perf_counter()
    metrics = state.backend.evaluate(read_test_split(state.test_file))
    return {"metrics": metrics, "eval_s": round(time.perf_counter() - start, 3), "peak_rss_bytes": _peak_rss_bytes()}


def _rss(state: _State, msg: dict) -> dict:
    return {"peak_rss_bytes": _peak_rss_bytes(), "rss_bytes": _rss_bytes()}


COMMANDS = {"load": _load, "time": _time, "eval": _eval, "rss": _rss}


def main() -> int:
    """Serve commands from stdin until ``quit`` or end of input."""
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # anything printed from here on (Python or C) lands on stderr, not in the protocol
    sys.stdout = sys.stderr
    state = _State()
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = None
        try:
            msg = json.loads(line)
            cmd = msg.get("cmd")
            if cmd == "quit":
                break
            if cmd not in COMMANDS:
                raise DistilkitError(f"unknown command {cmd!r}")
            reply = {"ok": True, **COMMANDS[cmd](state, msg)}
        except DistilkitError as e:
            reply = {"ok": False, "error": str(e)}
        except ModuleNotFoundError as e:  # e.g. torch on a base install: the parent re-raises it as such
            reply = {"ok": False, "error": one_line(e), "missing_module": e.name}
        except Exception as e:  # keep serving; the parent turns this into a one-line DistilkitError
            print(f"bench worker: command {cmd!r} failed", file=sys.stderr)
            import traceback

            traceback.print_exc()
            reply = {"ok": False, "error": one_line(e)}
        proto.write(json.dumps(reply) + "\n")
        proto.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
