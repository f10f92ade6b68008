"""Raw-text corpora for general distillation: streamed, tokenised once, memory-mapped.

A corpus is text files or folders of them (`.txt`, `.txt.gz`, `.jsonl` with a `text` field), one paragraph a line.
It is read line by line and tokenised in chunks straight into a flat file of token ids (`ids.bin`) plus the offset of
each paragraph (`offsets.npy`) and the corpus frequency of each token id (`counts.npy`, which the masking uses).
The folder is keyed by a hash of the files' bytes and of the tokenizer's vocabulary, so a second run on the same
corpus and tokenizer reuses it, and any change rebuilds it. Training then reads the ids through `np.memmap`: the
corpus itself is never held in RAM, only one (start, length) pair per training sequence.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from distilkit.core.atomic import new_folder, write_json
from distilkit.core.cache import cache_dir
from distilkit.core.errors import DistilkitError

SUFFIXES = (".txt", ".txt.gz", ".jsonl")
FORMAT = 1  # bump when the cache layout changes, so old caches are rebuilt rather than misread
CHUNK_LINES = 2000  # paragraphs tokenised per call: large enough for the fast tokenizer's batching, small in RAM
MIN_TOKENS = 12  # the reference DistilBERT drops sequences of 11 tokens or fewer (specials included)


def corpus_files(paths: Sequence[str | Path]) -> list[Path]:
    """The corpus files named by `paths` (files, or folders searched recursively), in a stable order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
            if not found:
                raise DistilkitError(f"{path}: no {', '.join(SUFFIXES)} files in this folder")
            files += found
        elif path.is_file():
            if not path.name.endswith(SUFFIXES):
                raise DistilkitError(f"{path}: corpus files must end in {', '.join(SUFFIXES)}")
            files.append(path)
        else:
            raise DistilkitError(f"{path}: no such corpus file or folder")
    return files


