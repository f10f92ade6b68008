"""The one atomic writer: every file and folder distilkit produces appears whole or not at all.

A reader, or a run killed mid-way, sees the old content or the new, never half of it: files are written to a
temporary sibling and renamed over the target (one filesystem, so the rename is atomic); folders (models, bundles,
checkpoints, corpus caches, dataset splits) are filled under a temporary sibling name and swapped into place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import yaml


def check_writable(path: Path, folder: bool = True) -> None:
    """Refuse, before any work is done, an output that cannot be written: below a regular file, in /proc, on a
    read-only disk, without permission. `folder`: `path` is a folder to fill (else a file, written beside itself).

    The probe is a temporary folder made and removed in the nearest existing folder, so nothing is left behind."""
    from distilkit.core.errors import DistilkitError

    path = Path(path)
    if path.exists() and folder != path.is_dir():
        kind = "a file, not a folder" if folder else "a folder, not a file"
        raise DistilkitError(f"{path}: cannot write here (it is {kind})")
    probe = path if folder and path.is_dir() else path.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise DistilkitError(f"{path}: cannot write here ({probe} is a file, not a folder)")
    try:
        made = tempfile.mkdtemp(prefix=".distilkit-probe-", dir=probe)
    except OSError as e:
        raise DistilkitError(f"{path}: cannot write here ({e.strerror or e})") from None
    os.rmdir(made)


def write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary sibling, flushed to disk, then renamed over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_config(out: Path, params: dict[str, Any]) -> Path:
    """Record a run's resolved settings as `out/config.yaml`, in the form `--config` reads back."""
    clean = {k: (str(v) if isinstance(v, Path) else v) for k, v in params.items() if k != "config"}
    return write_text(Path(out) / "config.yaml", yaml.safe_dump(clean, sort_keys=True))


def swap_in(tmp: Path, folder: Path) -> Path:
    """Move the finished folder `tmp` to `folder`, replacing an old one (two renames; the old copy is then removed)."""
    if folder.exists():
        old = folder.with_name(f".old-{folder.name}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, folder)
    return folder


@contextmanager
def new_folder(folder: Path, replace: bool = True) -> Iterator[Path]:
    """Fill a temporary sibling of `folder` (yielded), then swap it into place; on an exception nothing changes.

    replace=False keeps a `folder` that appeared meanwhile (another process built the same cache: theirs is as good
    as ours) and drops the new copy.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".tmp-{folder.name}")
    if not replace:  # several processes may build the same folder at once: each needs its own temporary name
        tmp = tmp.with_name(f"{tmp.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if replace:
            swap_in(tmp, folder)
        else:
            with suppress(OSError):  # `folder` appeared meanwhile: keep it
                os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_files(dest: Path, files: dict[str, bytes]) -> Path:
    """Write several files into `dest` so each is complete: all at once into a new `dest`, or (when `dest` already
    holds files, which may be the user's own) each replaced atomically, the folder's other files left alone."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp's private 0700 would otherwise become the folder's mode
        for name, content in files.items():
            write_bytes(tmp / name, content)
        try:
            os.rename(tmp, dest)  # atomic; works when dest is absent (or an empty folder)
        except OSError:
            for name in files:
                os.replace(tmp / name, dest / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def save_model(model: Any, tokenizer: Any, folder: Path) -> Path:
    """Save a Hugging Face model and its tokenizer as one folder, swapped into place whole."""
    with new_folder(folder) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(folder)
