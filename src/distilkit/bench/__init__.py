"""`distilkit bench`: teacher vs student (vs any other model) side by side — size, speed, memory, quality, retention.

Each model runs in its own worker process (`distilkit.bench.measure`) so its peak RSS is its own; the parent
interleaves the timing blocks of all workers so a drifting machine slows every model alike. The report's schema is
documented in `distilkit.bench.report`.

    from distilkit.bench import ModelSpec, run_bench
    report = run_bench([ModelSpec("teacher", "runs/t/model"), ModelSpec("student", "runs/s/model")],
                       Path("runs/bench"), test_file=Path("data/test.csv"))
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from distilkit.core.errors import DistilkitError
from distilkit.core.progress import ProgressLog

ROUNDS = 5  # timed runs are split into this many interleaved blocks per setting (fewer when runs < ROUNDS)


@dataclass
class ModelSpec:
    """One model to bench: an HF folder (`path`) or an architecture from `distilkit.bench.configs` (`config`)."""

    name: str
    path: str | None = None
    config: str | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.config is None):
            raise DistilkitError(f"bench model {self.name!r}: give exactly one of a path or a config")
        if not str(self.name).strip():
            raise DistilkitError("bench model: empty name")


def parse_model_args(items: list[str]) -> list[ModelSpec]:
    """CLI model arguments: ``NAME=PATH`` or ``PATH`` (named after its folder; clashes get the parent folder too)."""
    specs: list[tuple[str | None, str]] = []
    for item in items:
        name, sep, path = item.partition("=")
        if sep and name and "/" not in name and os.sep not in name:
            if not path:
                raise DistilkitError(f"bench model {item!r}: empty path after '='")
            specs.append((name, path))
        else:
            specs.append((None, item))
    auto = [Path(p).expanduser().resolve().name for _, p in specs]
    out = []
    for (name, path), folder in zip(specs, auto, strict=True):
        if name is None:
            p = Path(path).expanduser().resolve()
            name = folder if auto.count(folder) == 1 else f"{p.parent.name}/{p.name}"
        out.append(ModelSpec(name=name, path=path))
    return out


def _machine(first_load: dict, threads: int, load_start: list[float]) -> dict:
    from distilkit.core.machine import cpu_name, vector_extensions

    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "?"

    return {
        "cpu": cpu_name(),
        "vector_extensions": vector_extensions(),
        "cores": os.cpu_count(),
        "threads": first_load.get("threads", threads),
        "torch": first_load.get("torch") or version("torch"),
        "transformers": first_load.get("transformers") or version("transformers"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_start": load_start,
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
    }


def _check(models: list[ModelSpec], test_file: Path | None, runs: int, warmup: int, reference: str | None) -> str:
    if not models:
        raise DistilkitError("bench: no models given")
    names = [m.name for m in models]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DistilkitError(f"bench: model names must be unique (repeated: {', '.join(dupes)})")
    if runs < 1 or warmup < 0:
        raise DistilkitError(f"bench: runs must be >= 1 and warmup >= 0 (got runs={runs}, warmup={warmup})")
    reference = reference or names[0]
    if reference not in names:
        raise DistilkitError(f"bench: reference {reference!r} is not among the models ({', '.join(names)})")
    if test_file is not None and not Path(test_file).is_file():
        raise DistilkitError(f"{test_file}: no such test file")
    from distilkit.bench.backends import is_bundle
    from distilkit.bench.configs import parse_config_spec
    from distilkit.models.teacher import resolve_model_path

    for m in models:
        if m.config is not None:
            parse_config_spec(m.config)
            continue
        if is_bundle(m.path):
            continue
        try:
            resolved = resolve_model_path(m.path)
        except DistilkitError as e:
            raise DistilkitError(f"{m.name}: {e}") from None
        if not Path(resolved).is_dir():
            raise DistilkitError(f"{m.name}: {m.path}: no such model folder")
    return reference


def _blocks(runs: int) -> list[int]:
    """`runs` split into min(runs, ROUNDS) nearly equal blocks."""
    rounds = min(runs, ROUNDS)
    return [runs // rounds + (1 if i < runs % rounds else 0) for i in range(rounds)]


class _Progress:
    """A rich progress bar over weighted steps on a terminal, plain progress lines elsewhere (`core.progress`: a
    bench of large models runs for many minutes, under nohup or in CI too), or nothing.

    Every piece of work is announced by `describe` before it runs, so the lines print there, naming the work now
    running; `advance` only counts, except for the last step.
    """

    def __init__(self, enabled: bool, total: int):
        self.bar = None
        self.total, self.done = total, 0
        self.lines = ProgressLog("bench", total, rate=False, enabled=enabled)
        if enabled and not self.lines.active:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
            )
            self.task = self.bar.add_task("bench", total=total)

    def __enter__(self):
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def describe(self, text: str) -> None:
        self.lines.update(self.done, note=text)
        if self.bar is not None:
            self.bar.update(self.task, description=text)

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.done >= self.total:
            self.lines.update(self.done)
        if self.bar is not None:
            self.bar.advance(self.task, n)


def run_bench(
    models: list[ModelSpec],
    out_dir: Path,
    test_file: Path | None = None,
    max_length: int = 128,
    runs: int = 20,
    warmup: int = 3,
    reference: str | None = None,
    threads: int | None = None,
    progress: bool = True,
    mode: str = "tensors",
) -> dict:
    """Bench every model in its own worker; write report.json/md/png into `out_dir` and return the report dict.

    `max_length` truncates the quality evaluation's inputs; the timing shapes are fixed (see `backends.SETTINGS`).
    `reference` (default: the first model) is the denominator of the retention ratios. Config models get random
    token ids and no quality metrics. `mode` is ``tensors`` (forward passes on ready inputs) or ``text`` (raw text
    to label: transformers pipelines and the bundle runtime; needs a test file); see `distilkit.bench.backends`.
    A model path holding bundle.json is an ONNX bundle from `distilkit export`.
    """
    from distilkit.bench.backends import MODES, SETTINGS, is_bundle
    from distilkit.bench.configs import materialize
    from distilkit.bench.measure import Worker, disk_bytes, onnx_params, summarize, weight_files
    from distilkit.bench.report import build_report, write_report
    from distilkit.models.teacher import resolve_model_path

    out_dir = Path(out_dir)
    reference = _check(models, test_file, runs, warmup, reference)
    if mode not in MODES:
        raise DistilkitError(f"bench: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "text" and (test_file is None or any(m.config is not None for m in models)):
        raise DistilkitError("bench: timing from text needs a test split and models with tokenizers (no --configs)")
    threads = threads or os.cpu_count() or 1
    blocks = _blocks(runs)
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    load_start = [round(x, 2) for x in os.getloadavg()]
    start = time.perf_counter()
    n_settings = len(SETTINGS)
    evaluated = {m.name: test_file is not None and m.path is not None for m in models}
    total = sum((2 if m.config else 1) + (warmup + runs) * n_settings + (1 if evaluated[m.name] else 0) for m in models)
    workers: list[Worker] = []
    with tempfile.TemporaryDirectory(prefix="distilkit-bench-") as tmp, _Progress(progress, total) as bar:
        try:
            folders = {}
            for i, m in enumerate(models):
                if m.config is not None:
                    bar.describe(f"{m.name}: building {m.config}")
                    folders[m.name] = materialize(m.config, Path(tmp) / f"{i}")
                    bar.advance()
                else:
                    folders[m.name] = Path(m.path if is_bundle(m.path) else resolve_model_path(m.path))
            texts = _timing_texts(folders, test_file) if test_file is not None else None
            workers = [Worker(m.name) for m in models]  # start together: their imports overlap
            loads = {}
            for m, w in zip(models, workers, strict=True):
                bar.describe(f"{m.name}: loading")
                loads[m.name] = w.call(
                    "load",
                    path=str(folders[m.name]),
                    threads=threads,
                    mode=mode,
                    texts=texts if m.path is not None else None,
                    test_file=str(test_file) if test_file and m.path is not None else None,
                    max_length=max_length,
                )
                bar.advance()
            if warmup:
                for w in workers:
                    for setting in SETTINGS:
                        bar.describe(f"{w.name}: warm-up {setting}")
                        w.call("time", setting=setting, n=warmup)
                        bar.advance(warmup)
            seconds: dict[str, dict[str, list[float]]] = {w.name: {s: [] for s in SETTINGS} for w in workers}
            session: dict[str, dict[str, list[float]]] = {w.name: {s: [] for s in SETTINGS} for w in workers}
            for r, k in enumerate(blocks):
                order = workers if r % 2 == 0 else workers[::-1]
                for setting in SETTINGS:
                    for w in order:
                        bar.describe(f"{w.name}: {setting}, round {r + 1}/{len(blocks)}")
                        timed = w.call("time", setting=setting, n=k)
                        seconds[w.name][setting] += timed["seconds"]
                        session[w.name][setting] += timed.get("session_seconds", [])
                        bar.advance(k)
            peaks = {w.name: w.call("rss")["peak_rss_bytes"] for w in workers}
            evals = {}
            for w in workers:
                if evaluated[w.name]:
                    bar.describe(f"{w.name}: evaluating on {Path(test_file).name}")
                    evals[w.name] = w.call("eval")
                    bar.advance()
        finally:
            for w in workers:
                w.close()
        results = []
        for m in models:
            load, times = loads[m.name], seconds[m.name]
            batch32 = summarize(times["b32_s128"])
            ev = evals.get(m.name)
            bare = session[m.name]
            results.append(
                {
                    "name": m.name,
                    "kind": load["kind"],
                    "source": {"path": str(m.path)} if m.path is not None else {"config": m.config},
                    "params": load["params"] if load["params"] is not None else onnx_params(folders[m.name]),
                    "disk_bytes": disk_bytes(folders[m.name]),
                    "disk_files": [p.name for p in weight_files(folders[m.name])],
                    "inputs": load["inputs"],
                    "latency_ms": {"b1_s128": summarize(times["b1_s128"]), "b1_s32": summarize(times["b1_s32"])},
                    "batch_ms": {"b32_s128": batch32},
                    "session_ms": {k: summarize(v) for k, v in bare.items()} if any(bare.values()) else None,
                    "throughput_seq_s": {"b32_s128": round(SETTINGS["b32_s128"][0] / (batch32["p50"] / 1000), 3)},
                    "rss_after_load_bytes": load["rss_after_load_bytes"],
                    "peak_rss_bytes": peaks[m.name],
                    "peak_rss_after_eval_bytes": ev["peak_rss_bytes"] if ev else None,
                    "load_s": load["load_s"],
                    "eval_s": ev["eval_s"] if ev else None,
                    "metrics": ev["metrics"] if ev else {},
                }
            )
    settings = {
        "runs": runs,
        "warmup": warmup,
        "rounds": len(blocks),
        "max_length": max_length,
        "mode": mode,
        "reference": reference,
        "test_file": str(test_file) if test_file is not None else None,
        "shapes": {name: list(shape) for name, shape in SETTINGS.items()},
    }
    machine = _machine(next(iter(loads.values())), threads, load_start)
    report = build_report(results, settings, machine, reference, created, time.perf_counter() - start)
    write_report(report, out_dir)
    return report


def _timing_texts(folders: dict[str, Path], test_file: Path) -> dict[str, list[str]] | None:
    """Test texts cut to exactly each setting's token count (64 per setting), with the first model's tokenizer
    that has a tokenizer.json; None when no model has one (the workers then time random token ids)."""
    from distilkit.bench.backends import SETTINGS, read_test_split, split_texts
    from distilkit.bench.texts import load_tokenizer, texts_of_length

    folder = next((f for f in folders.values() if (f / "tokenizer.json").is_file()), None)
    if folder is None:
        return None
    tokenizer = load_tokenizer(folder)
    source = split_texts(read_test_split(test_file))
    by_length = {seq: texts_of_length(tokenizer, source, seq, 64) for seq in {seq for _, seq in SETTINGS.values()}}
    return {name: by_length[seq] for name, (_, seq) in SETTINGS.items()}


__all__ = ["ModelSpec", "parse_model_args", "run_bench"]
