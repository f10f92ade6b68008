"""Tokenise once, then batch by length.

On a 2-core CPU the cost of a step grows with the padded length, and most sentiment snippets are under 40 tokens:
padding each batch only to its own longest sequence, with batches drawn from length-sorted pools, is the single
largest training speed-up available here.

Sequence classification has one label per example; token classification one label per position (-100 where the
loss skips it), and its examples are the windows of `distilkit.data.alignment.encode_words`. Both go through the
same `EncodedSplit`, sampler and collator, so the training loop does not know which task it runs.

A sequence-classification text longer than ``max_length`` tokens is truncated (the default), or cut by
`distilkit.core.long_text` into one head+tail example or several windows, each an example with the text's label
(`encode_split`); `EncodedSplit.documents` says which text each example came from, so evaluation can pool a text's
windows back into one prediction, and `EncodedSplit.text_lengths` how long each text was, for the long-text report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import torch
from transformers import PreTrainedTokenizerBase

from distilkit.core.errors import DistilkitError
from distilkit.core.long_text import LongText, LongTextReport, cut, long_text_report
from distilkit.core.tasks import IGNORE_INDEX, MODEL_INPUTS
from distilkit.data.alignment import encode_words
from distilkit.data.classification import ClassificationSplit
from distilkit.data.tagged import TokenSplit
from distilkit.runtime.encoding import special_tokens


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of a batch that the encoder takes (labels, indices and bookkeeping stay behind)."""
    return {k: batch[k] for k in MODEL_INPUTS if k in batch}


class EncodedSplit(torch.utils.data.Dataset):
    """Token ids of every example (unpadded), its label id (or per-position label ids), and its index (the key for
    cached teacher outputs, so a window's soft targets are that window's).

    `documents` is the text each example came from (one example per text unless long texts were windowed);
    `report`, for sequence classification, how many texts were longer than ``max_length`` and what was done.
    `gold`, when set, says which examples carry gold labels: a transfer set's do not (their label ids only mark the
    positions a tag is read at), so a batch then has a ``gold`` flag per example and the cross-entropy skips the rest.
    """

    def __init__(
        self,
        features: list[dict[str, list[int]]],
        labels: list[int] | list[list[int]],
        documents: list[int] | None = None,
        report: LongTextReport | None = None,
        gold: list[bool] | None = None,
    ):
        self.features = features
        self.labels = labels
        self.documents = list(range(len(features))) if documents is None else documents
        self.report = report
        self.gold = gold

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> dict:
        item = {**self.features[i], "labels": self.labels[i], "index": i}
        if self.gold is not None:
            item["gold"] = self.gold[i]
        return item

    def subset(self, indices: Sequence[int]) -> EncodedSplit:
        """The examples `indices`, in that order (their index is then their position in the subset)."""
        return EncodedSplit([self.features[i] for i in indices], [self.labels[i] for i in indices])

    def lengths(self) -> list[int]:
        return [len(f["input_ids"]) for f in self.features]

    def set_epoch(self, epoch: int) -> None:
        """Part of the trainer's data protocol; labelled examples are the same every epoch, so nothing changes."""

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> PadCollator:
        return PadCollator(tokenizer)


def join_gold_and_transfer(gold: EncodedSplit, transfer: EncodedSplit) -> EncodedSplit:
    """The gold examples followed by the transfer examples, flagged as such (their labels are placeholders).

    Indices keep that order, so the teacher's soft targets of the two parts can be looked up side by side; the
    long-text report stays the gold split's, the training texts of the task."""
    texts = max(gold.documents, default=-1) + 1
    documents = gold.documents + [texts + d for d in transfer.documents]
    return EncodedSplit(
        gold.features + transfer.features,
        gold.labels + transfer.labels,
        documents,
        gold.report,
        gold=[True] * len(gold) + [False] * len(transfer),
    )


