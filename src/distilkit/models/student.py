"""Build a shallower student from a BERT-family teacher.

DistilBERT's recipe: same width, half the layers, each student layer initialised from a teacher layer spread over
the teacher's depth ([0, 2, 4, 7, 9, 11] for 12 → 6), embeddings and head copied. The student is an ordinary model of
the teacher's own class, so the result loads with plain `transformers`.

It works for any architecture whose layers live in a `ModuleList` whose parameter names carry `.layer.<i>.`
(BERT, RoBERTa, ELECTRA, DistilBERT, MiniLM-style BERT, MPNet, ...): we rename the state-dict keys instead of knowing
each model's attribute names. Weights outside the layers (MPNet's relative attention bias is one) are copied as is.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import torch
from transformers import PreTrainedModel

from distilkit.core.errors import DistilkitError
from distilkit.core.model_card import results_beside
from distilkit.models.pruning.layout import HEAD_SIZE, heads_of, model_class

LAYER_KEY = re.compile(r"^(.*?\.layer\.)(\d+)(\..*)$")
LAYER_MAP_KEY = "distilkit_layer_map"
"""The config.json key where a student records, for each of its layers, the teacher layer it was paired with."""


def default_layer_map(teacher_layers: int, student_layers: int) -> list[int]:
    """Teacher layers spread evenly from first to last, rounded half up: DistilBERT's [0,2,4,7,9,11] for 12 → 6."""
    if student_layers < 1 or student_layers > teacher_layers:
        raise DistilkitError(
            f"student_layers: must be between 1 and the teacher's {teacher_layers}, not {student_layers}"
        )
    if student_layers == 1:
        return [0]
    step = (teacher_layers - 1) / (student_layers - 1)
    return [int(i * step + 0.5) for i in range(student_layers)]


def parse_layer_list(text: str | None) -> list[int] | None:
    """`--layer-map 0,2,5` as a list of layer numbers (None or empty: the default map), parsed once at the boundary."""
    if text is None or not text.strip():
        return None
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise DistilkitError(f"layer_map: expected comma-separated layer numbers, got {text!r}") from None


