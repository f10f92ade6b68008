"""Word <-> sub-word alignment for token classification, windows over long sentences, and spans in the raw text.

Models predict per sub-word; users and metrics think per word, and an application thinks in character spans of the
text it sent. This module keeps the three consistent:

* `encode_words` tokenizes pre-split words with any Hugging Face *fast* tokenizer (it relies on ``word_ids()``),
  puts each word's label on its first sub-word (optionally on all of them) and -100 elsewhere, and cuts sentences
  longer than ``max_length`` into overlapping windows made of whole words.
* `merge_windows` turns per-position scores of those windows back into exactly one score vector per word.
* `words_with_offsets` splits raw text into words the way BERT does, with exact character offsets, and
  `spans_from_bio` turns per-word BIO tags into entity spans of that text.
"""

from __future__ import annotations

import math
import string
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

IGNORE_INDEX = -100
"""Label of positions the loss skips (the default ``ignore_index`` of ``torch.nn.CrossEntropyLoss``)."""

MODEL_INPUT_KEYS = ("input_ids", "attention_mask", "token_type_ids", "labels")
"""Keys of a window that go to the model; the others (``sentence``, ``word_ids``, ...) are bookkeeping."""


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


def word_windows(counts: list[int], budget: int, stride: int) -> list[tuple[int, int]]:
    """Word ranges [start, end) covering a sentence, each at most ``budget`` sub-words unless one word alone is more.

    Greedy: a window takes as many words as fit; the next one starts at the earliest word such that the words it
    shares with the previous window hold at most ``stride`` sub-words and the next new word still fits after them.
    """
    n = len(counts)
    if n == 0:
        return [(0, 0)]
    windows = []
    start = 0
    while True:
        end, used = start, 0
        while end < n and (end == start or used + counts[end] <= budget):
            used += counts[end]
            end += 1
        windows.append((start, end))
        if end == n:
            return windows
        shared = used
        next_start = start
        while next_start < end and (shared > stride or shared + counts[end] > budget):
            shared -= counts[next_start]
            next_start += 1
        start = max(next_start, start + 1)


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


def merge_windows(windows: Sequence[dict[str, Any]], per_position_scores: Sequence[Any]) -> list[np.ndarray]:
    """One score vector per word of every sentence, from the scores of `encode_words` windows.

    ``per_position_scores[k]`` holds window k's scores per position (e.g. logits ``[positions, num_tags]``; extra
    padded positions are ignored; a list, a padded array or a CPU tensor all work). A word's score is read at its
    first sub-word, the one its label was put on.

    A word seen in several windows takes its score from the window where it has the most context: the one
    maximising min(sub-words between the word and the window's left cut, sub-words between it and the right cut),
    where a window edge that is the sentence's own start or end is no cut (the word lacks no context there). Ties go
    to the earlier window. This is the "maximum context" rule BERT used for SQuAD's document spans.

    Returns a list indexed by sentence of arrays ``[num_words, *score_shape]``.
    """
    if len(per_position_scores) != len(windows):
        raise ValueError(f"{len(windows)} windows but {len(per_position_scores)} score arrays")
    best: dict[tuple[int, int], tuple[float, np.ndarray]] = {}
    lengths: dict[int, int] = {}
    trailing: tuple[int, ...] | None = None
    for window, scores in zip(windows, per_position_scores, strict=True):
        scores = np.asarray(scores)
        trailing = scores.shape[1:]
        s, n = window["sentence"], window["sentence_length"]
        lengths[s] = n
        word_ids = window["word_ids"]
        positions = [p for p, w in enumerate(word_ids) if w is not None]
        if not positions:
            continue
        left_edge = -math.inf if window["word_start"] == 0 else positions[0]
        right_edge = math.inf if window["word_end"] == n else positions[-1]
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for p in positions:
            first.setdefault(word_ids[p], p)
            last[word_ids[p]] = p
        for w, p in first.items():
            context = min(p - left_edge, right_edge - last[w])
            if (s, w) not in best or context > best[(s, w)][0]:
                best[(s, w)] = (context, scores[p])
    if trailing is None:
        return []
    merged = []
    for s in range(max(lengths) + 1):
        if s not in lengths:
            raise ValueError(f"sentence {s} has no window")
        missing = [w for w in range(lengths[s]) if (s, w) not in best]
        if missing:
            raise ValueError(f"sentence {s}: no prediction for words {missing}")
        rows = [best[(s, w)][1] for w in range(lengths[s])]
        merged.append(np.stack(rows) if rows else np.zeros((0, *trailing)))
    return merged


