"""A tiny MPNet (all-mpnet-base-v2's architecture: relative attention bias, no token_type_ids) for offline tests."""

from __future__ import annotations

from pathlib import Path

import torch
from conftest import make_tokenizer
from transformers import (
    MPNetConfig,
    MPNetForMaskedLM,
    MPNetForSequenceClassification,
    MPNetForTokenClassification,
    MPNetModel,
    MPNetTokenizerFast,
)

HEADS = {
    "sequence": MPNetForSequenceClassification,
    "token": MPNetForTokenClassification,
    "mlm": MPNetForMaskedLM,
    "none": MPNetModel,
}
SPECIAL = {"bos_token": "[CLS]", "eos_token": "[SEP]", "cls_token": "[CLS]", "sep_token": "[SEP]"}


def mpnet_tokenizer(folder: Path) -> MPNetTokenizerFast:
    """conftest's tiny vocabulary as an MPNet tokenizer: input_ids and attention_mask only, like the real one."""
    make_tokenizer(folder)
    return MPNetTokenizerFast.from_pretrained(
        folder, do_lower_case=True, pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]", **SPECIAL
    )


def save_tiny_mpnet(folder: Path, head: str = "sequence", layers: int = 4, labels: list[str] | None = None) -> Path:
    """A random MPNet (hidden 32, 2 heads) with the given head, saved with its tokenizer as a standard HF folder."""
    torch.manual_seed(0)
    tokenizer = mpnet_tokenizer(folder)
    labels = labels or ["negative", "positive"]
    config = MPNetConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=160,
        relative_attention_num_buckets=32,  # MPNet's compute_position_bias hard-codes 32 buckets
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    model = HEADS[head](config)
    if head == "none":  # a bare encoder, like all-mpnet-base-v2: no label names in its config
        model.config.id2label, model.config.label2id = {0: "LABEL_0", 1: "LABEL_1"}, {"LABEL_0": 0, "LABEL_1": 1}
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
