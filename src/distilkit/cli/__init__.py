"""The `distilkit` command line: thin typer commands over the recipes, the bench, the exporter and the server.

One module per family of commands (`train`, `general`, `measure`, `ship`, `data`), all registered on the one typer
`app`; options shared by several commands are declared once in `options`. User errors print one line
(`error: file:line: what`) and exit 2.
"""

from __future__ import annotations

import sys
import warnings

from distilkit.cli import data, general, measure, ship, train  # noqa: F401  (each registers its commands)
from distilkit.cli.app import app
from distilkit.core.errors import DistilkitError


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"
    try:
        app()
    except DistilkitError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted (resume with --resume)", file=sys.stderr)
        sys.exit(130)
