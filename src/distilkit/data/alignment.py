"""Word <-> sub-word alignment for token classification: tagged words in, model windows with labels out.

`encode_words` tokenizes pre-split words with any Hugging Face *fast* tokenizer (it relies on ``word_ids()``), puts
each word's label on its first sub-word (optionally on all of them) and -100 elsewhere, and cuts sentences longer
than ``max_length`` into overlapping windows of whole words (`core.words.word_windows`, the rule the runtime uses
too); `core.words.merge_windows` reads the predictions back, one per word.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distilkit.core.tasks import IGNORE_INDEX
from distilkit.core.words import word_windows


def encode_words(
    tokenizer: Any,
    words_batch: Sequence[Sequence[str]],
    tags_batch: Sequence[Sequence[str]] | None = None,
    tag2id: dict[str, int] | None = None,
    max_length: int = 512,
    stride: int = 128,
    label_all_subwords: bool = False,
) -> list[dict[str, Any]]:
    """Tokenize sentences given as words into windows of at most ``max_length`` tokens (special tokens included).

    Returns one dict per window, unpadded, with the tokenizer's ``input_ids``, ``attention_mask`` (and
    ``token_type_ids`` if it makes them), ``labels`` when tags are given, and bookkeeping for `merge_windows`:
    ``sentence`` (index in the batch), ``word_ids`` (per position, the word's index in its *sentence*, None for
    special tokens), ``word_start``/``word_end`` (the window's words, end exclusive) and ``sentence_length``.

    Labels: a word's tag goes on its first sub-word; the others get -100 so each word counts once in the loss, the
    usual choice, and the one `merge_windows` reads back. With ``label_all_subwords`` every sub-word is labelled,
    a ``B-X`` word's continuation pieces with ``I-X`` (when ``I-X`` is in ``tag2id``), since they continue the
    entity rather than start another one.

    Windows: a sentence that does not fit is cut into windows of whole words (a word is never split across windows,
    so its first sub-word, which carries its label and prediction, is always there); consecutive windows share
    whole words worth at most ``stride`` sub-words. Words in the overlap are labelled in both windows. A single word
    longer than a whole window gets a window of its own and loses its tail pieces (its first piece is kept).

    Words that tokenize to nothing (e.g. a lone zero-width space or control character, which BERT's normalizer
    deletes) are replaced by the tokenizer's unknown token before tokenizing, so every word still has a position
    and a prediction.

    Byte-level BPE tokenizers (RoBERTa, GPT-2) need ``add_prefix_space=True`` to accept pre-split words.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("encode_words needs a fast (Rust) tokenizer: it aligns words through word_ids()")
    if tags_batch is not None:
        if tag2id is None:
            raise ValueError("tags_batch given without tag2id")
        if len(tags_batch) != len(words_batch):
            raise ValueError(f"{len(words_batch)} sentences but {len(tags_batch)} tag lists")
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    if budget < 1:
        raise ValueError(f"max_length {max_length} leaves no room for words after the special tokens")
    if not 0 <= stride < budget:
        raise ValueError(f"stride must be in [0, {budget}) for max_length {max_length}, got {stride}")

    words_batch = [list(words) for words in words_batch]
    pieces = _piece_counts(tokenizer, words_batch)
    window_words: list[list[str]] = []
    spans: list[tuple[int, int, int]] = []  # (sentence, word_start, word_end)
    for s, counts in enumerate(pieces):
        for start, end in word_windows(counts, budget, stride):
            spans.append((s, start, end))
            window_words.append(words_batch[s][start:end])

    windows: list[dict[str, Any]] = []
    non_empty = [k for k, words in enumerate(window_words) if words]
    encoded = (
        tokenizer(
            [window_words[k] for k in non_empty], is_split_into_words=True, truncation=True, max_length=max_length
        )
        if non_empty
        else None
    )
    row_of = {k: row for row, k in enumerate(non_empty)}
    empty = tokenizer("") if len(non_empty) < len(spans) else None  # special tokens only, for empty sentences
    for k, (s, start, end) in enumerate(spans):
        if k in row_of:
            row = row_of[k]
            window = {key: list(encoded[key][row]) for key in encoded}
            word_ids = [None if w is None else w + start for w in encoded.word_ids(row)]
        else:
            assert empty is not None
            window = {key: list(empty[key]) for key in empty}
            word_ids = [None] * len(window["input_ids"])
        window.update(sentence=s, word_ids=word_ids, word_start=start, word_end=end, sentence_length=len(pieces[s]))
        if tags_batch is not None:
            assert tag2id is not None
            window["labels"] = _labels(word_ids, list(tags_batch[s]), tag2id, label_all_subwords, s)
        windows.append(window)
    return windows


def _piece_counts(tokenizer: Any, words_batch: list[list[str]]) -> list[list[int]]:
    """Sub-words per word; words with none are replaced (in place) by the unknown token and counted again."""
    counts = _count(tokenizer, words_batch)
    replacement = tokenizer.unk_token or "?"
    redo = []
    for s, sentence_counts in enumerate(counts):
        if 0 in sentence_counts:
            words_batch[s] = [
                replacement if n == 0 else w for w, n in zip(words_batch[s], sentence_counts, strict=True)
            ]
            redo.append(s)
    if redo:
        for s, sentence_counts in zip(redo, _count(tokenizer, [words_batch[s] for s in redo]), strict=True):
            if 0 in sentence_counts:
                raise ValueError(f"sentence {s}: a word yields no sub-word even as {replacement!r}")
            counts[s] = sentence_counts
    return counts


def _count(tokenizer: Any, words_batch: list[list[str]]) -> list[list[int]]:
    counts = [[0] * len(words) for words in words_batch]
    rows = [s for s, words in enumerate(words_batch) if words]
    if not rows:
        return counts
    encoded = tokenizer([words_batch[s] for s in rows], is_split_into_words=True, add_special_tokens=False)
    for row, s in enumerate(rows):
        for w in encoded.word_ids(row):
            if w is not None:
                counts[s][w] += 1
    return counts


def _labels(
    word_ids: list[int | None], tags: list[str], tag2id: dict[str, int], label_all: bool, sentence: int
) -> list[int]:
    labels = []
    previous = None
    for w in word_ids:
        if w is None:
            labels.append(IGNORE_INDEX)
        else:
            tag = tags[w]
            if w != previous:
                labels.append(_tag_id(tag, tag2id, sentence, w))
            elif label_all:
                inside = f"I-{tag[2:]}"
                labels.append(tag2id[inside] if tag.startswith("B-") and inside in tag2id else tag2id[tag])
            else:
                labels.append(IGNORE_INDEX)
        previous = w
    return labels


def _tag_id(tag: str, tag2id: dict[str, int], sentence: int, word: int) -> int:
    if tag not in tag2id:
        raise ValueError(f"sentence {sentence} word {word}: tag {tag!r} is not in tag2id")
    return tag2id[tag]
