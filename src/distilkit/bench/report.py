"""The bench report: ``report.json`` (schema below), ``report.md`` (side-by-side table) and ``report.png``.

report.json, schema ``distilkit.bench/1``
=========================================

Units are in the key names or stated here: bytes, milliseconds, sequences per second, seconds. Ratios are plain
floats (1.0 = equal); a ratio whose denominator is missing or zero is ``null``.

.. code-block:: text

    {
      "schema": "distilkit.bench/1",
      "created": "2026-11-23T18:02:11+00:00",        # UTC, ISO 8601
      "elapsed_s": 612.4,                             # wall time of the whole bench
      "machine": {"cpu": str, "cores": int, "threads": int,   # threads = torch.set_num_threads in every worker
                  "vector_extensions": [str],                # e.g. ["AVX2", "AVX-512", "AVX-512 VNNI", ...]
                  "torch": str, "transformers": str, "python": str, "platform": str,
                  "load_avg_start": [1m, 5m, 15m], "load_avg_end": [...]},   # other load on the machine, if any
      "settings": {"runs": int, "warmup": int, "rounds": int, "max_length": int, "reference": str,
                   "mode": "tensors" | "text",              # forward passes on ready inputs, or raw text to label
                   "test_file": str | null,
                   "shapes": {"b1_s128": [1, 128], "b1_s32": [1, 32], "b32_s128": [32, 128]}},
      "models": [                                     # in the order given; the reference is one of them
        {
          "name": str,
          "kind": "torch" | "bundle",                 # a PyTorch classifier, or an ONNX bundle (distilkit export)
          "source": {"path": str} | {"config": str},  # an HF folder, or an architecture from bench/configs.py
          "params": int,                              # sum of numel over model.parameters() (tied weights once)
          "disk_bytes": int,                          # total size of the weight files directly in the folder:
          "disk_files": [str],                        #   *.safetensors, *.bin, *.onnx (+ ONNX external data)
          "inputs": "text" | "random",                # timing inputs: test texts, or random token ids
          "latency_ms": {                             # batch 1, per forward pass
            "b1_s128": {"p50": float, "p90": float, "min": float, "n": int},
            "b1_s32":  {"p50": float, "p90": float, "min": float, "n": int}
          },
          "batch_ms": {"b32_s128": {"p50": float, "p90": float, "min": float, "n": int}},
          "session_ms": null | {"b1_s128": {...}, "b1_s32": {...}, "b32_s128": {...}},  # bundles timed from text:
                                                      #   the bare session.run on the same encoded inputs
          "throughput_seq_s": {"b32_s128": float},    # 32 / median seconds of one batch-32 forward pass
          "rss_after_load_bytes": int,                # worker RSS right after loading (includes torch, ~240 MiB)
          "peak_rss_bytes": int,                      # worker's ru_maxrss at the end of the timing phase
          "peak_rss_after_eval_bytes": int | null,    # ru_maxrss after quality evaluation (null: no evaluation)
          "load_s": float, "eval_s": float | null,
          "metrics": {} | {"accuracy": float, "macro_f1": float, "per_class": {...}, "labels": [...],
                           "confusion_matrix": [[...]], "n": int}   # distilkit.evaluate.classification_metrics
                     | {"accuracy": float, "words": int, "headline": str,          # token classifiers: token accuracy,
                        "f1", "precision", "recall", "macro_f1", "per_type"}       # entity figures for BIO tags
        }
      ],
      "retention": {                                  # one entry per model other than the reference
        "<name>": {
          "reference": str,
          "accuracy": float | null, "macro_f1": float | null,      # model / reference (null without a test split)
          "f1": float | null,                                     # entity F1 retention (NER models only)
          "speedup_b1_s128": float, "speedup_b1_s32": float,      # reference p50 latency / model p50 latency
          "throughput_ratio_b32_s128": float,                     # model throughput / reference throughput
          "params_ratio": float, "disk_ratio": float,             # model / reference
          "peak_rss_ratio": float                                 # model / reference
        }
      }
    }

How it is measured: every model lives in its own worker process (`distilkit.bench.measure`), so ``peak_rss_bytes``
is that model's process alone: the Python interpreter, torch and transformers (~240 MiB before any model), the
weights and the activations of the largest setting (batch 32, 128 tokens). It is read before the quality evaluation,
whose batches of 64 would otherwise count; ``peak_rss_after_eval_bytes`` includes them. Timings are interleaved: each
worker warms up, then in each round every worker times a block of runs of each setting in turn (the order of workers
alternating between rounds), so drift of the machine's speed hits every model alike; percentiles pool all rounds.
"""

