"""`distilkit export`, `predict`, `serve` and `export-triton`: a checked ONNX bundle, run without torch, behind HTTP,
or in a Triton model repository."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from distilkit.cli.app import app, console
from distilkit.cli.options import (
    AllowPickle,
    Config,
    LabelColumn,
    MaxLength,
    TextColumn,
    long_text,
    quiet_transformers,
    shared_options,
)
from distilkit.cli.output import print_long_text


@app.command()
@shared_options("long_text", "long_text_stride")
def export(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Fine-tuned model folder (or hub id) to export.")],
    out: Annotated[Path, typer.Option(help="Bundle folder to write: model.onnx, tokenizer.json, bundle.json.")],
    task: Annotated[
        str, typer.Option(help="sequence-classification, token-classification, or embedding (mean-pooled base model).")
    ] = "sequence-classification",
    quantize: Annotated[
        str,
        typer.Option(
            help="none, dynamic (int8 weights), static (calibrated int8), or auto (fastest within --budget of fp32)."
        ),
    ] = "none",
    budget: Annotated[
        float, typer.Option(min=0.0, help="auto: score points a quantized model may lose against fp32.")
    ] = 1.0,
    data: Annotated[
        str | None,
        typer.Option(
            help="Texts for validation and calibration: a data folder or known dataset (dev split validates, train "
            "calibrates) or one file, .txt = one text per line (default: a few built-in sentences)."
        ),
    ] = None,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "label",
    max_length: MaxLength = 128,
    max_texts: Annotated[int, typer.Option(min=1, help="Validate and score on at most this many texts.")] = 1000,
    calibration_size: Annotated[int, typer.Option(min=1, help="Training texts sampled to calibrate static.")] = 128,
    optimize: Annotated[bool, typer.Option(help="Fuse attention, LayerNorm and GELU (ONNX Runtime optimizer).")] = True,
    normalize: Annotated[bool, typer.Option(help="embedding: L2-normalise the pooled embeddings.")] = True,
    threads: Annotated[
        int | None, typer.Option(min=1, help="ONNX Runtime threads when timing candidates (default: all cores).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Write the bundle even if ONNX and PyTorch disagree.")] = False,
    allow_pickle: AllowPickle = False,
    config: Config = None,
    **options: Any,
) -> None:
    """Export a model to an ONNX bundle, checked against PyTorch, optionally INT8-quantized; --long-text (the one
    the model was trained with) is recorded in bundle.json and applied by the runtime."""
    from distilkit.core.atomic import check_writable

    check_writable(out)  # before the model is loaded and exported: minutes of work that could not be saved
    from distilkit.export import export_bundle

    quiet_transformers()
    meta = export_bundle(
        model,
        out,
        task=task,
        quantize=quantize,
        budget=budget,
        data=data,
        text_column=text_column,
        label_column=label_column,
        max_length=max_length,
        max_texts=max_texts,
        calibration_size=calibration_size,
        optimize=optimize,
        normalize=normalize,
        force=force,
        allow_pickle=allow_pickle,
        threads=threads,
        long_text=long_text(options),
        resolved_config=ctx.params,
    )
    check = meta["validation"]["fp32_vs_torch"]
    agreement = "" if check["agreement"] is None else f", agreement {100 * check['agreement']:.2f}%"
    console.print(f"fp32 vs PyTorch: max |Δ| {check['max_abs_diff']:.3g}{agreement} on {check['texts']} texts")
    opt = meta["optimization"]
    reason = f" ({opt['reason']})" if opt["reason"] else ""
    console.print(f"fused graph: {'yes' if opt['applied'] else 'no'}{reason}")
    if meta["validation"].get("long_text"):
        print_long_text(meta["validation"]["long_text"], "validation texts")
    scores = meta["scores"]
    console.print(
        f"quantization: {meta['quantization']['name']}; {scores['metric']} {scores['bundle']:.2f} "
        f"(fp32 {scores['fp32']:.2f}); {meta['model_bytes'] / 1e6:.1f} MB"
    )
    chosen = meta["quantization"].get("candidates") or [{}]
    if quantize in ("dynamic", "static") and chosen[0].get("status") == "over budget":
        console.print(f"warning: {quantize} loses more than {budget:g} points against fp32 (try --quantize auto)")
    console.print(f"bundle written to {out}")


@app.command()
def predict(
    bundle: Annotated[Path, typer.Argument(help="Bundle folder written by `distilkit export`.")],
    texts: Annotated[
        list[str] | None, typer.Argument(help="Texts to run; else --file, else standard input (one per line).")
    ] = None,
    file: Annotated[Path | None, typer.Option(help="File with one text per line (blank lines skipped).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per batch (padded to the batch's longest).")] = 32,
    threads: Annotated[
        int | None, typer.Option(min=1, help="ONNX Runtime intra-op threads (default: one per core).")
    ] = None,
    task: Annotated[
        str, typer.Option(help="raw (the bundle's output), ner (entities with offsets) or pos (a tag per word).")
    ] = "raw",
    config: Config = None,
) -> None:
    """Run a bundle on texts (torch-free) and write one JSON line per text."""
    from distilkit.runtime import Predictor
    from distilkit.runtime.cli import json_lines, long_text_line, read_texts

    lines = read_texts(texts, file, sys.stdin)
    predictor = Predictor(bundle, batch_size=batch_size, threads=threads)
    lengths: list[int] = []
    for line in json_lines(predictor, lines, task=task, lengths=lengths):
        typer.echo(line)
    summary = long_text_line(predictor, lengths)
    if summary:
        typer.echo(summary, err=True)


@app.command()
def serve(
    bundles: Annotated[list[str], typer.Argument(help="Bundle folders as NAME=PATH or PATH (named after the folder).")],
    host: Annotated[str, typer.Option(help="Address to bind; the default accepts local clients only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    max_batch: Annotated[int, typer.Option(min=1, help="Most texts collected into one batch.")] = 32,
    forward_batch: Annotated[
        int, typer.Option(min=1, help="Texts per ONNX call: a batch is sorted by length and cut into these.")
    ] = 2,
    max_wait_ms: Annotated[float, typer.Option(min=0.0, help="Longest a text waits for its batch to fill.")] = 5.0,
    max_queue: Annotated[int, typer.Option(min=1, help="Texts waiting per model; beyond it: 503 + Retry-After.")] = 256,
    timeout: Annotated[float, typer.Option(min=0.001, help="Seconds before an unanswered request gets 504.")] = 10.0,
    max_body_bytes: Annotated[int, typer.Option(min=1, help="Largest request body (413 beyond).")] = 1 << 20,
    max_texts: Annotated[int, typer.Option(min=1, help="Most texts in one request (413 beyond).")] = 64,
    max_text_chars: Annotated[int, typer.Option(min=1, help="Longest text in characters (413 beyond).")] = 10_000,
    threads: Annotated[int | None, typer.Option(min=1, help="ONNX Runtime threads per model.")] = None,
    token: Annotated[
        str | None, typer.Option(help="Require this bearer token on /v1 and /metrics (or set DISTILKIT_SERVE_TOKEN).")
    ] = None,
    cors_origin: Annotated[list[str] | None, typer.Option(help="Allow this browser origin (repeatable).")] = None,
    chatbot: Annotated[Path | None, typer.Option(help="Chatbot intents YAML served at /v1/chat.")] = None,
    chat_model: Annotated[
        str | None, typer.Option(help="Embedding bundle the chatbot uses (default: the first one).")
    ] = None,
    graceful_timeout: Annotated[float, typer.Option(min=0.0, help="Seconds to finish in-flight work on exit.")] = 30.0,
    config: Config = None,
) -> None:
    """Serve bundles over HTTP with dynamic batching, a chatbot and a try-it page (torch-free)."""
    from distilkit.serve.config import ServeConfig
    from distilkit.serve.server import serve as run_server

    settings = ServeConfig.with_env_token(
        host=host,
        port=port,
        max_batch=max_batch,
        forward_batch=forward_batch,
        max_wait_ms=max_wait_ms,
        max_queue=max_queue,
        timeout_s=timeout,
        max_body_bytes=max_body_bytes,
        max_texts=max_texts,
        max_text_chars=max_text_chars,
        threads=threads,
        token=token,
        cors_origins=list(cors_origin or []),
        graceful_timeout_s=graceful_timeout,
    )
    run_server(settings, bundles, chatbot, chat_model)


@app.command("export-triton")
def export_triton(
    bundles: Annotated[list[str], typer.Argument(help="Bundle folders as NAME=PATH or PATH (named after the folder).")],
    out: Annotated[Path, typer.Option(help="Triton model repository folder to write (replaced whole).")],
    onnx_backend: Annotated[
        str,
        typer.Option(
            help="onnxruntime (Triton's ONNX backend, production) or python (the graph on ONNX Runtime inside a "
            "Python-backend model, for a Triton without the onnxruntime backend, e.g. nvidia-pytriton's)."
        ),
    ] = "onnxruntime",
    max_batch: Annotated[int, typer.Option(min=1, help="Rows the graph model batches (max_batch_size).")] = 32,
    queue_delay_us: Annotated[
        int, typer.Option(min=0, help="Dynamic batching: longest a request waits for others (microseconds).")
    ] = 2000,
    instances: Annotated[int, typer.Option(min=1, help="CPU instances of every model (replicas in one server).")] = 1,
    threads: Annotated[int, typer.Option(min=1, help="ONNX Runtime intra-op threads per graph instance.")] = 1,
    pad_multiple: Annotated[
        int, typer.Option(min=1, help="Pad token rows to a multiple of this, so requests of similar length batch.")
    ] = 16,
    config: Config = None,
) -> None:
    """Turn bundles into a Triton model repository (for Triton, KServe, Seldon): per bundle an ensemble NAME of
    tokenizer → ONNX graph → decoder answering the Open Inference Protocol, as `distilkit serve` does on /v2
    (torch-free)."""
    from distilkit.core.atomic import check_writable
    from distilkit.export.triton import RepositorySettings, write_repository

    check_writable(out)
    settings = RepositorySettings(
        onnx_backend=onnx_backend,
        max_batch=max_batch,
        queue_delay_us=queue_delay_us,
        instances=instances,
        threads=threads,
        pad_multiple=pad_multiple,
    )
    tasks = write_repository(bundles, out, settings)
    for name, task in tasks.items():
        typer.echo(f"{name} ({task}): {name}-tokenize → {name}-model → {name}-decode")
    typer.echo(f"repository written to {out}")
    typer.echo(f"serve it: tritonserver --model-repository={out.resolve()}  (its Python needs: pip install distilkit)")
    if onnx_backend == "python":
        typer.echo(f"or here: python -m distilkit.export.triton_local {out} --python ENGINE/bin/python (README)")
    typer.echo(f"then: POST /v2/models/{next(iter(tasks))}/infer (the Open Inference Protocol, input TEXT)")
