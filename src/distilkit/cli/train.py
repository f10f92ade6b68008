"""`distilkit finetune` and `distil`: train a teacher, then a student, on labelled data (or texts, for embeddings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from distilkit.cli.app import app, console
from distilkit.cli.options import (
    DATA_FILES,
    LONG_TEXT,
    TAG_FILES,
    TRAINING,
    Config,
    Data,
    Out,
    Task,
    claim_out,
    data_spec,
    quiet_transformers,
    shared_options,
    train_config,
)
from distilkit.cli.output import print_scores
from distilkit.core.run_folder import released_on_error
from distilkit.models.teacher import resolve_model_path  # no torch: it only looks at the folder


def require_training_packages() -> None:
    """The [train] extra's absence, said first (as `Group` words it): the data is read before torch is imported, and
    reading a known dataset may fetch it, which a machine that cannot train should not do."""
    import importlib.util

    for module in ("torch", "transformers"):
        if importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)


@app.command()
@shared_options(*DATA_FILES, *TAG_FILES, *TRAINING, *LONG_TEXT, epochs=3, lr=5e-5)
def finetune(
    ctx: typer.Context,
    data: Data,
    out: Out,
    model: Annotated[str, typer.Option(help="Hub id, local folder, or all-MiniLM-L6-v2 (embedded).")] = (
        "all-MiniLM-L6-v2"
    ),
    task: Task = "sequence-classification",
    config: Config = None,
    **options: Any,
) -> None:
    """Fine-tune a model (typically the teacher) as a text classifier."""
    require_training_packages()
    spec = data_spec(ctx.params)
    loaded = spec.load()  # before torch is imported: a bad file is reported in a fraction of a second
    resolve_model_path(model, options["allow_pickle"])  # a missing or unsafe folder too, before --out is claimed
    from distilkit.recipes.finetune import finetune as run_finetune

    quiet_transformers()
    with released_on_error(out):
        claim_out(ctx.params)
        result = run_finetune(
            model,
            spec,
            out,
            train_config(ctx.params),
            max_length=options["max_length"],
            resume=options["resume"],
            allow_pickle=options["allow_pickle"],
            data=loaded,
        )
    print_scores(result)


@app.command()
@shared_options(*DATA_FILES, *TAG_FILES, *TRAINING, *LONG_TEXT, epochs=3, lr=1e-4)
def distil(
    ctx: typer.Context,
    teacher: Annotated[str, typer.Option(help="Fine-tuned teacher classifier: a folder or hub id.")],
    data: Data,
    out: Out,
    student_layers: Annotated[
        int | None, typer.Option(min=1, help="Student depth (default: half, rounded up).")
    ] = None,
    layer_map: Annotated[str | None, typer.Option(help="Teacher layers initialising the student, e.g. 0,2,5.")] = None,
    init: Annotated[str, typer.Option(help="'teacher' (copy mapped layers) or 'random'.")] = "teacher",
    student: Annotated[
        str | None,
        typer.Option(
            help="The student's starting model (folder, hub id or embedded name; default: the teacher), used whole "
            "unless --student-layers/--layer-map cut it (its own layers); a bare encoder gets a new head. Its "
            "tokenizer may differ from the teacher's (soft targets are per text; then no --alpha-hid)."
        ),
    ] = None,
    alpha_kd: Annotated[float, typer.Option(min=0.0, help="Weight of the soft-target KL (times T²).")] = 1.0,
    alpha_ce: Annotated[float, typer.Option(min=0.0, help="Weight of cross-entropy on gold labels.")] = 0.0,
    alpha_hid: Annotated[float, typer.Option(min=0.0, help="Weight of the hidden-state loss.")] = 0.0,
    temperature: Annotated[float, typer.Option(min=0.01, help="Softmax temperature T.")] = 2.0,
    hidden_loss: Annotated[str, typer.Option(help="'cosine' or 'mse'.")] = "cosine",
    cache_teacher: Annotated[bool, typer.Option(help="Compute teacher logits once for all epochs.")] = True,
    augment: Annotated[
        int,
        typer.Option(
            min=0,
            help="Perturbed copies of each training text for the teacher to label (masked words; n-grams for texts).",
        ),
    ] = 0,
    transfer: Annotated[
        list[str] | None,
        typer.Option(
            help="Unlabelled texts for the teacher to label (repeat): a .txt file (one a line), .csv/.tsv/.jsonl "
            "(--transfer-column), hf:NAME, or a known transfer set (movie-review-sentences, rt-plot-sentences, "
            "rt-polarity-sentences, bbc-train-sentences). Texts equal to a dev/test text are left out. Gold "
            "examples keep KD (+ CE with --alpha-ce); transfer examples get KD only. Each epoch sees both."
        ),
    ] = None,
    transfer_column: Annotated[str, typer.Option(help="--transfer: column of CSV/TSV/JSONL/hf: sources.")] = "text",
    transfer_max: Annotated[
        int, typer.Option(min=0, help="--transfer: use at most this many texts, a sample fixed by --transfer-seed.")
    ] = 0,
    transfer_seed: Annotated[
        int, typer.Option(help="--transfer-max: the sample's seed (not --seed: seeds share one teacher pass).")
    ] = 0,
    transfer_weight: Annotated[
        float, typer.Option(min=0.0, help="--transfer: weight of a transfer example's KD term, a gold one's being 1.")
    ] = 1.0,
    teacher_outputs: Annotated[
        Path | None,
        typer.Option(help="--transfer: folder of the stored teacher outputs (default: the distilkit cache)."),
    ] = None,
    task: Annotated[
        str,
        typer.Option(
            help="sequence-classification (soft targets per text), token-classification (per word), or embedding "
            "(the teacher's mean-pooled sentence vectors, on any text: --data may be a .txt file, one text a line)."
        ),
    ] = "sequence-classification",
    embedding_loss: Annotated[str, typer.Option(help="embedding: 'mse' or 'cosine' to the teacher's vectors.")] = "mse",
    config: Config = None,
    **options: Any,
) -> None:
    """Distil a teacher into a shallower student: a classifier (soft targets, gold labels, hidden states) or a
    sentence encoder (--task embedding)."""
    from distilkit.core.errors import DistilkitError
    from distilkit.core.tasks import EMBEDDING, check_task

    require_training_packages()
    check_task(hidden_loss, ("cosine", "mse"), "hidden_loss")
    check_task(task)
    if task != EMBEDDING and not any((alpha_kd, alpha_ce, alpha_hid)):
        raise DistilkitError("all loss weights are 0: nothing to train")
    if task == EMBEDDING and options["long_text"] != "truncate":
        raise DistilkitError("long_text: --long-text is for sequence-classification; embedding truncates")
    if task == EMBEDDING and transfer:
        raise DistilkitError("transfer: embedding distillation takes any text as --data already; no --transfer")
    spec = data_spec(ctx.params) if task != EMBEDDING else None
    loaded = spec.load() if spec is not None else None  # before torch is imported: a bad file fails at once
    pool = None
    if transfer:
        from distilkit.data.transfer import load_transfer

        pool = load_transfer(transfer, loaded, transfer_column, transfer_max, transfer_seed)
    resolve_model_path(teacher, options["allow_pickle"])  # a missing or unsafe folder too, before --out is claimed
    if student is not None:
        if task == EMBEDDING:
            raise DistilkitError("student: --student is for classifiers; an embedding student is cut from the teacher")
        resolve_model_path(student, options["allow_pickle"])
    from distilkit.distil.objectives import DistilWeights
    from distilkit.models.student import parse_layer_list
    from distilkit.recipes.distil import distil as run_distil

    quiet_transformers()
    layers = parse_layer_list(layer_map)
    cut = {"student_layers": student_layers, "layer_map": layers, "init": init}
    run = {key: options[key] for key in ("max_length", "resume", "allow_pickle")}
    with released_on_error(out):
        claim_out(ctx.params)
        if spec is None:
            _distil_embeddings(teacher, data, out, ctx.params, embedding_loss, **cut, **run)
            return
        weights = DistilWeights(
            alpha_kd=alpha_kd,
            alpha_ce=alpha_ce,
            alpha_hid=alpha_hid,
            temperature=temperature,
            hidden_loss=hidden_loss,
            transfer_weight=transfer_weight,
        )
        result = run_distil(
            teacher,
            spec,
            out,
            train_config(ctx.params),
            weights,
            cache_teacher=cache_teacher,
            augment=augment,
            data=loaded,
            pool=pool,
            teacher_outputs=teacher_outputs,
            student_name=student,
            **cut,
            **run,
        )
    print_scores(result)


def _distil_embeddings(teacher: str, data: str, out: Path, params: dict, loss: str, **settings: Any) -> None:
    from distilkit.recipes.embedding import distil_embeddings

    result = distil_embeddings(teacher, data, out, train_config(params), loss=loss, **settings)
    held_out = result["metrics"]["held_out"]
    console.print(
        f"held-out texts: cosine to teacher {held_out['cosine_to_teacher']:.4f} "
        f"(before {result['metrics']['held_out_before']['cosine_to_teacher']:.4f}), "
        f"MSE {held_out['mse_to_teacher']:.4g}"
    )
    console.print(f"model saved to {result['model']}")