from __future__ import annotations

import io
from pathlib import Path

from distilkit.core.atomic import write_bytes, write_json, write_text

SCHEMA = "distilkit.bench/1"
MB = 1_000_000
MIB = 1024 * 1024


def _ratio(num, den) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return round(float(num) / float(den), 4)


def _p50(model: dict, group: str, key: str) -> float | None:
    return ((model.get(group) or {}).get(key) or {}).get("p50")


def retention(models: list[dict], reference: str) -> dict:
    """Ratios of every non-reference model against the reference (see the schema for their directions)."""
    ref = next(m for m in models if m["name"] == reference)
    out = {}
    for m in models:
        if m["name"] == reference:
            continue
        out[m["name"]] = {
            "reference": reference,
            "accuracy": _ratio(m["metrics"].get("accuracy"), ref["metrics"].get("accuracy")),
            "macro_f1": _ratio(m["metrics"].get("macro_f1"), ref["metrics"].get("macro_f1")),
            "f1": _ratio(m["metrics"].get("f1"), ref["metrics"].get("f1")),
            "speedup_b1_s128": _ratio(_p50(ref, "latency_ms", "b1_s128"), _p50(m, "latency_ms", "b1_s128")),
            "speedup_b1_s32": _ratio(_p50(ref, "latency_ms", "b1_s32"), _p50(m, "latency_ms", "b1_s32")),
            "throughput_ratio_b32_s128": _ratio(
                m["throughput_seq_s"].get("b32_s128"), ref["throughput_seq_s"].get("b32_s128")
            ),
            "params_ratio": _ratio(m["params"], ref["params"]),
            "disk_ratio": _ratio(m["disk_bytes"], ref["disk_bytes"]),
            "peak_rss_ratio": _ratio(m["peak_rss_bytes"], ref["peak_rss_bytes"]),
        }
    return out


def build_report(
    models: list[dict], settings: dict, machine: dict, reference: str, created: str, elapsed_s: float
) -> dict:
    return {
        "schema": SCHEMA,
        "created": created,
        "elapsed_s": round(elapsed_s, 1),
        "machine": machine,
        "settings": settings,
        "models": models,
        "retention": retention(models, reference),
    }


# ------------------------------------------------------------------------------------------------ the table


def _num(x, fmt: str) -> str:
    return "—" if x is None else format(x, fmt)


def _lat(model: dict, key: str) -> str:
    entry = model["latency_ms"].get(key)
    return "—" if not entry else f"{entry['p50']:.1f} / {entry['p90']:.1f}"


def _millions(x: int) -> str:
    return f"{x / 1e6:.1f}" if x >= 1e6 else f"{x / 1e6:.3f}"


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _times(x) -> str:
    return "—" if x is None else f"{x:.2f}×"


def _overhead(e2e: float, session: float) -> str:
    return f"{100 * (e2e / session - 1):+.1f}%"


def _session(model: dict, key: str, fmt) -> str:
    """`fmt(end-to-end p50, bare session p50)` for a bundle timed from text, else a dash."""
    session = (model.get("session_ms") or {}).get(key)
    e2e = _p50(model, "batch_ms" if key == "b32_s128" else "latency_ms", key)
    return "—" if not session or e2e is None else fmt(e2e, session["p50"])


