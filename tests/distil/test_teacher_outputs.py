"""The teacher-output store: the numbers `teacher_logits_for` gives, computed once (a second pass computes nothing),
resumed at the last finished chunk after a kill, keyed so that another teacher or other texts never share a folder."""

from __future__ import annotations

import pytest
import torch
from conftest import save_tiny_model, write_conll

from distilkit.data.batching import encode_split, encode_token_split
from distilkit.data.classification import ClassificationSplit
from distilkit.data.tagged import load_token_data
from distilkit.distil.objectives import teacher_logits_for
from distilkit.distil.teacher_outputs import JoinedLogits, stored_teacher_logits
from distilkit.models.teacher import load_classifier

TEXTS = [
    "good movie",
    "a very dull story and a boring plot",
    "fun",
    "the actor was great but the film was long",
    "sad",
    "not really fine",
    "it was quite nice",
    "a film",
    "bad bad bad",
]


class Killed(Exception):
    pass


@pytest.fixture
def teacher(tmp_path):
    model, tokenizer = load_classifier(
        save_tiny_model(tmp_path / "teacher", layers=2, seed=5), ["negative", "positive"]
    )
    return model, tokenizer


def encoded(tokenizer, texts=TEXTS):
    split = ClassificationSplit(list(texts), ["negative"] * len(texts))
    return encode_split(tokenizer, split, {"negative": 0, "positive": 1}, 32)


def test_the_store_gives_the_teachers_logits_and_a_second_pass_computes_nothing(tmp_path, teacher):
    model, tokenizer = teacher
    data = encoded(tokenizer)
    first, report = stored_teacher_logits(model, tokenizer, data, tmp_path / "store", quiet=True, chunk_examples=4)
    assert report.computed == len(TEXTS) and report.rows == len(TEXTS) and report.bytes > 0
    expected = teacher_logits_for(model, data, tokenizer, quiet=True)
    assert torch.allclose(first.values, expected.values, atol=1e-5)
    assert torch.equal(first.offsets, expected.offsets)
    index = torch.tensor([5, 0, 8])
    assert torch.allclose(first.rows(index), expected.rows(index), atol=1e-5)

    again, second = stored_teacher_logits(model, tokenizer, data, tmp_path / "store", quiet=True, chunk_examples=4)
    assert second.computed == 0 and second.texts_per_second is None and second.folder == report.folder
    assert torch.equal(again.values, first.values)


def test_a_killed_pass_resumes_at_the_last_finished_chunk(tmp_path, teacher):
    model, tokenizer = teacher
    data = encoded(tokenizer)
    whole, _ = stored_teacher_logits(model, tokenizer, data, tmp_path / "whole", quiet=True, chunk_examples=2)

    def kill_after_two(chunks: int) -> None:
        if chunks == 2:
            raise Killed

    with pytest.raises(Killed):
        stored_teacher_logits(
            model, tokenizer, data, tmp_path / "store", quiet=True, chunk_examples=2, on_chunk=kill_after_two
        )
    assert not any(p.name[0] != "." for p in (tmp_path / "store").iterdir())  # nothing published yet
    resumed, report = stored_teacher_logits(model, tokenizer, data, tmp_path / "store", quiet=True, chunk_examples=2)
    assert report.computed == len(TEXTS) - 4  # chunks 3-5 of 2, 2, 2, 2, 1 examples
    assert torch.equal(resumed.values, whole.values)


def test_another_teacher_or_other_texts_get_another_folder(tmp_path, teacher):
    model, tokenizer = teacher
    _, a = stored_teacher_logits(model, tokenizer, encoded(tokenizer), tmp_path, quiet=True)
    _, b = stored_teacher_logits(model, tokenizer, encoded(tokenizer, TEXTS[:-1]), tmp_path, quiet=True)
    with torch.no_grad():
        model.classifier.bias.add_(1.0)
    _, c = stored_teacher_logits(model, tokenizer, encoded(tokenizer), tmp_path, quiet=True)
    assert len({a.folder, b.folder, c.folder}) == 3 and c.computed == len(TEXTS)


def test_token_outputs_are_one_row_per_word_and_joined_logits_index_both_parts(tmp_path):
    teacher_dir = save_tiny_model(tmp_path / "teacher", layers=2, seed=1)
    sentences = [(["good", "movie", "here"], ["O", "B-PER", "O"]), (["a", "film"], ["O", "O"])]
    write_conll(tmp_path / "tags" / "train.conll", sentences)
    data = load_token_data(tmp_path / "tags")
    model, tokenizer = load_classifier(teacher_dir, data.tag_names, task="token-classification")
    split, _ = encode_token_split(tokenizer, data.train, data.tag2id, 32, 4)
    stored, report = stored_teacher_logits(model, tokenizer, split, tmp_path / "store", quiet=True)
    assert report.rows == 5 and stored.values.shape == (5, len(data.label_names))
    assert stored.offsets.tolist() == [0, 3, 5]
    gold = teacher_logits_for(model, split, tokenizer, quiet=True)
    joined = JoinedLogits(gold, stored)  # examples 0-1 gold, 2-3 the same sentences as transfer
    rows = joined.rows(torch.tensor([3, 0]))
    assert torch.allclose(rows, torch.cat([gold.values[3:5], gold.values[0:3]]), atol=1e-5)
