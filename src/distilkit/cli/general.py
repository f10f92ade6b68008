"""`distilkit distil-general` and `distilkit mlm-head`: task-agnostic distillation on raw text."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from distilkit.cli.app import app, console
from distilkit.cli.options import (
    TRAINING,
    Config,
    Corpus,
    Out,
    claim_out,
    quiet_transformers,
    shared_options,
    train_config,
)

GENERAL_TRAINING = (*TRAINING, "pack", "max_minutes")


@app.command("distil-general")
@shared_options(*GENERAL_TRAINING, lr=5e-4, warmup_ratio=0.05, save_every=500)
def distil_general(
    ctx: typer.Context,
    corpus: Corpus,
    out: Out,
    teacher: Annotated[
        str, typer.Option(help="Masked-LM teacher (folder or hub id); a bare encoder works without alpha_kd.")
    ] = "all-MiniLM-L6-v2",
    student_layers: Annotated[int | None, typer.Option(min=1, help="Student depth (default: half).")] = None,
    layer_map: Annotated[str | None, typer.Option(help="Teacher layers paired with the student's, e.g. 0,2,5.")] = None,
    hidden_size: Annotated[int | None, typer.Option(min=1, help="Student width (default: the teacher's).")] = None,
    num_heads: Annotated[int | None, typer.Option(min=1, help="Student attention heads (default: teacher's).")] = None,
    init: Annotated[str, typer.Option(help="'auto' (teacher layers when widths match), 'teacher' or 'random'.")] = (
        "auto"
    ),
    alpha_kd: Annotated[
        float, typer.Option(min=0.0, help="Weight of T²·KL of the MLM distributions (DistilBERT's L_ce).")
    ] = 5.0,
    alpha_ce: Annotated[
        float | None,
        typer.Option(min=0.0, hidden=True, help="Deprecated name of --alpha-kd (distil's --alpha-ce is gold CE)."),
    ] = None,
    alpha_mlm: Annotated[float, typer.Option(min=0.0, help="Weight of the masked-LM cross-entropy.")] = 2.0,
    alpha_cos: Annotated[float, typer.Option(min=0.0, help="Weight of the last-hidden-state cosine loss.")] = 1.0,
    alpha_hid: Annotated[float, typer.Option(min=0.0, help="Weight of the MSE over mapped hidden states.")] = 0.0,
    alpha_att: Annotated[float, typer.Option(min=0.0, help="Weight of the KL over mapped attentions.")] = 0.0,
    alpha_rel: Annotated[float, typer.Option(min=0.0, help="Weight of the MiniLM-v2 Q/K/V relation loss.")] = 0.0,
    temperature: Annotated[float, typer.Option(min=0.01, help="Softmax temperature T of the kd loss.")] = 2.0,
    ce_tokens: Annotated[str, typer.Option(help="kd loss on the 'masked' tokens or on 'all' tokens.")] = "masked",
    relation_heads: Annotated[int, typer.Option(min=0, help="Relation heads (0: the teacher's heads).")] = 0,
    config: Config = None,
    **options: Any,
) -> None:
    """Task-agnostic distillation (DistilBERT's recipe) on raw text: a general masked-LM student to fine-tune."""
    from distilkit.distil.general_objective import GeneralWeights
    from distilkit.models.student import parse_layer_list
    from distilkit.recipes import general

    quiet_transformers()
    if alpha_ce is not None:
        warnings.warn(
            "--alpha-ce of distil-general is now --alpha-kd (the soft-target KL); the old name still works",
            stacklevel=1,
        )
        alpha_kd = ctx.params["alpha_kd"] = alpha_ce
        ctx.params["alpha_ce"] = None
    main_process = _save_config_on_main_process(out, ctx.params)
    weights = GeneralWeights(
        alpha_kd=alpha_kd,
        alpha_mlm=alpha_mlm,
        alpha_cos=alpha_cos,
        alpha_hid=alpha_hid,
        alpha_att=alpha_att,
        alpha_rel=alpha_rel,
        temperature=temperature,
        ce_tokens=ce_tokens,
        relation_heads=relation_heads,
    )
    train_cfg = train_config(ctx.params)
    setup = general.prepare_general(
        teacher,
        corpus,
        weights,
        student_layers=student_layers,
        layer_map=parse_layer_list(layer_map),
        init=init,
        hidden_size=hidden_size,
        num_heads=num_heads,
        max_length=options["max_length"],
        pack=options["pack"],
        seed=train_cfg.seed,
        allow_pickle=options["allow_pickle"],
    )
    result = general.distil_general(setup, out, train_cfg, resume=options["resume"])
    if main_process:
        _print_general(result)


@app.command("mlm-head")
@shared_options(
    "max_length", "pack", "epochs", "max_steps", "max_minutes", "batch_size", "lr", "warmup_ratio", "seed",
    "save_every", "precision", "resume", "overwrite", "allow_pickle", lr=1e-3, warmup_ratio=0.05, save_every=500,
)  # fmt: skip
def mlm_head(
    ctx: typer.Context,
    corpus: Corpus,
    out: Out,
    teacher: Annotated[str, typer.Option(help="Encoder without a masked-LM head (folder or hub id).")] = (
        "all-MiniLM-L6-v2"
    ),
    config: Config = None,
    **options: Any,
) -> None:
    """Train a masked-LM head on a frozen teacher that has none, so DistilBERT's soft-target loss can use it."""
    from distilkit.recipes import general

    quiet_transformers()
    main_process = _save_config_on_main_process(out, ctx.params)
    run = {key: options[key] for key in ("max_length", "pack", "resume", "allow_pickle")}
    result = general.train_mlm_head(teacher, corpus, out, train_config(ctx.params), **run)
    if main_process:
        _print_general(result)


def _save_config_on_main_process(out: Path, params: dict) -> bool:
    """Under torchrun / accelerate launch only the main process writes config.yaml and prints; True on it."""
    from distilkit.distil.trainer import process_state

    main_process = process_state().is_main_process
    if main_process:
        claim_out(params)
    return main_process


def _print_general(result: dict) -> None:
    train, corpus = result["train"], result["corpus"]
    built = f"built in {corpus['cache_build_seconds']:.1f} s" if corpus["cache_build_seconds"] else "reused"
    console.print(f"corpus: {corpus['corpus_tokens']} tokens, {corpus['sequences']} sequences (cache {built})")
    stop = " (time budget reached: continue with --resume)" if train["stopped_by_time_budget"] else ""
    console.print(
        f"{train['steps']} steps in {train['train_seconds']:.0f} s, {train['tokens_per_second']:.0f} tokens/s, "
        f"final loss {train['final_loss']:.4f}{stop}"
    )
    console.print(f"model saved to {result['model']}")
