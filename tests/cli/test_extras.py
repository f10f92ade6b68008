"""A command whose extra is not installed fails with one line naming it (cli.app.Group), whatever the command."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from distilkit.cli.app import Group, missing_extra
from distilkit.core.errors import DistilkitError

TRAIN_LINE = "distilkit finetune needs the training packages: pip install 'distilkit[train]'"


def _app(error: ModuleNotFoundError) -> typer.Typer:
    app = typer.Typer(cls=Group)
    sub = typer.Typer(cls=Group)
    app.add_typer(sub, name="data")

    def fail() -> None:
        raise error

    app.command("finetune")(fail)
    sub.command("get")(fail)
    return app


@pytest.mark.parametrize(
    ("args", "module", "line"),
    [
        (["finetune"], "torch", TRAIN_LINE),
        (["finetune"], "transformers.models", "distilkit finetune needs the training packages"),
        (["data", "get"], "sklearn", "distilkit data get needs the training packages"),
        (["finetune"], "fastapi", "distilkit finetune needs the serving packages: pip install 'distilkit[serve]'"),
    ],
)
def test_a_missing_extra_is_one_line_naming_the_command_and_the_extra(args, module, line):
    result = CliRunner().invoke(_app(ModuleNotFoundError(f"No module named {module!r}", name=module)), args)
    assert isinstance(result.exception, DistilkitError)
    assert str(result.exception).startswith(line)
    assert isinstance(result.exception.__cause__, ModuleNotFoundError)


def test_a_module_of_no_extra_stays_a_traceback():
    error = ModuleNotFoundError("No module named 'distilkit.nowhere'", name="distilkit.nowhere")
    result = CliRunner().invoke(_app(error), ["finetune"])
    assert result.exception is error
    assert missing_extra(ModuleNotFoundError("no name"), "distilkit x") is None


def test_main_prints_the_line_and_exits_2(monkeypatch, capsys):
    import sys

    from distilkit import cli

    monkeypatch.setattr(cli, "app", _app(ModuleNotFoundError("No module named 'torch'", name="torch")))
    monkeypatch.setattr(sys, "argv", ["distilkit", "finetune"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"error: {TRAIN_LINE}\n"
