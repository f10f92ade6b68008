"""What the student trains on in `distil`: the gold split (plus `--augment` copies) and a transfer set, each example
with the teacher's soft targets, encoded by the teacher's tokenizer for the teacher and the student's for the student.

Gold examples keep their labels (the cross-entropy reads them when `--alpha-ce` > 0); transfer examples carry none,
only the teacher's logits. With a transfer set the logits of both parts come from the on-disk store
(`distil.teacher_outputs`), so the pool and the gold split are labelled once for every seed and run (the gold split
alone is minutes for a 110M-parameter teacher on a CPU); without one they are computed in memory, as always. When
the teacher's logits are read live (a hidden-state loss, `--no-cache-teacher`) the transfer examples are simply more
inputs.

Soft targets are per text (or per word), so the two tokenizers need not agree: the teacher reads its own encoding of
each text, the student its own, matched by example index. That holds when each text is one example on both sides
(any sequence-classification strategy but `windows`); tagged sentences and windows would pair different pieces, so
distillation across tokenizers refuses them, like losses that pair positions (hidden states).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from distilkit.core.errors import DistilkitError
from distilkit.data.batching import EncodedSplit, join_gold_and_transfer
from distilkit.data.classification import ClassificationSplit
from distilkit.data.spec import DataSpec
from distilkit.data.tagged import TokenSplit
from distilkit.data.transfer import TransferPool
from distilkit.distil.objectives import CachedLogits, DistilWeights, teacher_logits_for
from distilkit.distil.teacher_outputs import JoinedLogits, stored_teacher_logits


@dataclass
class Targets:
    """The student's training examples and the teacher's cached logits for them (None: the teacher runs live)."""

    data: EncodedSplit
    cached: CachedLogits | JoinedLogits | None
    store: dict | None  # what the store did for the gold and transfer parts (results.json's transfer.teacher_outputs)


def training_targets(
    teacher,
    teacher_tokenizer,
    student_tokenizer,
    data_spec: DataSpec,
    gold: ClassificationSplit | TokenSplit,
    label2id: dict[str, int],
    max_length: int,
    weights: DistilWeights,
    cache_teacher: bool,
    precision: str,
    transfer: TransferPool | None = None,
    store_root: Path | None = None,
    quiet: bool = False,
) -> Targets:
    """Encode the gold split and the transfer pool for the student, and give the teacher's logits for both."""
    shared = student_tokenizer is teacher_tokenizer
    cached_pass = cache_teacher and weights.alpha_hid == 0 and weights.alpha_kd > 0
    if not shared:
        refuse_across_tokenizers(data_spec, weights, cache_teacher)
    if transfer is not None and weights.alpha_kd == 0 and weights.alpha_hid == 0:
        raise DistilkitError("transfer: a transfer set has no labels, only the teacher's outputs; set --alpha-kd > 0")

    options = {"quiet": quiet, "precision": precision}

    def encode(tokenizer, split):
        return data_spec.encode(tokenizer, split, label2id, max_length)

    student_gold = encode(student_tokenizer, gold)
    teacher_gold = student_gold if shared else encode(teacher_tokenizer, gold)
    if transfer is None:
        if not cached_pass:
            return Targets(student_gold, None, None)
        return Targets(student_gold, teacher_logits_for(teacher, teacher_gold, teacher_tokenizer, **options), None)
    pool_split = transfer.as_split(list(label2id))
    student_pool = encode(student_tokenizer, pool_split)
    data = join_gold_and_transfer(student_gold, student_pool)
    if not cached_pass:
        return Targets(data, None, None)
    teacher_pool = student_pool if shared else encode(teacher_tokenizer, pool_split)
    stored, reports = [], {}
    for part, encoded in (("gold", teacher_gold), ("transfer", teacher_pool)):
        logits, store = stored_teacher_logits(teacher, teacher_tokenizer, encoded, store_root, **options)
        stored.append(logits)
        reports[part] = asdict(store)
        if not quiet:
            rate = f" ({store.texts_per_second:,.1f} texts/s)" if store.texts_per_second else ""
            done = f"computed {store.computed:,} in {store.seconds:,.1f} s{rate}" if store.computed else "all reused"
            where = f"{store.bytes:,} bytes in {store.folder}"
            print(f"teacher outputs: {store.examples:,} {part} examples, {done}; {where}")
    return Targets(data, JoinedLogits(*stored), reports)


def refuse_across_tokenizers(
    data_spec: DataSpec, weights: DistilWeights, cache_teacher: bool, augment: int = 0
) -> None:
    """One line for each setting that would pair different pieces of text when teacher and student tokenize apart."""
    if weights.alpha_hid > 0:
        raise DistilkitError(
            "alpha_hid: the hidden-state loss pairs token positions, and the teacher's and the student's tokenizers "
            "differ; use --alpha-hid 0 (soft targets are per text)"
        )
    if data_spec.is_tokens:
        raise DistilkitError(
            "student: the teacher's and the student's tokenizers differ, which token-classification distillation "
            "does not support (its soft targets are per sub-word window); use a student of the teacher's tokenizer"
        )
    if data_spec.long_text.strategy == "windows":
        raise DistilkitError(
            "long_text: windows cut each text into a different number of pieces for each tokenizer, and the "
            "teacher's and the student's differ; use truncate or head-tail"
        )
    if augment:
        raise DistilkitError("augment: the masked copies hold the teacher's mask token, unknown to the student's")
    if not cache_teacher:
        raise DistilkitError(
            "cache_teacher: across tokenizers the teacher's logits are computed from its own encoding beforehand; "
            "drop --no-cache-teacher"
        )
