"""Which texts an export validates, scores and calibrates on: a data folder's dev and train splits, one file, or a
few built-in sentences (enough to catch a broken graph, too few to choose a quantization by accuracy)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from distilkit.core.errors import DistilkitError
from distilkit.data.sources import existing_data, find_split_file, is_hf

BUILTIN_TEXTS = (
    "A gripping, beautifully acted film.",
    "The plot was dull and far too long.",
    "ok",
    "I would not watch it again, but the music was lovely.",
    "The government announced new measures to support small businesses on Tuesday.",
    "Shares fell sharply after the company reported lower profits than expected.",
    "The striker scored twice in the second half to win the match.",
    "Researchers have released a faster way to train language models on ordinary laptops.",
    "What a waste of two hours!",
    "Absolutely wonderful from start to finish; the cast is superb and the story moves quickly.",
    "It is neither good nor bad, just forgettable.",
    "Paris is the capital of France and Berlin is the capital of Germany.",
    "Maria Lopez joined Acme Corp in London last March.",
    "The service was slow, the food was cold, and nobody apologised.",
    "Great value.",
    "After a slow start the second season finds its voice, with sharper writing, braver choices and a finale that "
    "ties every thread together without feeling rushed or predictable.",
)


@dataclass
class ExportTexts:
    """Texts for validation/scoring (with gold labels when the data has them) and for static calibration."""

    validation: list[str]
    calibration: list[str]
    gold: list[str] | None = None
    source: str = "built-in sentences"
    calibration_source: str = "built-in sentences"


def export_texts(
    data: str | None,
    task: str,
    text_column: str = "text",
    label_column: str = "label",
    max_texts: int = 1000,
    calibration_size: int = 128,
    seed: int = 0,
) -> ExportTexts:
    """The texts an export uses (see the module docstring); validation keeps the first `max_texts` in file order."""
    if data is None:
        texts = list(BUILTIN_TEXTS)
        return ExportTexts(texts[:max_texts], texts)
    found = existing_data(data)
    resolved: Path | str = found if is_hf(found) else Path(found)
    if task == "token-classification":
        valid, gold, calib, sources = _token_texts(resolved)
    else:
        valid, gold, calib, sources = _classification_texts(resolved, text_column, label_column)
    rng = random.Random(seed)
    if len(calib) > calibration_size:
        calib = rng.sample(calib, calibration_size)
    return ExportTexts(
        validation=valid[:max_texts],
        calibration=calib,
        gold=gold[:max_texts] if gold is not None and task == "sequence-classification" else None,
        source=sources[0],
        calibration_source=sources[1],
    )


def _classification_texts(
    resolved: Path | str, text_column: str, label_column: str
) -> tuple[list[str], list[str] | None, list[str], tuple[str, str]]:
    from distilkit.data.classification import FILE_FORMATS, Columns, load_classification, read_split

    columns = Columns(text=text_column, label=label_column)
    if isinstance(resolved, str):  # hf:NAME
        loaded = load_classification(resolved, None, None, columns)
        dev = loaded.dev if loaded.dev is not None else loaded.train
        return dev.texts, dev.labels, loaded.train.texts, (dev.source, loaded.train.source)
    if resolved.is_dir():
        dev_file = find_split_file(resolved, "dev", tuple(FILE_FORMATS))
        train_file = find_split_file(resolved, "train", tuple(FILE_FORMATS))
        if dev_file is None:
            raise DistilkitError(f"{resolved}: no dev.csv, dev.tsv or dev.jsonl to validate the export on")
        dev = read_split(dev_file, columns)
        train = read_split(train_file, columns) if train_file is not None else dev
        return dev.texts, dev.labels, train.texts, (str(dev_file), str(train_file or dev_file))
    if resolved.suffix.lower() == ".txt":  # plain texts, one per line: enough to validate and calibrate, no labels
        from distilkit.data.texts import text_lines

        lines = [line for line in text_lines(resolved) if line.strip()]
        if not lines:
            raise DistilkitError(f"{resolved}: no texts (the file is empty)")
        return lines, None, lines, (str(resolved), str(resolved))
    split = read_split(resolved, columns)
    return split.texts, split.labels, split.texts, (str(resolved), str(resolved))


def _token_texts(resolved: Path | str) -> tuple[list[str], None, list[str], tuple[str, str]]:
    """Sentences of a CoNLL/JSONL token split, words joined by spaces (the runtime takes raw text)."""
    from distilkit.data.tagged import FILE_FORMATS, read_token_split

    if isinstance(resolved, str):
        raise DistilkitError(f"{resolved}: give a token-classification file or folder (hf: is not supported here)")
    if resolved.is_dir():
        dev_file = find_split_file(resolved, "dev", tuple(FILE_FORMATS))
        train_file = find_split_file(resolved, "train", tuple(FILE_FORMATS))
        if dev_file is None:
            raise DistilkitError(f"{resolved}: no dev.conll, dev.txt or dev.jsonl to validate the export on")
    else:
        dev_file, train_file = resolved, None
    dev = [" ".join(words) for words in read_token_split(dev_file).sentences]
    train = [" ".join(words) for words in read_token_split(train_file).sentences] if train_file else dev
    return dev, None, train, (str(dev_file), str(train_file or dev_file))
