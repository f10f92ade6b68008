"""Where distilkit keeps what it downloads or rebuilds (teacher weights, datasets)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$DISTILKIT_CACHE``, else ``$XDG_CACHE_HOME/distilkit``, else ``~/.cache/distilkit``.

    The data is rebuilt on demand rather than stored with the project, so it belongs in a per-user cache that the
    user (or CI) can point elsewhere.
    """
    own = os.environ.get("DISTILKIT_CACHE")
    if own:
        return Path(own).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says a relative value is to be ignored
        return Path(xdg) / "distilkit"
    return Path.home() / ".cache" / "distilkit"