# Unicode White_Space, which Rust's char::is_whitespace (and so BertPreTokenizer) splits on; Python's str.isspace
# would also split on the information separators U+001C..U+001F.
_WHITESPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(c) for c in range(0x2000, 0x200B)
}
_ASCII_PUNCTUATION = frozenset(string.punctuation)
_CJK = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _is_punctuation(char: str) -> bool:
    return char in _ASCII_PUNCTUATION or unicodedata.category(char).startswith("P")


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK)


def words_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """Split raw text into (word, start, end) with ``text[start:end] == word``, the way BERT splits it into words.

    The rules are BertPreTokenizer's: whitespace (Unicode White_Space) separates words and is dropped; every
    punctuation character (ASCII punctuation such as ``$`` or ``+``, or a Unicode P* category) is a word of its own;
    and, as BertNormalizer's ``handle_chinese_chars`` does, every CJK ideograph is a word of its own. Everything
    else, accents, combining marks, emoji with their variation selectors, zero-width characters, stays inside the
    word it touches. Offsets count Python characters (code points), so they index the original string directly.
    """
    words: list[tuple[str, int, int]] = []
    start: int | None = None
    for i, char in enumerate(text):
        if char in _WHITESPACE:
            if start is not None:
                words.append((text[start:i], start, i))
                start = None
        elif _is_punctuation(char) or _is_cjk(char):
            if start is not None:
                words.append((text[start:i], start, i))
                start = None
            words.append((char, i, i + 1))
        elif start is None:
            start = i
    if start is not None:
        words.append((text[start:], start, len(text)))
    return words


def spans_from_bio(
    words_with_offsets: Sequence[tuple[str, int, int]],
    tags: Sequence[str],
    scores: Sequence[float],
    text: str,
) -> list[dict[str, Any]]:
    """Entity spans ``{type, start, end, text, score}`` of ``text`` from per-word IOB2 tags and scores.

    A span runs from its first word's start to its last word's end, so ``text[start:end]`` keeps the original
    spacing inside the entity; its score is the mean of its words' scores (e.g. the probability of each predicted
    tag). Decoding is strict IOB2, the rule `distilkit.metrics_tokens.entity_metrics` scores with: an entity starts
    at ``B-X`` and continues over ``I-X``; an ``I-X`` that continues nothing is dropped, so the spans returned are
    exactly the entities the metric counts.
    """
    if not len(words_with_offsets) == len(tags) == len(scores):
        raise ValueError(f"{len(words_with_offsets)} words, {len(tags)} tags and {len(scores)} scores")
    spans: list[dict[str, Any]] = []
    current: tuple[str, int, list[int]] | None = None  # (type, first word, words)

    def close() -> None:
        if current is not None:
            kind, first, members = current
            start, end = words_with_offsets[first][1], words_with_offsets[members[-1]][2]
            mean = float(np.mean([scores[i] for i in members]))
            spans.append({"type": kind, "start": start, "end": end, "text": text[start:end], "score": mean})

    for i, tag in enumerate(tags):
        if tag.startswith("I-") and current is not None and current[0] == tag[2:]:
            current[2].append(i)
            continue
        close()
        current = (tag[2:], i, [i]) if tag.startswith("B-") else None
    close()
    return spans
