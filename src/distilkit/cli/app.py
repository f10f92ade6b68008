"""The typer application every command module registers on, and the console they print to.

The base install (`pip install distilkit`) is the torch-free runtime; training, export and the server are extras.
Commands import their heavy packages inside the command, so a command whose extra is missing fails there: `Group`
turns that ModuleNotFoundError into one line naming the extra to install (`error: distilkit finetune needs the
training packages: pip install 'distilkit[train]'`, exit 2), for every command at once.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from distilkit.core.errors import DistilkitError

EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "train": (
        "the training packages",
        ("torch", "transformers", "safetensors", "accelerate", "datasets", "sklearn", "seqeval", "matplotlib")
        + ("psutil", "onnx"),
    ),
    "serve": ("the serving packages", ("fastapi", "uvicorn", "prometheus_client")),
}
"""Extra → (what it is, the top-level modules it provides that a base install lacks)."""


def missing_extra(error: ModuleNotFoundError, command: str) -> DistilkitError | None:
    """The one-line error for `command` failing on a module of an extra that is not installed, else None."""
    module = (error.name or "").partition(".")[0]
    for extra, (what, modules) in EXTRAS.items():
        if module in modules:
            return DistilkitError(f"{command} needs {what}: pip install 'distilkit[{extra}]'")
    return None


class Group(TyperGroup):
    """A command group whose commands report a missing extra in one line instead of a traceback."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as e:
            names, parent = [], ctx
            while parent.parent is not None:  # the root's name is the program's (`distilkit`, `python -m ...`)
                names.insert(0, parent.info_name)
                parent = parent.parent
            error = missing_extra(e, " ".join(["distilkit", *names, ctx.invoked_subcommand or ""]).rstrip())
            if error is None:
                raise
            raise error from e


app = typer.Typer(
    cls=Group,
    help="Distil BERT-family teachers into small, fast students; evaluate and benchmark them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(cls=Group, help="Fetch the benchmark datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()
