"""Reference selection for diverse distillation (DDRS; Shao, Wu & Feng 2022, "One Reference Is Not Enough").

k teachers of different seeds give every source k distilled targets. A CTC student computes its loss
against each, ``losses[k, batch]`` (negative log-likelihoods), and is trained on a combination that moves,
over the run, from learning all of them to learning the one it already fits best:

  progress t = update / updates, split at 2/3 (the paper's schedule):
    t < 2/3      (1 - a) * mean_k L  +  a * (-log sum_k exp(-L))        a = t / (2/3)
    2/3 <= t < 1 (1 - b) * (-log sum_k exp(-L))  +  b * min_k L         b = (t - 2/3) / (1/3)
    t >= 1       min_k L

The middle term is the negative log of the summed likelihood of the k references (a soft min). A
reference that CTC cannot align (more tokens and repeats than upsampled positions: its loss comes back
as 0 under ``zero_infinity``) takes no part for that sentence; a sentence with none is counted and left
out. Our departure from the paper's code: every phase is normalized by the same number, the mean length
of each sentence's alignable references, so the annealing mixes losses on one scale (fairseq divides
by it as the batch's sample size).

Pure tensor functions, tested against values worked out by hand (tests/test_selection.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

SWITCH = 2 / 3  # where the mean gives way to the soft min entirely, and the soft min starts giving way to the min


def phase_weights(progress: float) -> tuple[float, float, float]:
    """(weight of the mean, of the soft min, of the min) at ``progress`` (0 at the first update, 1 at the last)."""
    progress = min(max(progress, 0.0), 1.0)
    if progress < SWITCH:
        a = progress / SWITCH
        return 1.0 - a, a, 0.0
    if progress < 1.0:
        b = (progress - SWITCH) / (1.0 - SWITCH)
        return 0.0, 1.0 - b, b
    return 0.0, 0.0, 1.0


@dataclass
class Selection:
    """One batch's reference-selection loss: ``loss`` (a sum to be divided by ``sample_size``), the reference
    each sentence fits best (``chosen``, -1 where none can be aligned) and how many sentences had none."""

    loss: torch.Tensor
    sample_size: torch.Tensor
    chosen: torch.Tensor
    unaligned: int


def alignable(losses: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Where CTC could align a target: under ``zero_infinity`` an impossible alignment comes back as loss 0, which
    no alignable non-empty target reaches."""
    return losses.ne(0) | lengths.eq(0)


def reference_selection_loss(losses: torch.Tensor, lengths: torch.Tensor, progress: float) -> Selection:
    """``losses`` [k, batch]: CTC negative log-likelihoods of each reference (0 where it cannot be aligned, as
    F.ctc_loss gives with ``zero_infinity``); ``lengths`` [k, batch]: their lengths in tokens (> 0)."""
    if losses.shape != lengths.shape or losses.dim() != 2:
        raise ValueError(f"losses {tuple(losses.shape)} and lengths {tuple(lengths.shape)}: expected equal [k, batch]")
    fits = alignable(losses, lengths)
    usable = fits.any(0)  # sentences with at least one alignable reference
    inf = torch.tensor(float("inf"), dtype=losses.dtype, device=losses.device)
    # +inf keeps an unalignable reference out of the min and the soft min; a sentence with none keeps its
    # (zero) losses, so that no row is all-infinite (logsumexp's gradient would be NaN there)
    masked = torch.where(fits | ~usable, losses, inf)
    count = fits.sum(0).clamp(min=1)
    mean = torch.where(fits, losses, torch.zeros_like(losses)).sum(0) / count
    soft_min = -torch.logsumexp(-masked, dim=0)
    minimum, chosen = masked.min(0)
    weights = phase_weights(progress)
    zero = torch.zeros_like(mean)
    combined = sum(w * torch.where(usable, term, zero) for w, term in zip(weights, (mean, soft_min, minimum)) if w)
    size = (torch.where(fits, lengths.to(losses.dtype), torch.zeros_like(losses)).sum(0) / count)[usable].sum()
    return Selection(loss=combined.sum(), sample_size=size, chosen=torch.where(usable, chosen, -1),
                     unaligned=int((~usable).sum()))
