"""General distillation end to end on tiny models: each loss at agreement, the objective's gradients, the MLM head,
resume, the time budget, logs, and the CLI (whose second run reuses the corpus cache)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from general_helpers import save_tiny_mlm, write_corpus
from transformers import AutoModelForMaskedLM
from typer.testing import CliRunner

from distilkit.cli import app
from distilkit.core.errors import DistilkitError
from distilkit.core.model_card import card_metadata
from distilkit.distil.checkpoint import latest_checkpoint
from distilkit.distil.general_objective import GeneralDistilObjective, GeneralWeights
from distilkit.distil.mlm_head import MlmHeadObjective
from distilkit.distil.trainer import TrainConfig, train
from distilkit.models.heads import head_parameters
from distilkit.models.student import build_student
from distilkit.models.teacher import load_masked_lm
from distilkit.recipes.general import distil_general, masked_corpus, prepare_general, train_mlm_head

ONLY = {
    "ce": GeneralWeights(alpha_kd=1, alpha_mlm=0, alpha_cos=0),
    "cos": GeneralWeights(alpha_kd=0, alpha_mlm=0, alpha_cos=1),
    "hid": GeneralWeights(alpha_kd=0, alpha_mlm=0, alpha_cos=0, alpha_hid=1),
    "att": GeneralWeights(alpha_kd=0, alpha_mlm=0, alpha_cos=0, alpha_att=1),
    "rel": GeneralWeights(alpha_kd=0, alpha_mlm=0, alpha_cos=0, alpha_rel=1),
}


@pytest.fixture
def setup(tmp_path):
    teacher_dir = save_tiny_mlm(tmp_path / "teacher", layers=2, dropout=0.0)
    corpus = write_corpus(tmp_path / "corpus" / "c.txt", lines=120)
    teacher, tokenizer, has_head = load_masked_lm(teacher_dir)
    data, _ = masked_corpus([corpus], tokenizer, 32, cache_root=tmp_path / "cache")
    batch = data.collator(tokenizer)([data[i] for i in range(8)])
    return teacher, tokenizer, has_head, data, batch, corpus


@pytest.mark.parametrize("loss", list(ONLY))
def test_each_loss_is_zero_with_zero_gradient_for_a_student_equal_to_the_teacher(setup, loss):
    teacher, _, has_head, _, batch, _ = setup
    student, layer_map = build_student(teacher, student_layers=2)  # same depth: a copy of the teacher
    objective = GeneralDistilObjective(student, teacher, layer_map, ONLY[loss], teacher_has_head=has_head)
    objective.train()
    value, logs = objective(batch)
    assert set(logs) == {loss, "loss"}
    assert value.item() == pytest.approx(0.0, abs=1e-5)
    value.backward()
    grads = [p.grad for p in objective.parameters() if p.grad is not None]
    assert grads and max(g.abs().max().item() for g in grads) < 1e-4


@pytest.mark.parametrize("loss", list(ONLY))
def test_each_loss_is_positive_and_reduced_by_its_gradient_for_another_student(setup, loss):
    teacher, _, has_head, _, batch, _ = setup
    student, layer_map = build_student(teacher, student_layers=2, init="random", seed=5)
    objective = GeneralDistilObjective(student, teacher, layer_map, ONLY[loss], teacher_has_head=has_head)
    objective.eval()  # no dropout: the step below is the only change
    before, _ = objective(batch)
    assert before.item() > 1e-6  # random tiny BERTs attend almost uniformly: their attention KL is small
    before.backward()
    with torch.no_grad():
        for p in objective.parameters():
            if p.grad is not None:
                p -= 1e-3 * p.grad
    after, _ = objective(batch)
    assert after.item() < before.item()  # a small step against the gradient lowers the loss: it is its gradient


def test_mlm_loss_is_cross_entropy_of_masked_tokens(setup):
    teacher, _, has_head, _, batch, _ = setup
    student, layer_map = build_student(teacher, student_layers=2)
    weights = GeneralWeights(alpha_kd=0, alpha_mlm=1, alpha_cos=0)
    objective = GeneralDistilObjective(student, teacher, layer_map, weights, teacher_has_head=has_head).eval()
    _, logs = objective(batch)
    logits = student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten())
    assert logs["mlm"] == pytest.approx(expected.item(), rel=1e-5)


def test_narrower_student_with_other_heads_uses_projections_and_relations(setup):
    teacher, _, has_head, _, batch, _ = setup
    student, layer_map = build_student(teacher, student_layers=1, init="random", hidden_size=16, num_heads=4)
    weights = GeneralWeights(alpha_kd=1, alpha_mlm=1, alpha_cos=1, alpha_hid=1, alpha_rel=1, relation_heads=2)
    objective = GeneralDistilObjective(student, teacher, layer_map, weights, teacher_has_head=has_head)
    loss, logs = objective(batch)
    assert set(logs) == {"ce", "mlm", "cos", "hid", "rel", "loss"}
    loss.backward()
    assert objective.cos_proj.weight.grad is not None and objective.hidden.proj.weight.grad is not None
    with pytest.raises(DistilkitError, match="init"):
        build_student(teacher, student_layers=1, hidden_size=16, num_heads=4)


def test_bare_encoder_teacher_refuses_ce_and_distils_without_a_head(tmp_path, setup):
    *_, corpus = setup
    bare = save_tiny_mlm(tmp_path / "bare", head=False)
    teacher, _, has_head = load_masked_lm(bare)
    assert not has_head
    with pytest.raises(DistilkitError, match="mlm-head"):
        GeneralDistilObjective(teacher, teacher, [0, 1], GeneralWeights(), teacher_has_head=False)
    weights = GeneralWeights(alpha_kd=0, alpha_mlm=0, alpha_cos=1, alpha_rel=1)
    cfg = TrainConfig(max_steps=3, batch_size=8)
    setup = prepare_general(str(bare), [corpus], weights, student_layers=2, cache_root=tmp_path / "cache")
    result = distil_general(setup, tmp_path / "out", cfg, quiet=True)
    student = AutoModelForMaskedLM.from_pretrained(result["model"])
    assert student.config.num_hidden_layers == 2 and student.config.architectures == ["BertForMaskedLM"]


def test_mlm_head_learns_on_a_frozen_encoder_with_a_tied_decoder(tmp_path, setup):
    *_, data, _, _ = setup
    bare = save_tiny_mlm(tmp_path / "bare", head=False, seed=1)
    model, tokenizer, _ = load_masked_lm(bare)
    encoder_before = {k: v.clone() for k, v in model.base_model.state_dict().items()}
    head_before = [p.detach().clone() for p in head_parameters(model)]
    objective = MlmHeadObjective(model)
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    trainable = {n for n, p in objective.named_parameters() if p.requires_grad}
    assert trainable and all(".cls.predictions." in n and ".decoder." not in n for n in trainable)
    cfg = TrainConfig(epochs=4, batch_size=8, lr=3e-3)
    summary = train(objective, data, tokenizer, cfg, tmp_path / "head", quiet=True)
    for k, v in model.base_model.state_dict().items():
        assert torch.equal(v, encoder_before[k]), k
    assert all(not torch.equal(a, b) for a, b in zip(head_before, head_parameters(model), strict=True))
    log = [json.loads(line) for line in (tmp_path / "head" / "train_log.jsonl").read_text().splitlines()]
    assert summary["final_loss"] < log[0]["loss"]


def test_mlm_head_recipe_saves_the_teacher_with_its_card(tmp_path, setup):
    *_, corpus = setup
    bare = save_tiny_mlm(tmp_path / "bare", head=False, seed=1)
    cfg = TrainConfig(max_steps=2, batch_size=8)
    result = train_mlm_head(
        str(bare), [corpus], tmp_path / "head", cfg, max_length=32, cache_root=tmp_path / "c", quiet=True
    )
    assert AutoModelForMaskedLM.from_pretrained(result["model"]).config.architectures == ["BertForMaskedLM"]
    card = card_metadata((tmp_path / "head" / "model" / "README.md").read_text(encoding="utf-8"))
    assert card["base_model"] == str(bare) and card["pipeline_tag"] == "fill-mask"
    assert card["tags"] == ["distilkit"] and card["datasets"] == [str(corpus)]  # a teacher with a head: no student


class Crash(Exception):
    pass


def _general_run(setup, out: Path, cfg: TrainConfig, crash_at: int | None = None, resume: bool = False):
    teacher, tokenizer, has_head, data, _, _ = setup
    student, layer_map = build_student(teacher, student_layers=1, seed=0)
    weights = GeneralWeights(alpha_hid=1, alpha_rel=1)
    objective = GeneralDistilObjective(student, teacher, layer_map, weights, teacher_has_head=has_head)

    def on_step(step: int) -> None:
        if step == crash_at:
            raise Crash

    try:
        summary = train(objective, data, tokenizer, cfg, out, resume=resume, on_step=on_step, quiet=True)
    except Crash:
        return None, None
    return {k: v.clone() for k, v in objective.state_dict().items()}, summary


def test_resume_after_crash_gives_identical_weights(tmp_path, setup):
    cfg = TrainConfig(epochs=2, batch_size=8, grad_accum=2, lr=1e-3, save_every=2, seed=3)
    whole, _ = _general_run(setup, tmp_path / "whole", cfg)
    assert _general_run(setup, tmp_path / "broken", cfg, crash_at=5)[0] is None
    resumed, _ = _general_run(setup, tmp_path / "broken", cfg, resume=True)
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key


def test_time_budget_stops_with_a_checkpoint_and_resume_finishes(tmp_path, setup):
    cfg = TrainConfig(max_steps=6, batch_size=8, lr=1e-3, max_minutes=1e-9)
    _, summary = _general_run(setup, tmp_path / "run", cfg)
    assert summary["steps"] == 1 and summary["stopped_by_time_budget"]
    assert latest_checkpoint(tmp_path / "run" / "checkpoints").name == "step-1"
    unlimited = TrainConfig(max_steps=6, batch_size=8, lr=1e-3)
    resumed, summary = _general_run(setup, tmp_path / "run", unlimited, resume=True)
    whole, _ = _general_run(setup, tmp_path / "whole", unlimited)
    assert summary["steps"] == 6 and not summary["stopped_by_time_budget"]
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key
    with (tmp_path / "run" / "train_log.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]  # one header, the resumed rows appended
    assert {"loss", "ce", "mlm", "cos", "hid", "rel", "tokens_per_second", "lr"} <= set(rows[0])


def _invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result


def test_cli_distils_a_finetunable_student_and_reuses_the_corpus_cache(tmp_path, monkeypatch, setup):
    *_, corpus = setup
    monkeypatch.setenv("DISTILKIT_CACHE", str(tmp_path / "dkcache"))
    teacher_dir = tmp_path / "teacher"
    (tmp_path / "cfg.yaml").write_text("alpha_hid: 1.0\nstudent_layers: 1\nbatch_size: 8\nfreeze_embeddings: true\n")
    args = ["distil-general", "--teacher", teacher_dir, "--corpus", corpus.parent, "--max-steps", 2]
    first = _invoke(*args, "--out", tmp_path / "a", "--config", tmp_path / "cfg.yaml")
    assert "cache built in" in first.output
    second = _invoke(*args, "--out", tmp_path / "b", "--config", tmp_path / "cfg.yaml")
    assert "cache reused" in second.output
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    assert results["corpus"]["cache_build_seconds"] == 0.0 and results["student"]["num_hidden_layers"] == 1
    assert results["weights"]["alpha_hid"] == 1.0 and results["train"]["config"]["freeze_embeddings"]
    card = card_metadata((tmp_path / "b" / "model" / "README.md").read_text(encoding="utf-8"))
    assert card["base_model"] == str(teacher_dir) and card["pipeline_tag"] == "fill-mask"
    assert card["datasets"] == results["corpus"]["sources"] == [str(corpus.parent)]
    assert "distillation" in card["tags"]
    from conftest import write_csv

    from distilkit.data.spec import DataSpec
    from distilkit.recipes.finetune import finetune

    write_csv(tmp_path / "cls" / "train.csv", [("good movie", "positive"), ("bad movie", "negative")] * 8)
    cfg = TrainConfig(epochs=1, batch_size=4)
    spec = DataSpec(str(tmp_path / "cls"))
    tuned = finetune(results["model"], spec, tmp_path / "ft", cfg, quiet=True)
    assert Path(tuned["model"]).is_dir()


def test_run_log_writes_tensorboard_events_exactly_when_tensorboard_is_installed(tmp_path):
    import importlib.util

    from distilkit.distil.run_log import RunLog

    log = RunLog(tmp_path)
    log.write({"step": 1, "loss": 2.0})
    log.close()
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert bool(events) == (importlib.util.find_spec("tensorboard") is not None)
    assert (tmp_path / "train_log.csv").read_text().splitlines() == ["step,loss", "1,2.0"]
