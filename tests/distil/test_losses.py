"""Distillation losses: zero at agreement, the T² scaling, correct gradients."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from distilkit.distil.losses import HiddenStateLoss, kd_loss


def test_kd_loss_is_zero_when_logits_match():
    logits = torch.randn(5, 3)
    for t in (1.0, 2.0, 4.0):
        assert kd_loss(logits, logits.clone(), t).abs().item() < 1e-6


def test_kd_loss_is_kl_of_softened_distributions_times_t_squared():
    torch.manual_seed(0)
    s, t = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    for temp in (1.0, 2.0, 3.0):
        p, q = F.softmax(t / temp, -1), F.softmax(s / temp, -1)
        expected = (p * (p.log() - q.log())).sum(-1).mean() * temp**2
        assert torch.allclose(kd_loss(s, t, temp), expected)


def test_kd_loss_scales_by_t_squared_for_the_same_soft_distributions():
    # Scaling both logit sets by T keeps softmax(x/T) fixed, so the loss differs only by the T² factor.
    torch.manual_seed(1)
    s, t = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    base = kd_loss(s, t, 1.0)
    for temp in (2.0, 5.0):
        assert torch.allclose(kd_loss(s * temp, t * temp, temp), base * temp**2)


def test_kd_loss_gradient_is_correct():
    torch.manual_seed(2)
    s = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    t = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: kd_loss(a, b, 2.0), (s, t))


def test_kd_gradient_matches_the_closed_form():
    # d/ds of T²·KL(softmax(t/T) ‖ softmax(s/T)), averaged over N rows, is T·(softmax(s/T) − softmax(t/T)) / N.
    torch.manual_seed(3)
    s = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    t = torch.randn(6, 3, dtype=torch.float64)
    kd_loss(s, t, 3.0).backward()
    expected = 3.0 * (F.softmax(s / 3.0, -1) - F.softmax(t / 3.0, -1)) / 6
    assert torch.allclose(s.grad, expected)


def _hidden(batch=2, seq=5, width=8, layers=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, seq, width, generator=g, dtype=torch.float64) for _ in range(layers + 1))


def test_hidden_loss_is_zero_for_identical_states_and_ignores_padding():
    teacher = _hidden(layers=4)
    student = (teacher[0], teacher[1], teacher[4])  # a 2-layer student mapped to teacher layers 0 and 3
    mask = torch.ones(2, 5, dtype=torch.long)
    for kind in ("cosine", "mse"):
        loss = HiddenStateLoss([0, 3], 8, 8, kind).double()
        assert loss(student, teacher, mask).abs().item() < 1e-9
    # differences only at padded positions do not count
    noisy = tuple(h.clone() for h in student)
    for h in noisy:
        h[:, -1] += 10.0
    mask[:, -1] = 0
    assert HiddenStateLoss([0, 3], 8, 8, "mse").double()(noisy, teacher, mask).abs().item() < 1e-9


def test_hidden_loss_gradient_with_projection():
    torch.manual_seed(4)
    loss = HiddenStateLoss([1], 4, 6, "mse").double()
    teacher = _hidden(width=6, layers=2, seed=5)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    s0 = torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)
    s1 = torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: loss((a, b), teacher, mask), (s0, s1))
    cos = HiddenStateLoss([1], 4, 6, "cosine").double()
    assert torch.autograd.gradcheck(lambda a, b: cos((a, b), teacher, mask), (s0, s1))
