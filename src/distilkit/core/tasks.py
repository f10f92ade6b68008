"""The one vocabulary of tasks and model inputs, shared by training, export, the runtime and the server.

A task name means the same thing everywhere: what `--task` accepts, what `bundle.json` records, what the server
routes on. Checking a name against it happens here, so every command refuses an unknown task with the same line.
"""

from __future__ import annotations

from collections.abc import Sequence

from distilkit.core.errors import DistilkitError

SEQUENCE_CLASSIFICATION = "sequence-classification"
TOKEN_CLASSIFICATION = "token-classification"
EMBEDDING = "embedding"

TASKS = (SEQUENCE_CLASSIFICATION, TOKEN_CLASSIFICATION, EMBEDDING)
"""Every task a model or bundle can be for."""

CLASSIFIER_TASKS = (SEQUENCE_CLASSIFICATION, TOKEN_CLASSIFICATION)
"""Tasks with labels: what `finetune` and `evaluate` train and score."""

CLASSIFIER_ARCHITECTURES = {
    SEQUENCE_CLASSIFICATION: "ForSequenceClassification",
    TOKEN_CLASSIFICATION: "ForTokenClassification",
}
"""The suffix of the architecture name a checkpoint trained for each labelled task carries
(``BertForSequenceClassification``): how a fine-tuned teacher is told from a bare encoder."""

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
"""Tensors a BERT-family encoder takes, in the order an exported graph declares them; tokenizers make a subset."""

IGNORE_INDEX = -100
"""Label of positions no loss or metric reads (the default ``ignore_index`` of ``torch.nn.CrossEntropyLoss``)."""


def check_task(task: str, allowed: Sequence[str] = TASKS, field: str = "task") -> str:
    """`task` if it is one of `allowed`, else the one-line error every command gives."""
    if task not in allowed:
        raise DistilkitError(f"{field}: expected one of {', '.join(allowed)}, got {task!r}")
    return task
