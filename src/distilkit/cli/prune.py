"""`distilkit prune`: remove a classifier's least important attention heads and feed-forward neurons."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from distilkit.cli.app import app, console
from distilkit.cli.options import (
    DATA_FILES,
    LONG_TEXT,
    TAG_FILES,
    Config,
    Data,
    Out,
    Task,
    claim_out,
    data_spec,
    quiet_transformers,
    shared_options,
)
from distilkit.cli.output import print_scores
from distilkit.cli.train import require_training_packages
from distilkit.core.run_folder import released_on_error
from distilkit.models.teacher import resolve_model_path  # no torch: it only looks at the folder


@app.command()
@shared_options(*DATA_FILES, *TAG_FILES, *LONG_TEXT, "max_length", "batch_size", "seed", "overwrite", "allow_pickle")
def prune(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Classifier to prune: a folder or hub id (a distilled student).")],
    data: Data,
    out: Out,
    heads: Annotated[float, typer.Option(help="Fraction of every layer's attention heads to remove, in [0, 1).")] = 0.0,
    ffn: Annotated[
        float, typer.Option(help="Fraction of every layer's feed-forward neurons to remove, in [0, 1).")
    ] = 0.0,
    examples: Annotated[int, typer.Option(min=1, help="Training examples the heads and neurons are scored on.")] = 512,
    task: Task = "sequence-classification",
    config: Config = None,
    **options: Any,
) -> None:
    """Score every attention head and feed-forward neuron on training examples (the gradient of the loss with
    respect to a gate on each, Michel et al. 2019) and slice the lowest-scoring fractions out of the weights;
    recover with `distilkit distil --teacher T --student OUT/model`."""
    from distilkit.core.errors import require_fraction
    from distilkit.core.tasks import CLASSIFIER_TASKS, check_task

    require_training_packages()
    check_task(task, CLASSIFIER_TASKS)
    require_fraction("heads", heads)
    require_fraction("ffn", ffn)
    spec = data_spec(ctx.params)
    loaded = spec.load()  # before torch is imported: a bad file is reported in a fraction of a second
    resolve_model_path(model, options["allow_pickle"])  # a missing or unsafe folder too, before --out is claimed
    from distilkit.recipes.prune import prune as run_prune

    quiet_transformers()
    with released_on_error(out):
        claim_out(ctx.params)
        result = run_prune(
            model,
            spec,
            out,
            heads=heads,
            ffn=ffn,
            examples=examples,
            batch_size=options["batch_size"],
            max_length=options["max_length"],
            seed=options["seed"],
            allow_pickle=options["allow_pickle"],
            data=loaded,
        )
    before, after = result["before"], result["student"]
    console.print(
        f"pruned: heads {before['num_attention_heads']} → {after['num_attention_heads']}, feed-forward "
        f"{before['intermediate_size']} → {after['intermediate_size']} per layer; parameters "
        f"{before['parameters']:,} → {after['parameters']:,} ({100 * after['parameters'] / before['parameters']:.1f}%)"
    )
    print_scores(result)
