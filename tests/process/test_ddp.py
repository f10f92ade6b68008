"""Multi-process training on CPU (gloo): 2 processes hold identical replicas, and 2 processes × batch b train like
1 process × batch 2b (same examples, same masks, gradients averaged instead of summed in one batch)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from general_helpers import save_tiny_mlm, write_corpus
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("ddp_worker.py")


def _run(cmd: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DISTILKIT_CACHE": str(tmp_path / "dkcache")}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_two_processes_hold_identical_replicas_and_match_one_process_with_twice_the_batch(tmp_path):
    teacher = save_tiny_mlm(tmp_path / "teacher", layers=2, dropout=0.0)
    corpus = write_corpus(tmp_path / "c.txt", lines=150)
    common = ["--teacher", teacher, "--corpus", corpus, "--cache", tmp_path / "cache"]
    common = [str(x) for x in common]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    _run([*launcher, str(WORKER), *common, "--out", str(tmp_path / "ddp"), "--batch-size", "4"], tmp_path)
    _run([sys.executable, str(WORKER), *common, "--out", str(tmp_path / "single"), "--batch-size", "8"], tmp_path)
    rank0, rank1 = (load_file(tmp_path / "ddp" / f"rank-{r}.safetensors") for r in (0, 1))
    single = load_file(tmp_path / "single" / "rank-0.safetensors")
    assert rank0.keys() == rank1.keys() == single.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
        torch.testing.assert_close(rank0[key], single[key], rtol=1e-4, atol=1e-5, msg=key)
    # Not vacuous: the runs trained away from the teacher's weights the student started from.
    teacher_words = load_file(teacher / "model.safetensors")["bert.embeddings.word_embeddings.weight"]
    assert (single["model.bert.embeddings.word_embeddings.weight"] - teacher_words).abs().max() > 1e-4
