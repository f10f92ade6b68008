"""`distilkit finetune` and `distil`: train a teacher, then a student, on labelled data (or texts, for embeddings)."""

from __future__ import annotations

from typing import Annotated

import typer

from distilkit.cli.app import app, console
from distilkit.cli.options import (
    AllowPickle,
    BatchSize,
    Config,
    Data,
    Dev,
    Epochs,
    FreezeEmb,
    GradAccum,
    LabelAll,
    LabelColumn,
    Lr,
    MaxLength,
    MaxSteps,
    Out,
    PairColumn,
    Resume,
    SaveEvery,
    Scheme,
    Seed,
    Stride,
    TagColumn,
    Task,
    Test,
    TextColumn,
    UnseenTags,
    Warmup,
    WeightDecay,
    columns,
    quiet_transformers,
    token_options,
    train_config,
)
from distilkit.cli.output import print_scores


@app.command()
def finetune(
    ctx: typer.Context,
    data: Data,
    out: Out,
    model: Annotated[str, typer.Option(help="Hub id, local folder, or all-MiniLM-L6-v2 (embedded).")] = (
        "all-MiniLM-L6-v2"
    ),
    dev: Dev = None,
    test: Test = None,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "label",
    text_pair_column: PairColumn = None,
    task: Task = "sequence-classification",
    tag_column: TagColumn = -1,
    scheme: Scheme = "auto",
    stride: Stride = 32,
    label_all_subwords: LabelAll = False,
    unseen_tags: UnseenTags = "error",
    max_length: MaxLength = 128,
    epochs: Epochs = 3,
    max_steps: MaxSteps = 0,
    batch_size: BatchSize = 32,
    grad_accum: GradAccum = 1,
    lr: Lr = 5e-5,
    weight_decay: WeightDecay = 0.01,
    warmup_ratio: Warmup = 0.06,
    seed: Seed = 0,
    save_every: SaveEvery = 0,
    freeze_embeddings: FreezeEmb = False,
    resume: Resume = False,
    allow_pickle: AllowPickle = False,
    config: Config = None,
) -> None:
    """Fine-tune a model (typically the teacher) as a text classifier."""
    from distilkit.core.atomic import write_config
    from distilkit.data.spec import DataSpec
    from distilkit.recipes.finetune import finetune as run_finetune

    quiet_transformers()
    write_config(out, ctx.params)
    result = run_finetune(
        model,
        DataSpec(
            data,
            dev=dev,
            test=test,
            columns=columns(text_column, label_column, text_pair_column),
            task=task,
            tokens=token_options(tag_column, scheme, stride, label_all_subwords, unseen_tags),
        ),
        out,
        train_config(ctx.params),
        max_length=max_length,
        resume=resume,
        allow_pickle=allow_pickle,
    )
    print_scores(result)


@app.command()
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
    dev: Dev = None,
    test: Test = None,
    text_column: TextColumn = "text",
    label_column: LabelColumn = "label",
    text_pair_column: PairColumn = None,
    task: Annotated[
        str,
        typer.Option(
            help="sequence-classification (soft targets per text), token-classification (per word), or embedding "
            "(the teacher's mean-pooled sentence vectors, on any text: --data may be a .txt file, one text a line)."
        ),
    ] = "sequence-classification",
    tag_column: TagColumn = -1,
    scheme: Scheme = "auto",
    stride: Stride = 32,
    label_all_subwords: LabelAll = False,
    unseen_tags: UnseenTags = "error",
    max_length: MaxLength = 128,
    epochs: Epochs = 3,
    max_steps: MaxSteps = 0,
    batch_size: BatchSize = 32,
    grad_accum: GradAccum = 1,
    lr: Lr = 1e-4,
    weight_decay: WeightDecay = 0.01,
    warmup_ratio: Warmup = 0.06,
    seed: Seed = 0,
    save_every: SaveEvery = 0,
    freeze_embeddings: FreezeEmb = False,
    resume: Resume = False,
    allow_pickle: AllowPickle = False,
    embedding_loss: Annotated[str, typer.Option(help="embedding: 'mse' or 'cosine' to the teacher's vectors.")] = "mse",
    config: Config = None,
) -> None:
    """Distil a teacher into a shallower student: a classifier (soft targets, gold labels, hidden states) or a
    sentence encoder (--task embedding)."""
    from distilkit.core.atomic import write_config
    from distilkit.core.tasks import EMBEDDING, check_task
    from distilkit.data.spec import DataSpec
    from distilkit.distil.objectives import DistilWeights
    from distilkit.models.student import parse_layer_list
    from distilkit.recipes.distil import distil as run_distil

    quiet_transformers()
    check_task(hidden_loss, ("cosine", "mse"), "hidden_loss")
    check_task(task)
    layers = parse_layer_list(layer_map)
    write_config(out, ctx.params)
    train_cfg = train_config(ctx.params)
    if task == EMBEDDING:
        from distilkit.recipes.embedding import distil_embeddings

        result = distil_embeddings(
            teacher,
            data,
            out,
            train_cfg,
            loss=embedding_loss,
            student_layers=student_layers,
            layer_map=layers,
            init=init,
            max_length=max_length,
            resume=resume,
            allow_pickle=allow_pickle,
        )
        held_out = result["metrics"]["held_out"]
        console.print(
            f"held-out texts: cosine to teacher {held_out['cosine_to_teacher']:.4f} "
            f"(before {result['metrics']['held_out_before']['cosine_to_teacher']:.4f}), "
            f"MSE {held_out['mse_to_teacher']:.4g}"
        )
        console.print(f"model saved to {result['model']}")
        return
    result = run_distil(
        teacher,
        DataSpec(
            data,
            dev=dev,
            test=test,
            columns=columns(text_column, label_column, text_pair_column),
            task=task,
            tokens=token_options(tag_column, scheme, stride, label_all_subwords, unseen_tags),
        ),
        out,
        train_cfg,
        DistilWeights(
            alpha_kd=alpha_kd,
            alpha_ce=alpha_ce,
            alpha_hid=alpha_hid,
            temperature=temperature,
            hidden_loss=hidden_loss,
        ),
        student_layers=student_layers,
        layer_map=layers,
        init=init,
        cache_teacher=cache_teacher,
        max_length=max_length,
        resume=resume,
        allow_pickle=allow_pickle,
        augment=augment,
    )
    print_scores(result)
