"""The teacher's logits over a transfer set, computed once and kept on disk, so 10^5-10^6 texts stay affordable.

Labelling a large pool is the teacher's longest pass (minutes to hours on a CPU), and it is the same for every seed
and every student distilled from that teacher: it is stored under the distilkit cache (`$DISTILKIT_CACHE`, or a
folder the caller names) in a folder keyed by

    sha256(format, teacher weights, tokenizer, precision, every example's token ids and labelled positions)

where the token ids already hold the texts, `max_length` and the long-text cut, so two runs share a folder exactly
when the teacher would compute the same numbers. The folder holds

    logits.npy   float32 [rows, classes], memory-mapped: one row per example (sequence classification) or per
                 labelled position of each example (token classification: a word's first sub-word), in example order
    offsets.npy  int64 [examples + 1]: example i owns rows offsets[i]:offsets[i + 1]
    meta.json    written last: the folder is complete

The pass runs in chunks of the examples sorted by length (little padding; each chunk batched by `teacher_logits_for`
and written back to its examples' rows); after each chunk the memory map is flushed and `progress.json` names the
chunks done, so a killed pass resumes at the next chunk. It fills `.partial-<key>/` and is renamed to `<key>/` when
complete, so a folder with a `meta.json` is never half written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from distilkit.core.atomic import write_json
from distilkit.core.cache import cache_dir
from distilkit.core.progress import ProgressLog
from distilkit.core.tasks import IGNORE_INDEX
from distilkit.data.batching import EncodedSplit
from distilkit.distil.objectives import CachedLogits, teacher_logits_for
from distilkit.distil.trainer import resolve_precision

FORMAT = 1  # bump when the layout or the key changes, so old folders are never misread
CHUNK_EXAMPLES = 2048  # examples per resumable chunk: ~10 s of the MiniLM teacher on one core


def default_root() -> Path:
    return cache_dir() / "teacher-outputs"


@dataclass
class StoreReport:
    """Where the outputs are, and what this run paid for them (`computed` 0: all reused)."""

    folder: str
    examples: int
    rows: int
    computed: int  # examples labelled by this run
    seconds: float
    texts_per_second: float | None
    bytes: int


def teacher_digest(teacher: nn.Module, tokenizer, precision: str) -> str:
    """sha256 of the teacher's weights (every tensor of its state dict, by name), its tokenizer and the precision."""
    h = hashlib.sha256(f"format {FORMAT}\nprecision {precision}\n".encode())
    for name, tensor in sorted(teacher.state_dict().items()):
        h.update(f"{name} {tuple(tensor.shape)} {tensor.dtype}\n".encode())
        h.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # less the truncation and padding state, which each call of the tokenizer may reset
        described = {k: v for k, v in json.loads(backend.to_str()).items() if k not in ("truncation", "padding")}
    else:
        described = sorted(tokenizer.get_vocab().items())
    h.update(json.dumps(described, sort_keys=True).encode())
    return h.hexdigest()


def examples_digest(encoded: EncodedSplit) -> str:
    """sha256 of what the teacher reads of each example: its token ids (and type ids) and which positions it labels."""
    h = hashlib.sha256()
    for features, labels in zip(encoded.features, encoded.labels, strict=True):
        h.update(np.asarray(features["input_ids"], dtype=np.int64).tobytes())
        h.update(np.asarray(features.get("token_type_ids", ()), dtype=np.int64).tobytes())
        read = [1] if isinstance(labels, int) else [int(x != IGNORE_INDEX) for x in labels]
        h.update(np.asarray(read, dtype=np.int8).tobytes() + b"|")
    return h.hexdigest()


def _row_counts(encoded: EncodedSplit) -> np.ndarray:
    return np.asarray([1 if isinstance(y, int) else sum(x != IGNORE_INDEX for x in y) for y in encoded.labels])


