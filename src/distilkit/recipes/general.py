"""The Python API behind `distilkit distil-general` and `distilkit mlm-head`: raw text in, masked-LM checkpoint out.

Both train through the one loop of `distil.trainer` on a memory-mapped corpus cache, re-masked every epoch, and run
unchanged under `torchrun` / `accelerate launch`: the corpus cache is built by the main process first (the others
then find it), and only the main process writes the final model, its model card (README.md) and results.json.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from distilkit.core.atomic import save_model, write_json
from distilkit.core.errors import DistilkitError
from distilkit.core.model_card import write_model_card
from distilkit.data.corpus import CorpusSequences, TokenCache, build_cache
from distilkit.data.masking import MaskedCorpus, Masker, MaskingConfig
from distilkit.distil.general_objective import GeneralDistilObjective, GeneralWeights
from distilkit.distil.mlm_head import MlmHeadObjective
from distilkit.distil.trainer import TrainConfig, process_state, train
from distilkit.models.student import build_student, shape
from distilkit.models.teacher import load_masked_lm


def masked_corpus(
    corpus: Sequence[str | Path],
    tokenizer,
    max_length: int = 128,
    pack: bool = False,
    seed: int = 0,
    cache_root: Path | None = None,
    masking: MaskingConfig | None = None,
) -> tuple[MaskedCorpus, TokenCache]:
    """The corpus as dynamically masked training sequences, tokenised into the cache once (by the first process of
    each machine: the others wait, then find it)."""
    if tokenizer.mask_token_id is None:
        raise DistilkitError("the tokenizer has no mask token: masked-LM distillation needs one")
    with process_state().local_main_process_first():
        cache = build_cache(corpus, tokenizer, cache_root)
    sequences = CorpusSequences(cache, max_length, tokenizer.cls_token_id, tokenizer.sep_token_id, pack=pack)
    if len(sequences) == 0:
        raise DistilkitError("corpus: no sequence is long enough (more than 11 tokens) to train on")
    masker = Masker(cache.counts, tokenizer.all_special_ids, tokenizer.mask_token_id, masking)
    return MaskedCorpus(sequences, masker, tokenizer.pad_token_id, seed=seed), cache


def _corpus_summary(cache: TokenCache, data: MaskedCorpus, sources: Sequence[str | Path]) -> dict:
    return {
        "sources": [str(s) for s in sources],
        "cache": str(cache.folder),
        "cache_build_seconds": round(cache.build_seconds, 2),
        "corpus_tokens": cache.num_tokens,
        "sequences": len(data),
        "sequence_tokens": data.sequences.num_tokens(),
    }


@dataclass
class GeneralSetup:
    """Everything a general-distillation run trains with, before the loop starts."""

    teacher_name: str
    objective: GeneralDistilObjective
    data: MaskedCorpus
    tokenizer: object
    cache: TokenCache
    init: str  # what init="auto" resolved to
    teacher_has_head: bool
    corpus: list[str] = field(default_factory=list)  # the files and folders given, as the card's `datasets`


def distil_general(
    setup: GeneralSetup, out: Path, train_cfg: TrainConfig, resume: bool = False, quiet: bool = False
) -> dict:
    """Distil a teacher into a general-purpose masked-LM student on raw text (DistilBERT's pre-training recipe):
    train what `prepare_general` built, save the student and its results.json."""
    summary = train(setup.objective, setup.data, setup.tokenizer, train_cfg, out, resume=resume, quiet=quiet)
    student = setup.objective.model
    result = {
        "model": str(out / "model"),
        "recipe": "distil-general",
        "teacher": setup.teacher_name,
        "teacher_has_mlm_head": setup.teacher_has_head,
        "layer_map": setup.objective.layer_map,
        "init": setup.init,
        "student": shape(student),
        "weights": asdict(setup.objective.weights),
        "corpus": _corpus_summary(setup.cache, setup.data, setup.corpus),
        "train": summary,
    }
    if process_state().is_main_process:
        save_model(student, setup.tokenizer, out / "model")
        write_model_card(result)
        write_json(out / "results.json", result)
    return result


def prepare_general(
    teacher_name: str,
    corpus: Sequence[str | Path],
    weights: GeneralWeights,
    student_layers: int | None = None,
    layer_map: list[int] | None = None,
    init: str = "auto",
    hidden_size: int | None = None,
    num_heads: int | None = None,
    max_length: int = 128,
    pack: bool = False,
    seed: int = 0,
    allow_pickle: bool = False,
    cache_root: Path | None = None,
) -> GeneralSetup:
    """Load the teacher, build the student and the masked corpus: what `distil_general` trains, and what
    `benchmarks/general_profile.py` profiles with the same code.

    init="auto" copies the mapped teacher layers when the student has the teacher's width, else starts at random;
    `seed` draws the random parts (a random student, the masks) and must be the training seed.
    """
    teacher, tokenizer, has_head = load_masked_lm(teacher_name, allow_pickle)
    data, cache = masked_corpus(corpus, tokenizer, max_length, pack, seed, cache_root)
    if init == "auto":
        same_width = hidden_size in (None, teacher.config.hidden_size)
        init = "teacher" if same_width else "random"
    student, used_map = build_student(teacher, layer_map, student_layers, init, seed, hidden_size, num_heads)
    objective = GeneralDistilObjective(student, teacher, used_map, weights, teacher_has_head=has_head)
    return GeneralSetup(teacher_name, objective, data, tokenizer, cache, init, has_head, [str(c) for c in corpus])


def train_mlm_head(
    teacher_name: str,
    corpus: Sequence[str | Path],
    out: Path,
    train_cfg: TrainConfig,
    max_length: int = 128,
    pack: bool = False,
    resume: bool = False,
    allow_pickle: bool = False,
    cache_root: Path | None = None,
    quiet: bool = False,
) -> dict:
    """Give a bare encoder a masked-LM head trained on raw text, its encoder frozen; saves the teacher with the head
    as a masked-LM folder (`out/model`) that `distil-general` then uses with the full DistilBERT triple loss."""
    model, tokenizer, _ = load_masked_lm(teacher_name, allow_pickle)
    data, cache = masked_corpus(corpus, tokenizer, max_length, pack, train_cfg.seed, cache_root)
    summary = train(MlmHeadObjective(model), data, tokenizer, train_cfg, out, resume=resume, quiet=quiet)
    result = {
        "model": str(out / "model"),
        "recipe": "mlm-head",
        "teacher": teacher_name,
        "corpus": _corpus_summary(cache, data, corpus),
        "train": summary,
    }
    if process_state().is_main_process:
        save_model(model, tokenizer, out / "model")
        write_model_card(result)
        write_json(out / "results.json", result)
    return result
