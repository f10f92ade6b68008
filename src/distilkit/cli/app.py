"""The typer application every command module registers on, and the console they print to."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    help="Distil BERT-family teachers into small, fast students; evaluate and benchmark them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Fetch the benchmark datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()
