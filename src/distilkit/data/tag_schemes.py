"""Tagging schemes: IOB1, IOB2 (BIO) and BIOES/BILOU all become IOB2 on the way in; plain tags (POS) stay as they are.

The loss, the metrics (seqeval, strict IOB2) and the span decoder then only ever see one scheme, and a file tagged in
another convention scores exactly as well as the same annotation in BIO. Tags without a prefix (POS tags such as
``NN``, ``VBZ``, ``PRP$``) are kept unchanged, so ``-LRB-`` or ``PRP$`` are never mistaken for broken entity tags.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from distilkit.core.errors import DistilkitError

SCHEMES = {
    "auto": "auto",
    "iob1": "iob1",
    "iob2": "iob2",
    "bio": "iob2",
    "bioes": "bioes",
    "iobes": "bioes",
    "bilou": "bioes",
    "none": "none",
    "plain": "none",
}
OUTSIDE = "O"
_PREFIXED = re.compile(r"^([A-Z])-(.+)$")
_ENTITY_PREFIXES = {"iob1": "BI", "iob2": "BI", "bioes": "BIESLU"}


class TaggedSentences(Protocol):
    """What normalisation needs of a split: its tags (rewritten in place), its scheme, and where a word is."""

    tags: list[list[str]]
    scheme: str
    where: Callable[..., str]


def resolve_scheme(scheme: str) -> str:
    key = scheme.lower()
    if key not in SCHEMES:
        raise DistilkitError(f"unknown tagging scheme {scheme!r} (expected one of: {', '.join(SCHEMES)})")
    return SCHEMES[key]


def normalise(split: TaggedSentences, scheme: str) -> TaggedSentences:
    """Validate tag prefixes and rewrite the tags to IOB2 in place; record the scheme the source used.

    With ``auto``, a file is an entity file if any tag looks like ``X-TYPE`` with X in B, I, E, S, L, U; then every
    tag must be ``O`` or prefixed, and the scheme is BIOES if an E-/S-/L-/U- tag occurs, IOB1 if an I- tag starts an
    entity, IOB2 otherwise. A file with no such tag holds plain tags (POS), kept unchanged, so ``-LRB-`` or ``PRP$``
    are never mistaken for broken entity tags.
    """
    if scheme == "auto":
        entity = any(_prefix(tag) in "BIESLU" for sentence in split.tags for tag in sentence if tag != OUTSIDE)
        scheme = "iob2" if entity else "none"
        if entity:
            _check_prefixes(split, "BIESLU")
            if any(_prefix(tag) in "ESLU" for sentence in split.tags for tag in sentence):
                scheme = "bioes"
            elif _first_inside(split) is not None:
                scheme = "iob1"
    elif scheme != "none":
        _check_prefixes(split, _ENTITY_PREFIXES[scheme])
        if scheme == "iob2" and (found := _first_inside(split)) is not None:
            i, j = found
            raise DistilkitError(
                f"{split.where(i, j)}: tag {split.tags[i][j]!r} starts an entity, which IOB2 does not allow "
                "(use scheme 'iob1' or 'auto')"
            )
    split.scheme = scheme
    if scheme != "none":
        split.tags = [to_iob2(sentence) for sentence in split.tags]
    return split


def _prefix(tag: str) -> str:
    """The one-letter prefix of ``X-TYPE``, or a string matching no prefix."""
    match = _PREFIXED.match(tag)
    return match.group(1) if match else "?"


def _check_prefixes(split: TaggedSentences, allowed: str) -> None:
    for i, sentence in enumerate(split.tags):
        for j, tag in enumerate(sentence):
            if tag != OUTSIDE and _prefix(tag) not in allowed:
                expected = ", ".join(f"{p}-" for p in allowed)
                raise DistilkitError(f"{split.where(i, j)}: invalid tag {tag!r} (expected O or a prefix {expected})")


def _first_inside(split: TaggedSentences) -> tuple[int, int] | None:
    """Position of the first I- tag that starts an entity (IOB1 style), if any."""
    for i, sentence in enumerate(split.tags):
        previous = OUTSIDE
        for j, tag in enumerate(sentence):
            if tag.startswith("I-") and previous[2:] != tag[2:]:
                return i, j
            previous = tag
    return None


def to_iob2(tags: list[str]) -> list[str]:
    """Rewrite one sentence's IOB1, IOB2 or BIOES/BILOU tags as IOB2, where every entity starts with B-.

    S-/U- become B-, E-/L- become I-, and an I- that does not continue an entity of its type (IOB1's way of starting
    one) becomes B-; a sequence already in IOB2 comes back unchanged.
    """
    out: list[str] = []
    previous = OUTSIDE
    for tag in tags:
        if tag == OUTSIDE:
            new = tag
        else:
            prefix, kind = tag[0], tag[2:]
            if prefix in "SU":
                new = f"B-{kind}"
            elif prefix in "IEL":
                new = f"I-{kind}" if previous != OUTSIDE and previous[2:] == kind else f"B-{kind}"
            else:
                new = tag
        out.append(new)
        previous = new
    return out