def encode_split(
    tokenizer: PreTrainedTokenizerBase,
    split: ClassificationSplit,
    label2id: dict[str, int],
    max_length: int,
    long_text: LongText | None = None,
) -> EncodedSplit:
    """Tokenise a split without padding; labels become ids of the model's label vocabulary.

    A text longer than `max_length` is truncated by the tokenizer (the default, exactly as before long-text
    strategies existed), or becomes a head+tail example or one example per window (`long_text`), every window
    carrying the text's label. Each text is tokenized once; its whole length, for the report, is read from the same
    tokenization.
    """
    long_text = long_text or LongText()
    labels = [label2id[label] for label in split.labels]
    if split.pairs is not None:
        long_text.refuse_pairs(split.source)
        return _encode_pairs(tokenizer, split, labels, max_length)
    specials = tokenizer.num_special_tokens_to_add(pair=False)
    if long_text.is_truncate:
        enc = tokenizer(split.texts, truncation=True, max_length=max_length)
        keys = [k for k in MODEL_INPUTS if k in enc]
        features = [{k: enc[k][i] for k in keys} for i in range(len(split))]
        # What truncation cut off is in each encoding's `overflowing` (stride 0: consecutive pieces, each with its
        # own special tokens), so the whole length needs no second pass.
        lengths = [len(e.ids) + sum(len(o.ids) - specials for o in e.overflowing) for e in _encodings(enc)]
        return EncodedSplit(features, labels, report=long_text_report(lengths, max_length, specials, long_text))
    layout = special_tokens(_backend(tokenizer))
    budget = long_text.budget(max_length, len(layout))
    enc = tokenizer(split.texts, add_special_tokens=False)  # whole texts: the cutting is long_text's
    keys = [k for k in MODEL_INPUTS if k in enc]
    features, example_labels, documents = [], [], []
    for doc, (ids, label) in enumerate(zip(enc["input_ids"], labels, strict=True)):
        for piece in cut(ids, budget, long_text, max_length):
            input_ids, type_ids = layout.wrap(piece)
            row = {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "token_type_ids": type_ids}
            features.append({k: row[k] for k in keys})
            example_labels.append(label)
            documents.append(doc)
    lengths = [len(ids) + len(layout) for ids in enc["input_ids"]]
    report = long_text_report(lengths, max_length, len(layout), long_text)
    return EncodedSplit(features, example_labels, documents, report)


def _encode_pairs(
    tokenizer: PreTrainedTokenizerBase, split: ClassificationSplit, labels: list[int], max_length: int
) -> EncodedSplit:
    """Text pairs, truncated (longest first) as the tokenizer always did.

    A truncated pair's `overflowing` is every combination of the two texts' pieces, which does not give its length
    back; so the pairs are tokenized whole (measured), and only the ones longer than `max_length` again with
    truncation. A pair that fits is the same either way.
    """
    enc = tokenizer(split.texts, split.pairs)
    keys = [k for k in MODEL_INPUTS if k in enc]
    features = [{k: enc[k][i] for k in keys} for i in range(len(split))]
    lengths = [len(ids) for ids in enc["input_ids"]]
    long = [i for i, n in enumerate(lengths) if n > max_length]
    if long:
        texts, pairs = [split.texts[i] for i in long], [split.pairs[i] for i in long]  # type: ignore[index]
        again = tokenizer(texts, pairs, truncation=True, max_length=max_length)
        for row, i in enumerate(long):
            features[i] = {k: again[k][row] for k in keys}
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    return EncodedSplit(
        features, labels, report=long_text_report(lengths, max_length, specials, LongText(), pairs=True)
    )


def _encodings(enc) -> list:
    """The `tokenizers` encodings behind a fast tokenizer's output (their `overflowing` holds what was cut)."""
    if enc.encodings is None:
        raise DistilkitError("long texts are measured from a fast (tokenizers) tokenizer's encodings; this is slow")
    return enc.encodings


def _backend(tokenizer: PreTrainedTokenizerBase):
    """The `tokenizers` object of a fast tokenizer: its post-processor is the special-token layout the runtime uses."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise DistilkitError("--long-text head-tail and windows need a fast (tokenizers) tokenizer")
    return backend


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
        if "gold" in items[0]:
            batch["gold"] = torch.tensor([it["gold"] for it in items], dtype=torch.bool)
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