def _open(folder: Path) -> CachedLogits:
    values = np.load(folder / "logits.npy", mmap_mode="c")  # copy-on-write: writable for torch, never written back
    offsets = np.load(folder / "offsets.npy")
    return CachedLogits(torch.from_numpy(values), torch.from_numpy(offsets))


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def stored_teacher_logits(
    teacher: nn.Module,
    tokenizer,
    encoded: EncodedSplit,
    root: Path | None = None,
    precision: str = "fp32",
    quiet: bool = False,
    chunk_examples: int = CHUNK_EXAMPLES,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[CachedLogits, StoreReport]:
    """The teacher's aligned logits for every example of `encoded` (as `teacher_logits_for` gives them), from the
    store under `root` (default `default_root()`), computing only what is not there yet.

    `on_chunk(chunks_done)` is called after each chunk is saved: tests use it to kill a pass mid-way.
    """
    root = Path(root) if root is not None else default_root()
    precision = resolve_precision(precision)  # the key names what runs, not "auto"
    key = hashlib.sha256(f"{teacher_digest(teacher, tokenizer, precision)}\n{examples_digest(encoded)}".encode())
    folder = root / key.hexdigest()[:24]
    start = time.perf_counter()
    computed = 0
    if not (folder / "meta.json").is_file():
        computed = _fill(teacher, tokenizer, encoded, folder, precision, quiet, chunk_examples, on_chunk)
    elapsed = time.perf_counter() - start
    logits = _open(folder)
    report = StoreReport(
        folder=str(folder),
        examples=len(encoded),
        rows=int(logits.values.shape[0]),
        computed=computed,
        seconds=round(elapsed, 2),
        texts_per_second=round(computed / elapsed, 1) if computed else None,
        bytes=_size(folder),
    )
    return logits, report


def _fill(
    teacher: nn.Module,
    tokenizer,
    encoded: EncodedSplit,
    folder: Path,
    precision: str,
    quiet: bool,
    chunk_examples: int,
    on_chunk: Callable[[int], None] | None,
) -> int:
    """Compute the chunks `folder`'s partial sibling lacks, then publish it; returns the examples computed here."""
    partial = folder.with_name(f".partial-{folder.name}")
    counts = _row_counts(encoded)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    lengths = encoded.lengths()
    order = sorted(range(len(encoded)), key=lambda i: lengths[i])
    chunks: list[Sequence[int]] = [order[i : i + chunk_examples] for i in range(0, len(order), chunk_examples)]
    progress = partial / "progress.json"
    done = json.loads(progress.read_text())["chunks"] if progress.is_file() else 0
    if done == 0:  # nothing finished (or a pass killed before its first chunk): start clean
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        classes = int(teacher.config.num_labels)
        values = np.lib.format.open_memmap(partial / "logits.npy", "w+", np.float32, (int(offsets[-1]), classes))
        np.save(partial / "offsets.npy", offsets)
        write_json(progress, {"chunks": 0, "of": len(chunks)})
    else:
        values = np.load(partial / "logits.npy", mmap_mode="r+")
    before = sum(map(len, chunks[:done]))
    lines = ProgressLog("teacher outputs", len(encoded), unit="text", start=before, enabled=not quiet)
    computed = 0
    for c in range(done, len(chunks)):
        chunk = chunks[c]
        logits = teacher_logits_for(teacher, encoded.subset(chunk), tokenizer, quiet=True, precision=precision)
        for j, i in enumerate(chunk):
            values[offsets[i] : offsets[i + 1]] = logits.values[logits.offsets[j] : logits.offsets[j + 1]].numpy()
        values.flush()
        write_json(progress, {"chunks": c + 1, "of": len(chunks)})
        computed += len(chunk)
        lines.update(sum(map(len, chunks[: c + 1])))
        if on_chunk is not None:
            on_chunk(c + 1)
    lines.finish()
    del values
    write_json(partial / "meta.json", {"format": FORMAT, "examples": len(encoded), "rows": int(offsets[-1])})
    try:
        os.replace(partial, folder)
    except OSError:  # another process published the same outputs meanwhile: theirs are as good as ours
        shutil.rmtree(partial, ignore_errors=True)
    return computed


class JoinedLogits:
    """Cached logits of the gold examples followed by those of the transfer examples (`join_gold_and_transfer`'s
    index order), without copying the memory-mapped part into memory."""

    def __init__(self, gold: CachedLogits, transfer: CachedLogits):
        self.gold, self.transfer = gold, transfer
        self.split = len(gold.offsets) - 1

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        """The rows of the examples in `index`, in that order (what `CachedLogits.rows` gives)."""
        parts = []
        for i in index.tolist():
            cache, k = (self.gold, i) if i < self.split else (self.transfer, i - self.split)
            parts.append(cache.values[int(cache.offsets[k]) : int(cache.offsets[k + 1])])
        return torch.cat(parts)
