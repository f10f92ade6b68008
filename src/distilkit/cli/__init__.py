"""The `distilkit` command line: thin typer commands over the recipes, the bench, the exporter and the server.

One module per family of commands (`train`, `prune`, `general`, `measure`, `ship`, `data`), all registered on the one
typer `app`; options shared by several commands are declared once in `options`. User errors print one line
(`error: file:line: what`) and exit 2.
"""

from __future__ import annotations

import sys
import warnings

import typer

try:  # typer >= 0.29 ships its own copy of click; its errors are not click's
    from typer._click import exceptions as click
except ImportError:  # pragma: no cover - an older typer, on click itself
    from click import exceptions as click  # type: ignore[no-redef]

from distilkit.cli import data, general, measure, prune, ship, train  # noqa: F401  (each registers its commands)
from distilkit.cli.app import app
from distilkit.core.errors import DistilkitError


def main() -> None:
    """Entry point: user errors (ours, and click's bad or missing options) become one line on stderr and exit 2."""
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"
    try:
        code = app(standalone_mode=False, prog_name="distilkit")
    except DistilkitError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except click.NoArgsIsHelpError as e:  # `distilkit` alone: the help, as click shows it
        e.show()
        sys.exit(e.exit_code)
    except click.UsageError as e:  # an unknown option, a value out of range: one line, like every other user error
        message = " ".join(e.format_message().split())
        command = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        print(f"error: {message}{command}", file=sys.stderr)
        sys.exit(2)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted (resume with --resume)", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
