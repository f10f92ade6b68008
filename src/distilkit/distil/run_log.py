"""Where a training run records each optimizer step: JSON lines, CSV, and TensorBoard when it is installed.

JSON lines keep every field even when an objective adds one mid-run; the CSV is for spreadsheets and plotting
scripts (columns fixed by the first step written, so a resumed run appends compatible rows); TensorBoard is for
watching a long run live. All three are appended to, so a resumed run continues the same curves.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path


class RunLog:
    """Per-step records under `out_dir`; only the main process should create one."""

    def __init__(self, out_dir: Path):
        out_dir.mkdir(parents=True, exist_ok=True)
        self.jsonl = (out_dir / "train_log.jsonl").open("a")
        csv_path = out_dir / "train_log.csv"
        self.columns: list[str] | None = None
        if csv_path.is_file() and csv_path.stat().st_size > 0:
            with csv_path.open(newline="") as f:
                self.columns = next(csv.reader(f), None)
        self.csv_file = csv_path.open("a", newline="")
        self.csv: csv.DictWriter | None = None
        self.tensorboard = _tensorboard_writer(out_dir / "tensorboard")

    def write(self, record: dict[str, float]) -> None:
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        if self.csv is None:
            fresh = self.columns is None
            self.columns = self.columns or list(record)
            self.csv = csv.DictWriter(self.csv_file, fieldnames=self.columns, extrasaction="ignore")
            if fresh:
                self.csv.writeheader()
        self.csv.writerow(record)
        self.csv_file.flush()
        if self.tensorboard is not None:
            for key, value in record.items():
                if key != "step":
                    self.tensorboard.add_scalar(f"train/{key}", value, int(record["step"]))

    def close(self) -> None:
        self.jsonl.close()
        self.csv_file.close()
        if self.tensorboard is not None:
            self.tensorboard.close()


def _tensorboard_writer(folder: Path):
    """A SummaryWriter if the `tensorboard` package is installed (torch's writer needs it), else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder))
