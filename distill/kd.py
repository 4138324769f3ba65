"""Word-level knowledge distillation's arithmetic (Kim & Rush 2016, eq. 4-5), apart from its fairseq criterion
(``distill/seqkd_distill_plugin/word_kd.py``), which fairseq imports under its own module name, so that it can be
tested by itself (tests/test_teacher.py: a two-token vocabulary worked out by hand)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def kl_to_teacher(student_logits: torch.Tensor, teacher_logits: torch.Tensor, padding: torch.Tensor,
                  temperature: float = 1.0) -> torch.Tensor:
    """Per target position, KL(p_teacher || p_student) of the temperature-softened distributions; 0 where
    ``padding`` is True. [batch, length, vocab] logits -> [batch, length]."""
    student_lprobs = F.log_softmax(student_logits.float() / temperature, dim=-1)
    teacher_lprobs = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    kl = (teacher_lprobs.exp() * (teacher_lprobs - student_lprobs)).sum(-1)
    return kl.masked_fill(padding, 0.0)


def word_kd_loss(nll: torch.Tensor, kl: torch.Tensor, alpha: float, temperature: float = 1.0) -> torch.Tensor:
    """Kim & Rush's interpolation: (1 - alpha) * NLL(gold) + alpha * T^2 * KL(teacher || student)."""
    return (1 - alpha) * nll + alpha * (temperature ** 2) * kl
