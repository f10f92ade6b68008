"""One process of the DDP test (tests/test_ddp.py): a few steps of general distillation, then this replica's weights.

Run under `torch.distributed.run` for N processes, or plainly for one; each process writes
`OUT/rank-<R>.safetensors`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from safetensors.torch import save_file

from distilkit.distil.general_objective import GeneralDistilObjective, GeneralWeights
from distilkit.distil.trainer import TrainConfig, process_state, train
from distilkit.models.student import build_student
from distilkit.models.teacher import load_masked_lm
from distilkit.recipes.general import masked_corpus


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--teacher", "--corpus", "--cache", "--out"):
        parser.add_argument(name, type=Path, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    teacher, tokenizer, has_head = load_masked_lm(args.teacher)
    data, _ = masked_corpus([args.corpus], tokenizer, 24, pack=True, cache_root=args.cache)
    student, layer_map = build_student(teacher, student_layers=1)
    weights = GeneralWeights(alpha_hid=1.0, alpha_rel=1.0)
    objective = GeneralDistilObjective(student, teacher, layer_map, weights, teacher_has_head=has_head)
    # adam_eps 1: AdamW's step becomes ~lr·gradient; with the default eps, Adam's first steps are ~lr·sign(gradient),
    # which turns float noise in near-zero gradients into full-size differences between otherwise equal runs.
    cfg = TrainConfig(max_steps=args.steps, batch_size=args.batch_size, lr=0.05, adam_eps=1.0, warmup_ratio=0.0, seed=1)
    train(objective, data, tokenizer, cfg, args.out, quiet=True)
    state = {k: v.detach().clone().contiguous() for k, v in objective.state_dict().items()}
    save_file(state, args.out / f"rank-{process_state().process_index}.safetensors")


if __name__ == "__main__":
    main()
