"""Dynamic masking for masked-language-model distillation, as the reference DistilBERT does it.

Each time a sequence is drawn, 15% of its (non-special) tokens are chosen as prediction targets; of those 80% become
[MASK], 10% stay as they are and 10% become a random token. Targets are not chosen uniformly: a position is picked
with probability proportional to count(token)^-0.7, so frequent words ("the", ",") are masked less and rare ones
more, which the DistilBERT authors found to help small students. Special tokens are never chosen.

The random choices of sequence i in epoch e come from a generator seeded by (seed, e, i): the masks change every
epoch, yet do not depend on how sequences are grouped into batches or spread over processes, so a resumed run and a
run on N processes see exactly the masks of the unbroken single-process run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from distilkit.core.tasks import IGNORE_INDEX
from distilkit.data.corpus import CorpusSequences


@dataclass
class MaskingConfig:
    prob: float = 0.15
    mask_frac: float = 0.8
    keep_frac: float = 0.1  # the rest (0.1 by default) become random tokens
    smoothing: float = 0.7  # exponent of the frequency smoothing; 0 picks positions uniformly


class Masker:
    """Chooses and corrupts the prediction targets of one sequence."""

    def __init__(self, counts: np.ndarray, special_ids: list[int], mask_id: int, cfg: MaskingConfig | None = None):
        self.cfg = cfg or MaskingConfig()
        weights = np.maximum(counts.astype(np.float64), 1.0) ** -self.cfg.smoothing
        weights[special_ids] = 0.0
        self.weights = weights
        self.mask_id = mask_id
        self.random_pool = np.flatnonzero(weights > 0)  # random replacements are never special tokens

    def __call__(self, ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(corrupted input ids, labels): labels hold the original id at targets and IGNORE_INDEX elsewhere."""
        w = self.weights[ids]
        candidates = int((w > 0).sum())
        labels = np.full_like(ids, IGNORE_INDEX)
        if candidates == 0:
            return ids.copy(), labels
        k = max(1, int(round(self.cfg.prob * candidates)))
        targets = rng.choice(len(ids), size=k, replace=False, p=w / w.sum())
        labels[targets] = ids[targets]
        out = ids.copy()
        action = rng.random(k)
        to_mask = action < self.cfg.mask_frac
        to_random = action >= self.cfg.mask_frac + self.cfg.keep_frac
        out[targets[to_mask]] = self.mask_id
        out[targets[to_random]] = rng.choice(self.random_pool, size=int(to_random.sum()))
        return out, labels


class MaskedCorpus(torch.utils.data.Dataset):
    """Corpus sequences, freshly masked every epoch (the dataset side of the trainer's data protocol)."""

    def __init__(self, sequences: CorpusSequences, masker: Masker, pad_id: int, seed: int = 0):
        self.sequences = sequences
        self.masker = masker
        self.pad_id = pad_id
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.sequences)

    def lengths(self) -> list[int]:
        return self.sequences.lengths()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        ids, labels = self.masker(self.sequences.token_ids(i), rng)
        return {"input_ids": ids, "labels": labels, "index": i}

    def collator(self, tokenizer) -> MaskedCollator:
        return MaskedCollator(self.pad_id)


class MaskedCollator:
    """Pad masked sequences to the longest of the batch; padding gets attention 0 and label IGNORE_INDEX."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(it["input_ids"]) for it in items)
        ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(items), width), IGNORE_INDEX, dtype=torch.long)
        attention = torch.zeros((len(items), width), dtype=torch.long)
        for row, it in enumerate(items):
            n = len(it["input_ids"])
            ids[row, :n] = torch.from_numpy(it["input_ids"])
            labels[row, :n] = torch.from_numpy(it["labels"])
            attention[row, :n] = 1
        index = torch.tensor([it["index"] for it in items], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": attention, "labels": labels, "index": index}
