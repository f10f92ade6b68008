"""`distilkit distil` for classifiers: a fine-tuned teacher into a shallower student of the same family.

The student is cut from the teacher's layers (`models.student`), or from a given model (`--student`, used whole unless
a layer count or map cuts it too), trained on the teacher's soft targets, the gold labels and optionally hidden states
(`distil.objectives`), saved as a standard folder and scored like any model; its model card (README.md) comes from the
results.json dict, with the teacher's scores when its results.json is known.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from distilkit.core.atomic import save_model, write_json
from distilkit.core.errors import DistilkitError
from distilkit.core.model_card import write_model_card
from distilkit.data.augment import augment_split, augment_token_split
from distilkit.data.classification import ClassificationData
from distilkit.data.spec import DataSpec
from distilkit.data.tagged import TokenData, TokenSplit
from distilkit.data.transfer import TransferPool
from distilkit.distil.objectives import DistilObjective, DistilWeights
from distilkit.distil.trainer import TrainConfig, train
from distilkit.evaluate.scoring import long_text_summary, score_splits
from distilkit.models.student import LAYER_MAP_KEY, shape, start_student
from distilkit.models.teacher import load_classifier
from distilkit.recipes.transfer import refuse_across_tokenizers, training_targets


def distil(
    teacher_name: str,
    data_spec: DataSpec,
    out: Path,
    train_cfg: TrainConfig,
    weights: DistilWeights,
    student_layers: int | None = None,
    layer_map: list[int] | None = None,
    init: str = "teacher",
    cache_teacher: bool = True,
    max_length: int = 128,
    resume: bool = False,
    allow_pickle: bool = False,
    quiet: bool = False,
    augment: int = 0,
    data: ClassificationData | TokenData | None = None,
    student_name: str | None = None,
    pool: TransferPool | None = None,
    teacher_outputs: Path | None = None,
) -> dict:
    """Distil `teacher_name` into a student of `student_layers` layers (or the layers `layer_map` names).

    `augment` adds that many perturbed copies of each training text to the transfer set (see `data.augment`: masked
    words and n-grams for texts, masked words alone for tagged sentences). `data` is `data_spec.load()` when the
    caller has read it already (the CLI does, before importing torch). `student_name` is the model the student starts
    from (default: the teacher), see `start_student`. `pool` is a transfer set (`data.transfer`, read against
    `data`): unlabelled examples the teacher labels, its outputs kept under `teacher_outputs` (default: the distilkit
    cache; see `recipes.transfer`).
    """
    data = data_spec.load() if data is None else data
    teacher, tokenizer = load_classifier(
        teacher_name, data.label_names, allow_pickle, require_head=True, task=data_spec.task
    )
    student, used_map, student_tokenizer = start_student(
        teacher,
        teacher_name,
        tokenizer,
        data_spec.task,
        student_name,
        layer_map,
        student_layers,
        init,
        train_cfg.seed,
        allow_pickle,
    )
    if student_tokenizer is not tokenizer:
        refuse_across_tokenizers(data_spec, weights, cache_teacher, augment)
    if used_map is None and weights.alpha_hid > 0:
        raise DistilkitError(
            f"alpha_hid: {student_name} records no layer map onto this teacher (it is not the teacher, and neither "
            f"its config.json {LAYER_MAP_KEY} nor a results.json beside it names one), so its hidden states have no "
            "teacher layers to pair with"
        )
    transfer = data.train
    if augment:
        if tokenizer.mask_token is None:
            raise DistilkitError(f"augment: the tokenizer of {teacher_name} has no mask token")
        copy = augment_token_split if isinstance(data.train, TokenSplit) else augment_split
        transfer = copy(data.train, augment, tokenizer.mask_token, seed=train_cfg.seed)
    if pool is not None and not quiet:
        print(pool.line())
    targets = training_targets(
        teacher,
        tokenizer,
        student_tokenizer,
        data_spec,
        transfer,
        teacher.config.label2id,
        max_length,
        weights,
        cache_teacher,
        train_cfg.precision,
        transfer=pool,
        store_root=teacher_outputs,
        quiet=quiet,
    )
    encoded = targets.data
    objective = DistilObjective(student, teacher, used_map, weights, targets.cached)
    summary = train(objective, encoded, student_tokenizer, train_cfg, out, resume=resume, quiet=quiet)
    setattr(student.config, LAYER_MAP_KEY, used_map)  # the pairing travels with the weights (see load_start)
    save_model(student, student_tokenizer, out / "model")
    metrics = score_splits(student, student_tokenizer, data, max_length, data_spec.tokens.stride, data_spec.long_text)
    result = {
        "model": str(out / "model"),
        "recipe": "distil",
        "task": data_spec.task,
        "teacher": teacher_name,
        "student_start": student_name,
        "tokenizer": {
            "teacher": teacher_name,
            "student": student_name or teacher_name,
            "shared": student_tokenizer is tokenizer,
        },
        "layer_map": used_map,
        "init": init,
        "student": shape(student),
        "weights": asdict(weights),
        "data": data_spec.describe(),
        "max_length": max_length,
        "transfer_examples": len(transfer) + (len(pool) if pool is not None else 0),
        "augment": augment,
        "train": summary,
        "metrics": metrics,
    }
    if pool is not None:
        result["transfer"] = {**pool.report(), "weight": weights.transfer_weight, "teacher_outputs": targets.store}
    long_text = long_text_summary(data_spec.long_text, max_length, encoded, metrics)  # train: the transfer set
    if long_text is not None:
        result["long_text"] = long_text
    write_model_card(result)  # before results.json: a run whose results.json exists is complete (see main_job)
    write_json(out / "results.json", result)
    return result
