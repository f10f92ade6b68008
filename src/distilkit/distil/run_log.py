"""Where a training run records each optimizer step: JSON lines, CSV, and TensorBoard when it is installed.

JSON lines keep every field even when an objective adds one mid-run; the CSV is for spreadsheets and plotting
scripts (columns fixed by the first step written, so a resumed run appends compatible rows); TensorBoard is for
watching a long run live. All three are appended to, so a resumed run continues the same curves; the steps a killed
run logged after its last checkpoint are dropped first (`after_step`), since the resumed run does them again.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from distilkit.core.atomic import write_text


class RunLog:
    """Per-step records under `out_dir`; only the main process should create one."""

    def __init__(self, out_dir: Path, after_step: int = 0):
        out_dir.mkdir(parents=True, exist_ok=True)
        _drop_steps_after(out_dir / "train_log.jsonl", out_dir / "train_log.csv", after_step)
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


def _drop_steps_after(jsonl: Path, csv_path: Path, step: int) -> None:
    """Keep only the records of steps up to `step` (all of them for a fresh run, which has no log yet)."""
    if jsonl.is_file():
        kept = [line for line in jsonl.read_text().splitlines(keepends=True) if json.loads(line)["step"] <= step]
        write_text(jsonl, "".join(kept))
    if csv_path.is_file() and csv_path.stat().st_size > 0:
        with csv_path.open(newline="") as f:
            rows = list(csv.reader(f))
        at = rows[0].index("step") if rows and "step" in rows[0] else None
        if at is not None:
            buffer = io.StringIO()
            csv.writer(buffer).writerows([rows[0], *(r for r in rows[1:] if int(float(r[at])) <= step)])
            write_text(csv_path, buffer.getvalue())


def _tensorboard_writer(folder: Path):
    """A SummaryWriter if the `tensorboard` package is installed (torch's writer needs it), else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder))