def iter_paragraphs(path: Path) -> Iterator[str]:
    """Non-empty paragraphs of one file, one per line, streamed."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if path.name.endswith(".jsonl"):
                if not line.strip():
                    continue
                try:
                    line = json.loads(line)["text"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise DistilkitError(f"{path}:{n}: expected a JSON object with a 'text' field") from None
            text = line.strip()
            if text:
                yield text


def corpus_key(files: Sequence[Path], tokenizer) -> str:
    """Hash of the corpus bytes and the tokenizer's vocabulary and settings: equal keys mean equal token ids."""
    h = hashlib.sha256(f"format {FORMAT}\n".encode())
    for path in files:
        h.update(f"{path.name}\n".encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    vocab = sorted(tokenizer.get_vocab().items())
    h.update(json.dumps([type(tokenizer).__name__, vocab, getattr(tokenizer, "do_lower_case", None)]).encode())
    return h.hexdigest()[:20]


@dataclass
class TokenCache:
    """A built cache: token ids of every paragraph, memory-mapped, and per-token corpus counts."""

    folder: Path
    ids: np.ndarray  # memmap, all paragraphs concatenated, no special tokens
    offsets: np.ndarray  # paragraph i is ids[offsets[i]:offsets[i + 1]]
    counts: np.ndarray  # occurrences of each token id in the corpus
    build_seconds: float  # 0.0 when the cache was reused

    @property
    def num_tokens(self) -> int:
        return int(self.offsets[-1])


def build_cache(paths: Sequence[str | Path], tokenizer, root: Path | None = None) -> TokenCache:
    """Tokenise the corpus once into `root/<key>/` (default: the distilkit cache), or reuse it if it is there."""
    files = corpus_files(paths)
    root = root or cache_dir() / "corpus"
    folder = root / corpus_key(files, tokenizer)
    reused = (folder / "meta.json").is_file()
    start = time.perf_counter()
    if not reused:
        _write_cache(files, tokenizer, folder)
    elapsed = 0.0 if reused else time.perf_counter() - start
    return open_cache(folder, elapsed)


def open_cache(folder: Path, build_seconds: float = 0.0) -> TokenCache:
    meta = json.loads((folder / "meta.json").read_text())
    offsets = np.load(folder / "offsets.npy")
    ids = np.memmap(folder / "ids.bin", dtype=meta["dtype"], mode="r", shape=(int(offsets[-1]),))
    return TokenCache(folder, ids, offsets, np.load(folder / "counts.npy"), build_seconds)


def _write_cache(files: Sequence[Path], tokenizer, folder: Path) -> None:
    """Stream, tokenise and append; written under a temporary name and renamed, so a killed build leaves nothing."""
    with new_folder(folder, replace=False) as tmp:
        _fill_cache(files, tokenizer, tmp)


def _fill_cache(files: Sequence[Path], tokenizer, tmp: Path) -> None:
    dtype = np.uint16 if len(tokenizer) <= np.iinfo(np.uint16).max + 1 else np.uint32
    counts = np.zeros(len(tokenizer), dtype=np.int64)
    offsets = [0]
    with (tmp / "ids.bin").open("wb") as out:
        for chunk in _chunks(p for path in files for p in iter_paragraphs(path)):
            encoded = tokenizer(chunk, add_special_tokens=False)["input_ids"]
            flat = np.fromiter((t for ids in encoded for t in ids), dtype=dtype)
            out.write(flat.tobytes())
            for ids in encoded:
                offsets.append(offsets[-1] + len(ids))
            counts += np.bincount(flat, minlength=len(counts))[: len(counts)]
    if offsets[-1] == 0:
        raise DistilkitError(f"corpus {', '.join(map(str, files))}: no text")
    np.save(tmp / "offsets.npy", np.asarray(offsets, dtype=np.int64))
    np.save(tmp / "counts.npy", counts)
    meta = {"dtype": np.dtype(dtype).name, "files": [str(f) for f in files], "paragraphs": len(offsets) - 1}
    write_json(tmp / "meta.json", meta)


def _chunks(lines: Iterator[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == CHUNK_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def sequence_spans(cache: TokenCache, max_length: int, pack: bool) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) in `cache.ids` of each training sequence, `max_length` counting [CLS] and [SEP].

    pack=True cuts the concatenated corpus into full-length windows (no padding at all; the < max_length tokens left
    at the end are dropped, so every sequence, hence every process's share of a batch, weighs the same); pack=False
    keeps paragraphs
    apart, cutting long ones into windows, and lets the sampler group them by length. Either way sequences of fewer
    than MIN_TOKENS tokens are dropped.
    """
    body = max_length - 2
    if body < 1:
        raise DistilkitError(f"max_length: must be at least 3, not {max_length}")
    if pack:
        starts = np.arange(0, cache.num_tokens - body + 1, body, dtype=np.int64)
        lengths = np.full(len(starts), body, dtype=np.int64)
    else:
        para_start, para_len = cache.offsets[:-1], np.diff(cache.offsets)
        pieces = (para_len + body - 1) // body
        owner = np.repeat(np.arange(len(para_len)), pieces)
        first = np.cumsum(pieces) - pieces
        within = np.arange(len(owner)) - np.repeat(first, pieces)
        starts = para_start[owner] + within * body
        lengths = np.minimum(body, para_len[owner] - within * body)
    keep = lengths + 2 >= MIN_TOKENS
    return starts[keep], lengths[keep]


class CorpusSequences(torch.utils.data.Dataset):
    """Training sequences read from the memory-mapped cache: `[CLS] ids [SEP]` for sequence i, and i itself."""

    def __init__(self, cache: TokenCache, max_length: int, cls_id: int, sep_id: int, pack: bool = False):
        self.cache = cache
        self.starts, self.lens = sequence_spans(cache, max_length, pack)
        self.cls_id, self.sep_id = cls_id, sep_id

    def __len__(self) -> int:
        return len(self.starts)

    def lengths(self) -> list[int]:
        return (self.lens + 2).tolist()

    def token_ids(self, i: int) -> np.ndarray:
        start, n = int(self.starts[i]), int(self.lens[i])
        return np.concatenate(([self.cls_id], self.cache.ids[start : start + n], [self.sep_id])).astype(np.int64)

    def num_tokens(self) -> int:
        return int((self.lens + 2).sum())
