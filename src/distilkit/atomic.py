"""Folder outputs swapped into place whole: a reader, or a run killed mid-way, sees the old folder or the new one,
never half of one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


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
