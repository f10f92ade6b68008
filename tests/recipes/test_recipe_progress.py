"""Progress lines of the recipes' long passes off a terminal (pytest's captured stdout is not one), and `quiet`."""

from __future__ import annotations

import re

import pytest
from conftest import NEGATIVE, POSITIVE

from distilkit.core.progress import ENV
from distilkit.data.spec import DataSpec
from distilkit.distil.objectives import DistilWeights
from distilkit.distil.trainer import TrainConfig
from distilkit.recipes.distil import distil
from distilkit.recipes.embedding import distil_embeddings

TEXTS = [f"{a} and {b}" for a in POSITIVE + NEGATIVE for b in POSITIVE + NEGATIVE]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return path


def names(output: str) -> list[str]:
    """The `[name] unit i/n` heads of the progress lines in `output`."""
    return re.findall(r"^\[([^\]]+)\] \w+ (\d+/\d+) ", output, re.MULTILINE)


def test_embedding_distillation_reports_every_encoder_pass(tmp_path, tiny_teacher, corpus, monkeypatch, capsys):
    monkeypatch.setenv(ENV, "0")
    cfg = TrainConfig(max_steps=2, batch_size=16)
    distil_embeddings(str(tiny_teacher), str(corpus), tmp_path / "emb", cfg, student_layers=2)
    heads = names(capsys.readouterr().out)
    # 137 training texts and 7 held out, 64 a batch; the student's held-out pass runs before and after training
    assert [h for h in heads if h[0] == "teacher vectors"] == [("teacher vectors", f"{i}/3") for i in (1, 2, 3)]
    assert ("teacher vectors (held out)", "1/1") in heads
    assert heads.count(("student vectors (held out)", "1/1")) == 2
    assert [h for h in heads if h[0] == "train"] == [("train", "1/2"), ("train", "2/2")]


def test_quiet_recipes_print_no_progress(tmp_path, tiny_teacher, toy_data, corpus, monkeypatch, capsys):
    monkeypatch.setenv(ENV, "0")
    cfg = TrainConfig(max_steps=2, batch_size=8)
    distil(str(tiny_teacher), DataSpec(str(toy_data)), tmp_path / "st", cfg, DistilWeights(), 2, quiet=True)
    distil_embeddings(str(tiny_teacher), str(corpus), tmp_path / "emb", cfg, student_layers=2, quiet=True)
    assert names(capsys.readouterr().out) == []
    distil(str(tiny_teacher), DataSpec(str(toy_data)), tmp_path / "st2", cfg, DistilWeights(), 2)
    assert [h[0] for h in names(capsys.readouterr().out)] == ["teacher logits", "train", "train"]
