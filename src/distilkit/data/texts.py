"""Unlabelled texts to distil sentence embeddings on: one per line of a `.txt` file, or the texts of labelled data.

No labels are needed for embedding distillation, so any text works; a data folder or known dataset contributes its
train texts, with its dev texts held out to measure how close the student gets.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from distilkit.core.errors import DistilkitError
from distilkit.data.classification import FILE_FORMATS, read_split
from distilkit.data.lines import utf8_lines
from distilkit.data.sources import find_split_file, resolve_data

HELD_OUT_FRACTION = 0.05


@dataclass
class EmbeddingTexts:
    """Texts to distil on, and held-out texts to measure how close the student gets."""

    train: list[str]
    dev: list[str]
    source: str


def text_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file; a line that is not UTF-8 is ``FILE:N: not valid UTF-8``."""
    return [line.rstrip("\r\n") for _, line in utf8_lines(path, reason=False)]


def read_texts(spec: str, seed: int = 0) -> EmbeddingTexts:
    """Texts from a `.txt` file (one per line), a split file, or a data folder / known dataset (train + dev splits).

    Without a dev split, a seeded 5% of the texts is held out.
    """
    path = Path(resolve_data(spec))
    if path.is_dir():
        train_file = find_split_file(path, "train", tuple(FILE_FORMATS))
        dev_file = find_split_file(path, "dev", tuple(FILE_FORMATS))
        if train_file is None:
            raise DistilkitError(f"{path}: no train split file in this folder")
        train_texts = read_split(train_file).texts
        if dev_file is not None:
            return EmbeddingTexts(train_texts, read_split(dev_file).texts, str(path))
        texts = train_texts
    elif path.suffix == ".txt" and path.is_file():
        texts = [line.strip() for line in text_lines(path) if line.strip()]
    elif path.is_file():
        texts = read_split(path).texts
    else:
        raise DistilkitError(f"{spec}: no such text file, data folder or known dataset")
    if len(texts) < 2:
        raise DistilkitError(f"{path}: need at least 2 texts to distil on and hold one out")
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    held = max(1, int(len(texts) * HELD_OUT_FRACTION))
    return EmbeddingTexts([texts[i] for i in order[held:]], [texts[i] for i in order[:held]], str(path))
