"""Whose output folder is it: a training command may only write into an empty `--out`, its own run (`--resume`),
or one the user gives up (`--overwrite`).

Without this, a run into another run's folder silently replaced its model and `config.yaml` and appended to its
log, and stale checkpoints of an earlier, longer run made `--resume` start from the wrong place.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import yaml

from distilkit.core.atomic import check_writable, write_config
from distilkit.core.errors import DistilkitError

RUN_OUTPUTS = ("config.yaml", "results.json", "model", "checkpoints", "train_log.jsonl", "train_log.csv", "tensorboard")
"""What a training run writes into its `--out`; `--overwrite` removes these and nothing else."""

PER_INVOCATION = ("resume", "overwrite", "config", "max_minutes")
"""Options a resumed run may give anew: they say how this sitting runs, not what is trained."""


def claim_run_folder(out: Path, params: dict[str, Any], resume: bool = False, overwrite: bool = False) -> None:
    """Make `out` this run's folder and record its settings in `out/config.yaml`, or refuse with one line.

    - empty, new, or holding only the `config.yaml` of a run that stopped before training: the settings are written;
    - `resume`: the settings must be the ones `config.yaml` records (others are refused, naming them), which is
      left as it is;
    - `overwrite`: the earlier run's outputs (`RUN_OUTPUTS`) are removed first, other files are left alone;
    - otherwise an earlier run's outputs there are an error: nothing of it is touched.
    """
    out = Path(out)
    check_writable(out)
    found = [name for name in RUN_OUTPUTS if name != "config.yaml" and (out / name).exists()]
    if found and overwrite:
        for name in (n for n in RUN_OUTPUTS if (out / n).exists()):
            path = out / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    elif found and resume:
        _require_same_settings(out / "config.yaml", params)
        if (out / "config.yaml").is_file():
            return
    elif found:
        raise DistilkitError(
            f"{out}: holds an earlier run ({', '.join(found)}); --resume continues it, --overwrite replaces it"
        )
    write_config(out, params)


@contextmanager
def released_on_error(out: Path) -> Iterator[None]:
    """Around claiming `out` and the run: if it fails before writing anything of its own (a teacher that cannot
    teach, a model that does not load), the `config.yaml` the claim wrote goes again, and the folder if the claim
    made it, so a refused command leaves the disk as it found it. A run that wrote checkpoints keeps everything."""
    out = Path(out)
    existed, had_config = out.exists(), (out / "config.yaml").exists()
    try:
        yield
    except Exception:
        ours = out.is_dir() and not had_config
        if ours and not any((out / name).exists() for name in RUN_OUTPUTS if name != "config.yaml"):
            with suppress(OSError):
                (out / "config.yaml").unlink(missing_ok=True)
                if not existed:
                    out.rmdir()
        raise


def _require_same_settings(saved_file: Path, params: dict[str, Any]) -> None:
    if saved_file.is_file():
        saved = yaml.safe_load(saved_file.read_text(encoding="utf-8")) or {}
        now = {k: (str(v) if isinstance(v, Path) else v) for k, v in params.items()}
        require_same_settings(saved_file, saved, now, PER_INVOCATION)


def require_same_settings(where: Path, saved: dict[str, Any], now: dict[str, Any], may_change: tuple[str, ...]) -> None:
    """Refuse to resume with settings other than the run's own (`saved`), naming each that differs; the settings in
    `may_change` bound this sitting, not what is trained."""
    changed = [k for k in now if k not in may_change and k in saved and saved[k] != now[k]]
    if changed:
        shown = ", ".join(f"{k} {saved[k]!r} → {now[k]!r}" for k in changed)
        raise DistilkitError(
            f"{where}: --resume with settings that differ from the run's ({shown}); "
            "resume with the run's own settings, or start again with --overwrite"
        )
