"""Glancing training (GLAT, Qian et al. 2021) in batched PyTorch: which decoder inputs get the reference.

A first, gradient-free pass predicts every position; the more of them are wrong, the more
positions (``ratio`` x the number of wrong ones, chosen at random) see the reference token
in the second pass, whose loss trains the model. For a CTC student the reference at each
position is the token of the best (Viterbi) CTC alignment, blank included (Gu & Kong 2021).
"""
from __future__ import annotations

import torch

NEGATIVE = -1e9  # a finite "log 0": impossible alignments stay comparable, never NaN


def ctc_best_alignment(log_probs: torch.Tensor, input_lengths: torch.Tensor, targets: torch.Tensor,
                       target_lengths: torch.Tensor, blank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The most probable CTC path of each target: token ids [batch, time] and whether one exists [batch].

    ``log_probs`` [batch, time, vocab]; ``targets`` [batch, labels] (right-padded, no blanks).
    A path emits the target after merging repeats and dropping blanks; positions past
    ``input_lengths`` get ``blank``. A target that cannot fit (too few positions) is not
    feasible and its path is all blanks.
    """
    batch, time, _ = log_probs.shape
    width = targets.size(1) * 2 + 1
    # extended labels: blank, y1, blank, y2, ..., blank
    extended = targets.new_full((batch, width), blank)
    labels = torch.arange(targets.size(1), device=targets.device).unsqueeze(0) < target_lengths.unsqueeze(1)
    extended[:, 1::2] = targets.masked_fill(~labels, blank)  # padding may be any id, even outside the vocabulary
    states = torch.arange(width, device=targets.device)
    valid_state = states.unsqueeze(0) < (2 * target_lengths + 1).unsqueeze(1)
    # s-2 -> s is allowed into a label that differs from the label two states back
    skip = torch.zeros_like(valid_state)
    skip[:, 2:] = extended[:, 2:].ne(blank) & extended[:, 2:].ne(extended[:, :-2])
    emissions = log_probs.gather(2, extended.unsqueeze(1).expand(batch, time, width))  # [batch, time, width]

    score = torch.full((batch, width), NEGATIVE, dtype=log_probs.dtype, device=log_probs.device)
    score[:, 0] = emissions[:, 0, 0]
    score[:, 1] = torch.where(target_lengths > 0, emissions[:, 0, 1], torch.full_like(score[:, 1], NEGATIVE))
    score = score.masked_fill(~valid_state, NEGATIVE)
    backpointers = torch.zeros((time, batch, width), dtype=torch.long, device=log_probs.device)
    for t in range(1, time):
        stay = score
        step = torch.cat([score.new_full((batch, 1), NEGATIVE), score[:, :-1]], dim=1)
        jump = torch.cat([score.new_full((batch, 2), NEGATIVE), score[:, :-2]], dim=1).masked_fill(~skip, NEGATIVE)
        best, back = torch.stack([stay, step, jump]).max(0)
        updated = (best + emissions[:, t]).masked_fill(~valid_state, NEGATIVE)
        running = (t < input_lengths).unsqueeze(1)  # finished rows keep their scores (back = stay)
        score = torch.where(running, updated, score)
        backpointers[t] = torch.where(running, back, torch.zeros_like(back))

    rows = torch.arange(batch, device=log_probs.device)
    last = (2 * target_lengths).clamp(max=width - 1)
    before_last = (2 * target_lengths - 1).clamp(min=0)
    end_on_label = score[rows, before_last] > score[rows, last]
    state = torch.where(end_on_label & (target_lengths > 0), before_last, last)
    feasible = score[rows, state] > NEGATIVE / 2
    path = torch.full((batch, time), blank, dtype=torch.long, device=log_probs.device)
    for t in range(time - 1, -1, -1):
        path[:, t] = extended[rows, state]
        state = state - backpointers[t, rows, state]
    positions = torch.arange(time, device=log_probs.device).unsqueeze(0)
    path = path.masked_fill(positions >= input_lengths.unsqueeze(1), blank)
    path = path.masked_fill(~feasible.unsqueeze(1), blank)
    return path, feasible


def glance_positions(wrong: torch.Tensor, valid: torch.Tensor, ratio: float,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Positions [batch, time] that see the reference: ``ratio`` x (wrong positions) per row, at random.

    ``wrong`` and ``valid`` are boolean [batch, time] (predicted token differs from the
    reference; the position exists). The count is rounded down and never exceeds the row's
    valid positions.
    """
    count = (wrong & valid).sum(1).float().mul(ratio).floor().long()
    noise = torch.rand(wrong.shape, generator=generator, device=wrong.device).masked_fill(~valid, 2.0)
    rank = noise.argsort(dim=1).argsort(dim=1)  # each valid position's random rank in its row
    return (rank < count.unsqueeze(1)) & valid


def annealed_ratio(start: float, end: float, update: int, total_updates: int) -> float:
    """Glancing ratio, linear from ``start`` at update 0 to ``end`` at ``total_updates``."""
    progress = min(max(update / max(total_updates, 1), 0.0), 1.0)
    return start + (end - start) * progress