def table_rows(report: dict) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The side-by-side table as (column headers, rows): one column per model, the reference marked."""
    reference = report["settings"]["reference"]
    models = report["models"]
    ret = report["retention"]
    headers = [f"{m['name']} (reference)" if m["name"] == reference else m["name"] for m in models]

    def col(fn):
        return [fn(m) for m in models]

    def rcol(key, fmt):
        return [("—" if m["name"] == reference else fmt(ret[m["name"]].get(key))) for m in models]

    rows = [
        ("params (M)", col(lambda m: _millions(m["params"]))),
        ("disk (MB)", col(lambda m: _millions(m["disk_bytes"]))),
        ("latency b1 s128 p50 / p90 (ms)", col(lambda m: _lat(m, "b1_s128"))),
        ("latency b1 s32 p50 / p90 (ms)", col(lambda m: _lat(m, "b1_s32"))),
        ("throughput b32 s128 (seq/s)", col(lambda m: _num(m["throughput_seq_s"].get("b32_s128"), ".2f"))),
        ("RSS after load (MiB)", col(lambda m: f"{m['rss_after_load_bytes'] / MIB:.0f}")),
        ("peak RSS, timing (MiB)", col(lambda m: f"{m['peak_rss_bytes'] / MIB:.0f}")),
    ]
    if any(m.get("session_ms") for m in models):
        rows += [
            ("bare session b1 s128 p50 (ms)", col(lambda m: _session(m, "b1_s128", lambda e, s: f"{s:.1f}"))),
            ("runtime overhead b1 s128 (p50)", col(lambda m: _session(m, "b1_s128", _overhead))),
            ("runtime overhead b32 s128 (p50)", col(lambda m: _session(m, "b32_s128", _overhead))),
        ]
    if any(m["metrics"] for m in models):
        rows += [
            ("accuracy", col(lambda m: _num(m["metrics"].get("accuracy"), ".4f"))),
            ("macro-F1", col(lambda m: _num(m["metrics"].get("macro_f1"), ".4f"))),
            ("accuracy retention", rcol("accuracy", _pct)),
            ("macro-F1 retention", rcol("macro_f1", _pct)),
        ]
    if any("f1" in m["metrics"] for m in models):
        rows += [
            ("entity F1", col(lambda m: _num(m["metrics"].get("f1"), ".4f"))),
            ("entity F1 retention", rcol("f1", _pct)),
        ]
    if len(models) > 1:
        rows += [
            ("speed-up b1 s128 (p50)", rcol("speedup_b1_s128", _times)),
            ("speed-up b1 s32 (p50)", rcol("speedup_b1_s32", _times)),
            ("throughput ratio b32 s128", rcol("throughput_ratio_b32_s128", _times)),
            ("params ratio", rcol("params_ratio", _pct)),
            ("disk ratio", rcol("disk_ratio", _pct)),
            ("peak RSS ratio", rcol("peak_rss_ratio", _pct)),
        ]
    return headers, rows


def summary_lines(report: dict) -> list[str]:
    """One sentence per non-reference model: smaller by, faster by, quality kept."""
    lines = []
    for name, r in report["retention"].items():
        parts = []
        if r["params_ratio"] is not None:
            parts.append(f"{100 * (1 - r['params_ratio']):.0f}% fewer parameters")
        if r["disk_ratio"] is not None:
            parts.append(f"{100 * (1 - r['disk_ratio']):.0f}% smaller on disk")
        if r["speedup_b1_s128"] is not None:
            s32 = f" ({r['speedup_b1_s32']:.2f}× at s32)" if r["speedup_b1_s32"] is not None else ""
            parts.append(f"{r['speedup_b1_s128']:.2f}× faster at b1 s128{s32}")
        if r["throughput_ratio_b32_s128"] is not None:
            parts.append(f"{r['throughput_ratio_b32_s128']:.2f}× the throughput at b32 s128")
        if r["accuracy"] is not None:
            parts.append(f"keeps {100 * r['accuracy']:.1f}% of the accuracy")
        if r["macro_f1"] is not None:
            parts.append(f"{100 * r['macro_f1']:.1f}% of the macro-F1")
        if r.get("f1") is not None:
            parts.append(f"{100 * r['f1']:.1f}% of the entity F1")
        lines.append(f"{name} vs {r['reference']}: " + ", ".join(parts) + ".")
    return lines


def render_markdown(report: dict) -> str:
    machine, settings = report["machine"], report["settings"]
    headers, rows = table_rows(report)
    inputs = sorted({m["inputs"] for m in report["models"]})
    source = f"test texts from `{settings['test_file']}`" if "text" in inputs else "random token ids"
    if settings.get("mode") == "text":
        how = (
            "timed from raw text to label (transformers pipelines for PyTorch models, the distilkit runtime for "
            "bundles; runtime overhead = end-to-end over the bare ONNX Runtime call on the same encoded inputs)"
        )
    else:
        how = "timed as forward passes on ready token ids"
    if inputs == ["random", "text"]:
        source += " (random token ids for config models)"
    lines = [
        "# distilkit bench",
        "",
        f"{report['created']} · {machine['cpu']} ({_extensions(machine)}) · {machine['cores']} cores, "
        f"{machine['threads']} torch threads · "
        f"torch {machine['torch']}, transformers {machine['transformers']} · load average at start "
        f"{'/'.join(f'{x:.1f}' for x in machine['load_avg_start'])}",
        "",
        f"Latencies are p50 / p90 of {settings['runs']} runs per setting after {settings['warmup']} warm-up runs, "
        f"interleaved across models in {settings['rounds']} rounds, {how}; inputs: {source}, cut to exactly "
        f"the setting's token count. Ratios are against **{settings['reference']}**; compare ratios rather than "
        "absolute times across runs. Peak RSS is each model's own worker process during timing (torch included for "
        "PyTorch models).",
        "",
        "| | " + " | ".join(headers) + " |",
        "|---|" + "---:|" * len(headers),
    ]
    lines += [f"| {label} | " + " | ".join(values) + " |" for label, values in rows]
    summary = summary_lines(report)
    if summary:
        lines += ["", *[f"- {line}" for line in summary]]
    lines += [
        "",
        f"Bench wall time: {report['elapsed_s']:.0f} s. Full numbers: `report.json` ({report['schema']}).",
        "",
    ]
    return "\n".join(lines)


def _extensions(machine: dict) -> str:
    """The CPU's INT8/bf16 vector extensions as the report shows them (older reports did not record them)."""
    found = machine.get("vector_extensions")
    if found is None:
        return "vector extensions not recorded"
    return ", ".join(found) if found else "no AVX2, AVX-512, VNNI, BF16 or AMX"


