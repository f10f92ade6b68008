"""Words, their character offsets, windows over long sentences, and entity spans: the torch-free half of tagging.

Models predict per sub-word; users and metrics think per word, and an application thinks in character spans of the
text it sent. Training (`data.alignment`), the metric (`evaluate.tag_metrics`) and the runtime (`runtime.tagging`)
all go through these functions, so a word is cut, windowed, merged back and decoded into an entity one way only:

* `words_with_offsets` splits raw text into words the way BERT does, with exact character offsets;
* `word_windows` cuts a sentence longer than the model's window into overlapping windows of whole words;
* `merge_windows` turns per-position scores of those windows back into exactly one score vector per word;
* `spans_from_bio` turns per-word IOB2 tags into entity spans of the text (strict IOB2, the rule the metric counts).
"""

from __future__ import annotations

import math
import string
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np


def is_entity_tagset(tags: Sequence[str]) -> bool:
    """Whether the tags are IOB2 entity tags (``O``, ``B-X``, ``I-X``): only those decode into spans."""
    return "O" in tags and all(t == "O" or (t[:2] in ("B-", "I-") and len(t) > 2) for t in tags)


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
    tag). Decoding is strict IOB2, the rule `evaluate.tag_metrics.entity_metrics` scores with: an entity starts at
    ``B-X`` and continues over ``I-X``; an ``I-X`` that continues nothing is dropped, so the spans returned are exactly
    the entities the metric counts.
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
