"""Raw texts of an exact token count, so a from-text bench times the shapes its settings name.

Test sets rarely have texts of exactly 128 tokens (sentiment snippets are mostly under 40). To time "batch 1, 128
tokens" from raw text, consecutive test texts are joined and the result is cut at the end of a word piece so that it
tokenises to exactly the setting's length, special tokens included. Every model of a bench gets the same strings.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer

from distilkit.core.errors import DistilkitError


def load_tokenizer(folder: str | Path) -> Tokenizer:
    """The `tokenizer.json` of an HF folder or a bundle, without truncation or padding."""
    path = Path(folder) / "tokenizer.json"
    if not path.is_file():
        raise DistilkitError(f"{path}: missing (a from-text bench needs a fast tokenizer's tokenizer.json)")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def texts_of_length(tokenizer: Tokenizer, source: list[str], tokens: int, count: int) -> list[str]:
    """`count` texts that tokenise to exactly `tokens` tokens (special tokens included), built from `source`."""
    if not source or not any(t.strip() for t in source):
        raise DistilkitError("bench: no test texts to build timing inputs from")
    specials = len(tokenizer.encode("").ids)
    body = tokens - specials
    if body < 1:
        raise DistilkitError(f"bench: {tokens} tokens leave no room for text after {specials} special tokens")
    out: list[str] = []
    i = 0
    attempts = 0
    while len(out) < count:
        attempts += 1
        if attempts > 20 * count:
            raise DistilkitError(f"bench: could not build texts of exactly {tokens} tokens from the test texts")
        parts: list[str] = []
        while True:
            parts.append(source[i % len(source)])
            i += 1
            text = " ".join(parts)
            encoding = tokenizer.encode(text, add_special_tokens=False)
            if len(encoding.ids) >= body:
                break
        candidate = text[: encoding.offsets[body - 1][1]]
        # A cut inside a word can re-tokenise differently; such a candidate is dropped, not padded.
        if len(tokenizer.encode(candidate).ids) == tokens:
            out.append(candidate)
    return out
