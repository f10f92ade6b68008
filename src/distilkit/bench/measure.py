"""The bench worker: one long-lived process per model, driven over stdin/stdout JSON lines, so memory is per model.

Run as ``python -m distilkit.bench.measure``. The parent (`distilkit.bench.run_bench`, through `Worker`) sends one
JSON object per line and reads one reply per line:

- ``{"cmd": "load", "path": DIR, "threads": N, "test_file": FILE|null, "max_length": L, "tokenizer": bool}`` loads
  the model (``AutoModelForSequenceClassification``, safetensors, no remote code) with ``torch.set_num_threads(N)``
  and prepares fixed-shape inputs for every setting of `SETTINGS`: real test texts tokenised and truncated/padded to
  exactly the setting's length when a test file is given (and ``tokenizer`` is true), random token ids otherwise.
  Replies with params, RSS after loading and versions.
- ``{"cmd": "time", "setting": "b1_s128", "n": K}`` runs K forward passes of that setting under
  ``torch.inference_mode()`` and replies with their wall times in seconds.
- ``{"cmd": "rss"}`` replies with the peak RSS so far (``ru_maxrss``) and the current RSS.
- ``{"cmd": "eval"}`` scores the model on the test file with `distilkit.evaluate.evaluate_classifier`.
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

from distilkit.errors import DistilkitError

# name -> (batch size, sequence length); the names are report.json keys.
SETTINGS: dict[str, tuple[int, int]] = {"b1_s128": (1, 128), "b1_s32": (1, 32), "b32_s128": (32, 128)}

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
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB, macOS bytes


def _rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _one_line(e: BaseException) -> str:
    text = (str(e).strip().splitlines() or [""])[0]
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


class _State:
    """What the worker holds between commands."""

    def __init__(self) -> None:
        self.model = None
        self.tokenizer = None
        self.inputs: dict[str, list[dict]] = {}
        self.counters: dict[str, int] = {}
        self.test_file: str | None = None
        self.max_length = 128


def _load(state: _State, msg: dict) -> dict:
    import torch
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from distilkit.teacher import load_kwargs

    threads = int(msg.get("threads") or os.cpu_count() or 1)
    torch.set_num_threads(threads)
    path = msg["path"]
    start = time.perf_counter()
    try:
        model = AutoModelForSequenceClassification.from_pretrained(path, **load_kwargs(allow_pickle=False))
    except Exception as e:  # transformers raises OSError, ValueError, safetensors errors...; the user needs one line
        raise DistilkitError(f"{path}: cannot load model ({_one_line(e)})") from None
    model.eval()
    state.model = model
    state.max_length = int(msg.get("max_length") or 128)
    state.test_file = msg.get("test_file")
    split = None
    if state.test_file and msg.get("tokenizer", True):
        try:
            state.tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        except Exception as e:
            raise DistilkitError(f"{path}: cannot load tokenizer ({_one_line(e)})") from None
        from distilkit.data.classification import read_split

        split = read_split(state.test_file)
        unknown = sorted(set(split.labels) - set(model.config.id2label.values()))
        if unknown:  # fail before the timing, not after it (evaluate_classifier would refuse them too)
            raise DistilkitError(
                f"{split.source}: labels {unknown} are not among the model's {list(model.config.id2label.values())}"
            )
    longest = max(seq for _, seq in SETTINGS.values())
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and limit < longest:
        raise DistilkitError(f"{path}: max_position_embeddings is {limit}, the bench needs {longest} tokens")
    state.inputs = _make_inputs(model, state.tokenizer, split)
    state.counters = dict.fromkeys(SETTINGS, 0)
    load_s = time.perf_counter() - start
    import gc

    gc.collect()
    gc.freeze()  # what is alive now stays: later collections (before each timing block) only scan new objects
    return {
        "params": int(sum(p.numel() for p in model.parameters())),
        "rss_after_load_bytes": _rss_bytes(),
        "load_s": round(load_s, 3),
        "inputs": "text" if split is not None else "random",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
    }


def _make_inputs(model, tokenizer, split) -> dict[str, list[dict]]:
    """Per setting, a list of ready input dicts of exactly (batch, seq) tokens; runs cycle through the list."""
    import inspect

    import torch

    accepted = set(inspect.signature(model.forward).parameters)
    out: dict[str, list[dict]] = {}
    if split is not None:
        n = min(len(split), 64)
        texts = [split.texts[i % len(split)] for i in range(max(n, 32))]
        pairs = [split.pairs[i % len(split)] for i in range(max(n, 32))] if split.pairs else None
        for name, (batch, seq) in SETTINGS.items():
            enc = tokenizer(texts, pairs, truncation=True, padding="max_length", max_length=seq, return_tensors="pt")
            enc = {k: v for k, v in enc.items() if k in accepted}
            if batch == 1:
                out[name] = [{k: v[i : i + 1].contiguous() for k, v in enc.items()} for i in range(n)]
            else:
                out[name] = [{k: v[:batch].contiguous() for k, v in enc.items()}]
        return out
    vocab = int(getattr(model.config, "vocab_size", 1000))
    g = torch.Generator().manual_seed(0)
    for name, (batch, seq) in SETTINGS.items():
        ids = torch.randint(min(5, vocab - 1), vocab, (batch, seq), generator=g)
        out[name] = [{"input_ids": ids, "attention_mask": torch.ones_like(ids)}]
    return out


def _time(state: _State, msg: dict) -> dict:
    import gc

    import torch

    setting, n = msg["setting"], int(msg["n"])
    if state.model is None:
        raise DistilkitError("no model loaded")
    if setting not in state.inputs:
        raise DistilkitError(f"unknown setting {setting!r}")
    items = state.inputs[setting]
    seconds = []
    gc.collect()
    with torch.inference_mode():
        for _ in range(n):
            batch = items[state.counters[setting] % len(items)]
            state.counters[setting] += 1
            start = time.perf_counter()
            state.model(**batch)
            seconds.append(time.perf_counter() - start)
    return {"seconds": seconds}


def _eval(state: _State, msg: dict) -> dict:
    from distilkit.data.classification import read_split
    from distilkit.evaluate import evaluate_classifier

    if state.model is None or state.tokenizer is None or not state.test_file:
        raise DistilkitError("nothing to evaluate (no model, tokenizer or test file)")
    start = time.perf_counter()
    metrics = evaluate_classifier(state.model, state.tokenizer, read_split(state.test_file), state.max_length)
    return {"metrics": metrics, "eval_s": round(time.perf_counter() - start, 3), "peak_rss_bytes": _peak_rss_bytes()}


def _rss(state: _State, msg: dict) -> dict:
    return {"peak_rss_bytes": _peak_rss_bytes(), "rss_bytes": _rss_bytes()}


COMMANDS = {"load": _load, "time": _time, "eval": _eval, "rss": _rss}


def main() -> int:
    """Serve commands from stdin until ``quit`` or end of input."""
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # anything printed from here on (Python or C) lands on stderr, not in the protocol
    sys.stdout = sys.stderr
    # the heavy imports start with the process, so workers started together import side by side
    import torch  # noqa: F401
    from transformers import AutoModelForSequenceClassification  # noqa: F401

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
        except Exception as e:  # keep serving; the parent turns this into a one-line DistilkitError
            print(f"bench worker: command {cmd!r} failed", file=sys.stderr)
            import traceback

            traceback.print_exc()
            reply = {"ok": False, "error": _one_line(e)}
        proto.write(json.dumps(reply) + "\n")
        proto.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