def parse_layer_map(layers: list[int] | None, teacher_layers: int, student_layers: int | None) -> list[int]:
    """Validate a layer map against the teacher's depth; None means the default for `student_layers`."""
    if not layers:
        return default_layer_map(teacher_layers, student_layers or (teacher_layers + 1) // 2)
    layers = [int(x) for x in layers]
    if student_layers is not None and len(layers) != student_layers:
        raise DistilkitError(f"layer_map: {len(layers)} layers given but student_layers is {student_layers}")
    bad = [x for x in layers if not 0 <= x < teacher_layers]
    if bad:
        raise DistilkitError(f"layer_map: layers {bad} do not exist in a {teacher_layers}-layer teacher")
    return layers


def num_layers(model: PreTrainedModel) -> int:
    return int(model.config.num_hidden_layers)


def shape(model: PreTrainedModel) -> dict[str, int]:
    """Depth, widths and heads of a model: what results.json and the model card record of a student (a pruned
    one's heads no longer fill its hidden size, and its feed-forward width is its own)."""
    config = model.config
    found = {k: int(getattr(config, k)) for k in ("num_hidden_layers", "hidden_size", "num_attention_heads")}
    found[HEAD_SIZE] = heads_of(config)[1]
    ffn = getattr(config, "intermediate_size", None) or getattr(config, "hidden_dim", None)  # DistilBERT's name
    if ffn is not None:
        found["intermediate_size"] = int(ffn)
    return found


def build_student(
    teacher: PreTrainedModel,
    layer_map: list[int] | None = None,
    student_layers: int | None = None,
    init: str = "teacher",
    seed: int = 0,
    hidden_size: int | None = None,
    num_heads: int | None = None,
) -> tuple[PreTrainedModel, list[int]]:
    """A student of the teacher's class with `len(layer_map)` layers.

    `hidden_size` / `num_heads` (default: the teacher's) give a narrower or wider student; its feed-forward width
    keeps the teacher's ratio. Teacher weights cannot initialise another width, so such a student needs init="random".

    init="teacher": every weight copied from the teacher (layer i from teacher layer layer_map[i]).
    init="random": the same architecture freshly initialised (the ablation baseline); the layer map is still returned
    because hidden-state losses pair student layer i with teacher layer layer_map[i].
    """
    teacher_layers = num_layers(teacher)
    layer_map = parse_layer_map(layer_map, teacher_layers, student_layers)
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = len(layer_map)
    if hidden_size is not None or num_heads is not None:
        _set_width(config, hidden_size or config.hidden_size, num_heads or config.num_attention_heads)
    if config.hidden_size != teacher.config.hidden_size and init == "teacher":
        raise DistilkitError(
            f"init: a student {config.hidden_size} wide cannot copy the weights of a teacher "
            f"{teacher.config.hidden_size} wide; use init 'random'"
        )
    torch.manual_seed(seed)
    student = model_class(type(teacher), config)(config)  # a head-pruned teacher's class cannot build it alone
    if init == "random":
        return student, layer_map
    if init != "teacher":
        raise DistilkitError(f"init: expected 'teacher' or 'random', got {init!r}")
    teacher_state = teacher.state_dict()
    new_state = {}
    for key in student.state_dict():
        match = LAYER_KEY.match(key)
        source = f"{match[1]}{layer_map[int(match[2])]}{match[3]}" if match else key
        if source not in teacher_state:
            raise DistilkitError(f"cannot initialise student: teacher has no weight {source!r}")
        new_state[key] = teacher_state[source].detach().clone()
    student.load_state_dict(new_state, strict=True)
    return student, layer_map


def _set_width(config, hidden_size: int, num_heads: int) -> None:
    """Resize a BERT-style config (`intermediate_size` names its feed-forward width) in place, keeping the
    feed-forward to hidden ratio."""
    if hidden_size % num_heads:
        raise DistilkitError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
    ratio = config.intermediate_size / config.hidden_size
    if hasattr(config, HEAD_SIZE):  # a head-pruned config: the new width is filled by its heads again
        delattr(config, HEAD_SIZE)
    config.intermediate_size = int(round(hidden_size * ratio))
    config.hidden_size = hidden_size
    config.num_attention_heads = num_heads


def start_student(
    teacher: PreTrainedModel,
    teacher_name: str,
    tokenizer,
    task: str,
    start_name: str | None,
    layer_map: list[int] | None,
    student_layers: int | None,
    init: str,
    seed: int,
    allow_pickle: bool = False,
) -> tuple[PreTrainedModel, list[int] | None, object]:
    """The student of task distillation, the teacher layer each of its layers pairs with (None: unknown), and the
    student's tokenizer: the teacher's own object when the vocabularies agree, the start model's when they do not.

    Without `start_name` it is cut from the teacher (`build_student`, today's default: half the layers). With it,
    the student starts from that model (`load_start`), used whole unless `layer_map`/`student_layers` cut it too;
    `layer_map` then names the start model's layers, and the pairing with the teacher follows the start's own map.
    """
    if start_name is None:
        return (*build_student(teacher, layer_map, student_layers, init=init, seed=seed), tokenizer)
    torch.manual_seed(seed)  # a bare encoder's new head is drawn at load time: same seed, same head
    start, start_map, start_tokenizer = load_start(start_name, teacher, teacher_name, tokenizer, task, allow_pickle)
    if layer_map is None and student_layers is None:
        layer_map = list(range(num_layers(start)))
    student, cut = build_student(start, layer_map, student_layers, init=init, seed=seed)
    return student, paired_layers(start_map, cut), start_tokenizer


def load_start(
    name: str,
    teacher: PreTrainedModel,
    teacher_name: str,
    teacher_tokenizer,
    task: str,
    allow_pickle: bool = False,
) -> tuple[PreTrainedModel, list[int] | None, object]:
    """The model `distil --student NAME` starts from, the teacher layer each of its layers pairs with (None when
    nothing says so: the hidden-state loss then has no pairs), and its tokenizer (the teacher's object when the
    vocabularies agree, so one encoding serves both).

    The student is scored against the teacher's logits class by class, so it must order its labels as the teacher
    does. A head trained for the teacher's labels is kept; a bare encoder (the sentence-transformers MiniLM) gets a
    fresh head with the teacher's labels, drawn from the torch seed the caller set. Another vocabulary is allowed:
    the soft targets are per text, and `recipes.transfer` encodes each text once per tokenizer.
    """
    from distilkit.models.teacher import load_classifier, resolve_model_path

    labels = [teacher.config.id2label[i] for i in range(teacher.config.num_labels)]
    model, tokenizer = load_classifier(name, labels, allow_pickle, task=task)
    if tokenizer.get_vocab() == teacher_tokenizer.get_vocab():
        tokenizer = teacher_tokenizer
    order = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if order != labels:
        raise DistilkitError(
            f"student: {name}'s head orders its labels {order}, the teacher {labels}; the soft targets are matched "
            "class by class, so the orders must agree"
        )
    path, teacher_path = resolve_model_path(name, allow_pickle), resolve_model_path(teacher_name, allow_pickle)
    if _same_model(path, teacher_path):
        return model, list(range(num_layers(teacher))), tokenizer
    return model, recorded_layer_map(model, path, num_layers(teacher)), tokenizer


def _same_model(a: str, b: str) -> bool:
    """Whether two resolved model names are one folder (or one hub id)."""
    if Path(a).exists() and Path(b).exists():
        return Path(a).resolve() == Path(b).resolve()
    return a == b


def recorded_layer_map(model: PreTrainedModel, path: str, teacher_layers: int | None = None) -> list[int] | None:
    """The teacher layers a distilkit student's layers were paired with, as it recorded them: its config's
    `distilkit_layer_map` (written by distil and prune), else, for a student distilled before that key existed, the
    `layer_map` of the results.json beside its model folder (`OUT/results.json` describing `OUT/model`, see
    `results_beside`). None if neither.

    The map is relative to the teacher the student was distilled from; it is checked against `teacher_layers`, the
    depth of the teacher it is used with (one entry per student layer, each a teacher layer), not its identity.
    """
    recorded = getattr(model.config, LAYER_MAP_KEY, None)
    source = f"{path}/config.json {LAYER_MAP_KEY}"
    if recorded is None:
        recorded = (results_beside(path) or {}).get("layer_map")
        source = f"{Path(path).parent / 'results.json'} layer_map"
    if recorded is None:
        return None
    layers = num_layers(model)
    deepest = teacher_layers if teacher_layers is not None else float("inf")
    if (
        not isinstance(recorded, list)
        or len(recorded) != layers
        or not all(isinstance(t, int) and 0 <= t < deepest for t in recorded)
    ):
        onto = f"a {teacher_layers}-layer teacher" if teacher_layers is not None else "teacher layers"
        raise DistilkitError(f"{source}: {recorded!r} does not map this {layers}-layer student onto {onto}")
    return recorded


def paired_layers(start_map: list[int] | None, cut: list[int]) -> list[int] | None:
    """The teacher layer each student layer pairs with, for a student cut from a start model by `cut` (student layer
    i is start layer cut[i], which pairs with teacher layer start_map[cut[i]]); None when the start's map is unknown."""
    return None if start_map is None else [start_map[i] for i in cut]