def render_table(report: dict):
    """The side-by-side table as a `rich.table.Table`, for the CLI."""
    from rich.table import Table

    headers, rows = table_rows(report)
    table = Table(title=f"bench (reference: {report['settings']['reference']})")
    table.add_column("")
    for h in headers:
        table.add_column(h, justify="right")
    for label, values in rows:
        table.add_row(label, *values)
    return table


# ------------------------------------------------------------------------------------------------- the plot


def write_png(report: dict, path: Path) -> None:
    """Quality (accuracy) against latency p50 at b1 s128; marker area proportional to disk size.

    Without quality for every model (config benches), the y axis is throughput at b32 s128 instead.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = report["models"]
    with_quality = all(m["metrics"].get("accuracy") is not None for m in models)
    xs = [_p50(m, "latency_ms", "b1_s128") for m in models]
    if with_quality:
        ys, ylabel = [m["metrics"]["accuracy"] for m in models], "accuracy (test split)"
    else:
        ys, ylabel = [m["throughput_seq_s"]["b32_s128"] for m in models], "throughput b32 s128 (seq/s)"
    biggest = max(m["disk_bytes"] for m in models) or 1
    areas = [max(2500.0 * m["disk_bytes"] / biggest, 4.0) for m in models]
    fig, ax = plt.subplots(figsize=(7, 5), dpi=120)
    ax.scatter(xs, ys, s=areas, alpha=0.45, edgecolors="black", linewidths=0.8)
    for m, x, y in zip(models, xs, ys, strict=True):
        ax.annotate(
            f"{m['name']}\n{_millions(m['disk_bytes'])} MB, {_millions(m['params'])} M params",
            (x, y),
            textcoords="offset points",
            xytext=(0, 0),
            ha="center",
            va="center",
            fontsize=8,
        )
    ax.set_xlabel("latency p50, batch 1, 128 tokens (ms)")
    ax.set_ylabel(ylabel)
    ax.set_title(
        "quality vs latency (marker area ∝ size on disk)"
        if with_quality
        else "throughput vs latency (marker area ∝ size on disk)"
    )
    ax.margins(0.25)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png")
    plt.close(fig)
    write_bytes(path, image.getvalue())


def write_report(report: dict, out_dir: Path) -> None:
    """Write report.json, report.md and report.png into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "report.json", report)
    write_text(out_dir / "report.md", render_markdown(report))
    write_png(report, out_dir / "report.png")
