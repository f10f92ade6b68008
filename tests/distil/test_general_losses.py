"""General-distillation losses: 0 when the student reproduces the teacher, correct gradients, padding ignored."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from distilkit.distil.losses import attention_loss, cosine_loss, relation_loss

MASK = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])


def _attentions(seed: int, heads: int = 2) -> torch.Tensor:
    torch.manual_seed(seed)
    scores = torch.randn(2, heads, 5, 5, dtype=torch.float64)
    scores = scores.masked_fill(~MASK.bool()[:, None, None, :], float("-inf"))
    return F.softmax(scores, -1)


def _qkv(seed: int, width: int) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(seed)
    return tuple(torch.randn(2, 5, width, dtype=torch.float64, requires_grad=True) for _ in range(3))


def test_cosine_loss_zero_at_agreement_and_gradient():
    torch.manual_seed(0)
    s = torch.randn(6, 8, dtype=torch.float64, requires_grad=True)
    assert cosine_loss(s, s.detach().clone()).abs().item() < 1e-12
    assert cosine_loss(s, 3 * s.detach()).abs().item() < 1e-12  # cosine ignores scale, as in DistilBERT
    assert torch.allclose(cosine_loss(s, -s.detach()), torch.tensor(2.0, dtype=torch.float64))
    t = torch.randn(6, 8, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: cosine_loss(a, t), (s,))


def test_attention_loss_zero_at_agreement_matches_kl_and_gradient():
    t = _attentions(0)
    assert attention_loss((t.clone(),), (t,), [0], MASK).abs().item() < 1e-12
    s = _attentions(1)
    # By hand: KL over keys, mean over heads and the 8 real query positions (padding queries ignored).
    kl = (t * (t.clamp_min(1e-300).log() - s.clamp_min(1e-300).log())).sum(-1)
    expected = torch.cat([kl[0].flatten(), kl[1, :, :3].flatten()]).mean()
    assert torch.allclose(attention_loss((s,), (t,), [0], MASK), expected)
    logits = torch.randn(2, 2, 5, 5, dtype=torch.float64, requires_grad=True)

    def from_logits(x):
        return attention_loss((F.softmax(x.masked_fill(~MASK.bool()[:, None, None, :], -1e9), -1),), (t,), [0], MASK)

    assert torch.autograd.gradcheck(from_logits, (logits,))


def test_relation_loss_zero_at_agreement_any_width_and_gradient():
    teacher = _qkv(0, 8)
    assert relation_loss(tuple(x.detach().clone() for x in teacher), teacher, MASK, heads=2).abs().item() < 1e-12
    student = _qkv(1, 4)  # narrower student: relations are (L × L) whatever the width
    loss = relation_loss(student, teacher, MASK, heads=2)
    assert loss.item() > 0
    assert torch.autograd.gradcheck(lambda q, k, v: relation_loss((q, k, v), teacher, MASK, heads=2), student)


def test_relation_loss_ignores_padding():
    teacher, student = _qkv(0, 8), _qkv(1, 8)
    base = relation_loss(student, teacher, MASK, heads=2)
    noisy = tuple(x.detach().clone() for x in student)
    for x in noisy:
        x[1, 3:] = 1e3  # change only padded positions of the second sequence
    assert torch.allclose(relation_loss(noisy, teacher, MASK, heads=2), base)
