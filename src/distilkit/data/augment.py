"""Label-free augmentation of the transfer set for task distillation.

A student trained only on the training split sees the teacher's function at ~10k points, and there soft targets add
little over gold labels. Perturbed copies of the training texts let the teacher label new points near the data the
student will meet, which is where distillation pays off (Tang et al. 2019, "Distilling Task-Specific Knowledge from
BERT into Simple Neural Networks"; TinyBERT credits its data augmentation with most of its task-specific gain).

The two label-free rules from Tang et al., applied word by word:
  masking   each word becomes the tokenizer's mask token with probability `p_mask`;
  n-gram    with probability `p_ngram`, the copy is cut down to a random n-gram of it, n uniform in [1, 5].
The copies keep their source's gold label: it only matters when gold cross-entropy is on (alpha_ce > 0), and there
it is a noisy label by design; the teacher's soft target is what the student learns from.

Token classification uses masking alone (`augment_token_split`): a masked word keeps its tag, which is still the
right answer for that slot (a hidden word's part of speech or entity does not change), while an n-gram cut could
start in the middle of an entity.
"""

from __future__ import annotations

import random

from distilkit.core.errors import DistilkitError
from distilkit.data.classification import ClassificationSplit
from distilkit.data.tagged import TokenSplit

MAX_TRIES = 10  # attempts at a copy that differs from its source (a one-word text may never differ)


def perturb(text: str, rng: random.Random, mask_token: str, p_mask: float, p_ngram: float) -> str:
    """One perturbed copy of `text` by masking words and, sometimes, keeping only an n-gram."""
    words = [mask_token if rng.random() < p_mask else w for w in text.split()]
    if words and rng.random() < p_ngram:
        n = min(rng.randint(1, 5), len(words))
        start = rng.randint(0, len(words) - n)
        words = words[start : start + n]
    return " ".join(words)


def augment_split(
    split: ClassificationSplit,
    copies: int,
    mask_token: str,
    seed: int,
    p_mask: float = 0.1,
    p_ngram: float = 0.25,
) -> ClassificationSplit:
    """The split followed by `copies` perturbed copies of each example (same seed, same copies: resume-safe).

    A copy identical to its source is drawn again (up to MAX_TRIES) since it would teach nothing new; a second text
    (`text_pair`) is kept as is.
    """
    if copies < 0:
        raise DistilkitError(f"augment: copies must be >= 0 (got {copies})")
    if not (0 <= p_mask <= 1 and 0 <= p_ngram <= 1):
        raise DistilkitError(f"augment: probabilities must be in [0, 1] (got p_mask={p_mask}, p_ngram={p_ngram})")
    if copies == 0:
        return split
    rng = random.Random(seed)
    texts, labels = list(split.texts), list(split.labels)
    pairs = list(split.pairs) if split.pairs is not None else None
    for _ in range(copies):
        for i, text in enumerate(split.texts):
            new = text
            for _ in range(MAX_TRIES):
                new = perturb(text, rng, mask_token, p_mask, p_ngram)
                if new != text and new.strip():
                    break
            texts.append(new if new.strip() else text)
            labels.append(split.labels[i])
            if pairs is not None:
                pairs.append(split.pairs[i])
    return ClassificationSplit(texts, labels, pairs, source=f"{split.source} + {copies} augmented copies")


def augment_token_split(split: TokenSplit, copies: int, mask_token: str, seed: int, p_mask: float = 0.1) -> TokenSplit:
    """The split followed by `copies` copies of each sentence with words masked (probability `p_mask`, at least
    one word each), tags unchanged; deterministic in `seed`, like `augment_split`."""
    if copies < 0:
        raise DistilkitError(f"augment: copies must be >= 0 (got {copies})")
    if not 0 < p_mask <= 1:
        raise DistilkitError(f"augment: p_mask must be in (0, 1] (got {p_mask})")
    if copies == 0:
        return split
    rng = random.Random(seed)
    sentences, tags = list(split.sentences), list(split.tags)
    lines = list(split.lines) if split.lines else []
    for _ in range(copies):
        for i, words in enumerate(split.sentences):
            masked = [mask_token if rng.random() < p_mask else w for w in words]
            if words and masked == list(words):
                masked[rng.randrange(len(words))] = mask_token
            sentences.append(masked)
            tags.append(list(split.tags[i]))
            if lines:
                lines.append(split.lines[i])
    return TokenSplit(
        sentences,
        tags,
        source=f"{split.source} + {copies} augmented copies",
        scheme=split.scheme,
        lines=lines,
        one_word_per_line=split.one_word_per_line,
    )
