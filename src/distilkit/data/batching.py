"""Tokenise once, then batch by length.

On a 2-core CPU the cost of a step grows with the padded length, and most sentiment snippets are under 40 tokens:
padding each batch only to its own longest sequence, with batches drawn from length-sorted pools, is the single
largest training speed-up available here.

Sequence classification has one label per example; token classification one label per position (-100 where the
loss skips it), and its examples are the windows of `distilkit.data.alignment.encode_words`. Both go through the
same `EncodedSplit`, sampler and collator, so the training loop does not know which task it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import torch
from transformers import PreTrainedTokenizerBase

from distilkit.core.errors import DistilkitError
from distilkit.core.tasks import IGNORE_INDEX, MODEL_INPUTS
from distilkit.data.alignment import encode_words
from distilkit.data.classification import ClassificationSplit
from distilkit.data.tagged import TokenSplit


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of a batch that the encoder takes (labels, indices and bookkeeping stay behind)."""
    return {k: batch[k] for k in MODEL_INPUTS if k in batch}


class EncodedSplit(torch.utils.data.Dataset):
    """Token ids of every example (unpadded), its label id (or per-position label ids), and its index (the key for
    cached teacher outputs)."""

    def __init__(self, features: list[dict[str, list[int]]], labels: list[int] | list[list[int]]):
        self.features = features
        self.labels = labels

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> dict:
        return {**self.features[i], "labels": self.labels[i], "index": i}

    def lengths(self) -> list[int]:
        return [len(f["input_ids"]) for f in self.features]

    def set_epoch(self, epoch: int) -> None:
        """Part of the trainer's data protocol; labelled examples are the same every epoch, so nothing changes."""

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> PadCollator:
        return PadCollator(tokenizer)


def encode_split(
    tokenizer: PreTrainedTokenizerBase, split: ClassificationSplit, label2id: dict[str, int], max_length: int
) -> EncodedSplit:
    """Tokenise a split with truncation and no padding; labels become ids of the model's label vocabulary."""
    enc = tokenizer(split.texts, split.pairs, truncation=True, max_length=max_length)
    keys = [k for k in MODEL_INPUTS if k in enc]
    features = [{k: enc[k][i] for k in keys} for i in range(len(split))]
    return EncodedSplit(features, [label2id[label] for label in split.labels])


def encode_token_split(
    tokenizer: PreTrainedTokenizerBase,
    split: TokenSplit,
    tag2id: dict[str, int],
    max_length: int,
    stride: int,
    label_all_subwords: bool = False,
) -> tuple[EncodedSplit, list[dict]]:
    """Tokenise a token-classification split into windows (see `encode_words`); returns the dataset and the windows,
    whose bookkeeping `merge_windows` needs to turn per-position predictions back into one per word."""
    try:
        windows = encode_words(
            tokenizer, split.sentences, split.tags, tag2id, max_length, stride, label_all_subwords=label_all_subwords
        )
    except ValueError as e:  # bad max_length/stride, or a word that tokenizes to nothing even as [UNK]
        raise DistilkitError(f"{split.source}: {e}") from None
    features = [{k: w[k] for k in MODEL_INPUTS if k in w} for w in windows]
    return EncodedSplit(features, [w["labels"] for w in windows]), windows


def encode_texts(tokenizer, texts: list[str], max_length: int) -> EncodedSplit:
    """Token ids without padding; the label slot is unused (0) by embedding distillation."""
    enc = tokenizer(texts, truncation=True, max_length=max_length)
    keys = [k for k in MODEL_INPUTS if k in enc]
    return EncodedSplit([{k: enc[k][i] for k in keys} for i in range(len(texts))], [0] * len(texts))


class LengthGroupedBatches(torch.utils.data.Sampler[list[int]]):
    """Batches of similar-length examples, in an order fixed by (seed, epoch) so a resumed run sees the same batches.

    The indices are shuffled, cut into pools of `pool_batches` batches, each pool sorted by length and cut into
    batches, and the batches shuffled again so the model does not see lengths in a fixed order (the short one last).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int,
        shuffle: bool = True,
        pool_batches: int = 50,
    ):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.pool = batch_size * pool_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        n = len(self.lengths)
        if not self.shuffle:
            order = sorted(range(n), key=lambda i: self.lengths[i])
            return [order[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(n, generator=g).tolist()
        batches = []
        for start in range(0, n, self.pool):
            pool = sorted(order[start : start + self.pool], key=lambda i: self.lengths[i])
            batches += [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        perm = torch.randperm(len(batches), generator=g).tolist()
        shuffled = [batches[i] for i in perm]
        # The one short batch (from the last pool) goes last: split between processes, every batch but the last must
        # be full, or Accelerate drops it.
        return [b for b in shuffled if len(b) == self.batch_size] + [b for b in shuffled if len(b) < self.batch_size]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size


class PadCollator:
    """Pad a list of examples to the longest one in the batch; per-position labels are padded with -100."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase):
        self.tokenizer = tokenizer

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        token_keys = [k for k in MODEL_INPUTS if k in items[0]]
        batch = self.tokenizer.pad([{k: it[k] for k in token_keys} for it in items], return_tensors="pt")
        batch = dict(batch)
        labels = [it["labels"] for it in items]
        if isinstance(labels[0], list):
            width = batch["input_ids"].shape[1]
            labels = [_pad(row, width, right=self.tokenizer.padding_side == "right") for row in labels]
        batch["labels"] = torch.tensor(labels, dtype=torch.long)
        batch["index"] = torch.tensor([it["index"] for it in items], dtype=torch.long)
        return batch


def _pad(row: list[int], width: int, right: bool) -> list[int]:
    padding = [IGNORE_INDEX] * (width - len(row))
    return row + padding if right else padding + row


class TrainData(Protocol):
    """What the trainer needs of a dataset: indexable examples, their lengths (for length grouping), a collator, and
    a hook told the epoch before it starts (masked-LM data re-masks every epoch)."""

    def __len__(self) -> int: ...
    def __getitem__(self, i: int) -> dict: ...
    def lengths(self) -> list[int]: ...
    def set_epoch(self, epoch: int) -> None: ...
    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Callable[[list[dict]], dict[str, torch.Tensor]]: ...


def make_loader(
    data: TrainData, tokenizer: PreTrainedTokenizerBase, batch_size: int, seed: int = 0, shuffle: bool = True
) -> torch.utils.data.DataLoader:
    """A DataLoader of length-grouped, dynamically padded batches.

    Loading stays in-process: tokenisation is done up front, so worker processes would cost more than they save.
    The loader has its own generator because creating an iterator draws a seed from it: drawing from the global RNG
    instead would shift every dropout mask after a mid-epoch resume, which creates an iterator the unbroken run did not.
    """
    sampler = LengthGroupedBatches(data.lengths(), batch_size, seed=seed, shuffle=shuffle)
    return torch.utils.data.DataLoader(
        data,
        batch_sampler=sampler,
        collate_fn=data.collator(tokenizer),
        generator=torch.Generator().manual_seed(seed),
    )
