"""Reference selection (nat/selection.py) on hand-checked batches."""
import math

import pytest
import torch

from nat.selection import phase_weights, reference_selection_loss

PHASES = [(0.0, (1.0, 0.0, 0.0)), (1 / 3, (0.5, 0.5, 0.0)), (2 / 3, (0.0, 1.0, 0.0)), (5 / 6, (0.0, 0.5, 0.5)),
          (1.0, (0.0, 0.0, 1.0)), (1.5, (0.0, 0.0, 1.0)), (-1.0, (1.0, 0.0, 0.0))]


@pytest.mark.parametrize("progress, expected", PHASES)
def test_the_schedule_moves_from_the_mean_to_the_min(progress, expected):
    assert phase_weights(progress) == pytest.approx(expected)


# two references (rows) of three sentences (columns): sentence 0 fits reference 1 better, sentence 1
# reference 0; sentence 2's reference 0 cannot be aligned (loss 0), so only reference 1 counts there
LOSSES = torch.tensor([[4.0, 1.0, 0.0], [2.0, 3.0, 5.0]], dtype=torch.float64)
LENGTHS = torch.tensor([[4, 2, 9], [2, 4, 5]])
MEAN = 3.0 + 2.0 + 5.0                                     # per sentence over its alignable references
SOFT = -math.log(math.exp(-4) + math.exp(-2)) - math.log(math.exp(-1) + math.exp(-3)) + 5.0
MINIMUM = 2.0 + 1.0 + 5.0
SIZE = 3.0 + 3.0 + 5.0                                     # mean length of each sentence's alignable references


@pytest.mark.parametrize("progress, expected", [(0.0, MEAN), (1 / 3, (MEAN + SOFT) / 2), (2 / 3, SOFT),
                                                (5 / 6, (SOFT + MINIMUM) / 2), (1.0, MINIMUM)])
def test_the_loss_at_each_phase(progress, expected):
    selection = reference_selection_loss(LOSSES, LENGTHS, progress)
    assert float(selection.loss) == pytest.approx(expected)
    assert float(selection.sample_size) == pytest.approx(SIZE)
    assert selection.chosen.tolist() == [1, 0, 1] and selection.unaligned == 0


def test_the_min_is_the_brute_force_best_reference_and_only_it_gets_a_gradient():
    torch.manual_seed(0)
    losses = (torch.rand(3, 6, dtype=torch.float64) * 10 + 0.1).requires_grad_()
    lengths = torch.randint(1, 9, (3, 6))
    selection = reference_selection_loss(losses, lengths, 1.0)
    best = [min(range(3), key=lambda k: float(losses[k, b])) for b in range(6)]
    assert selection.chosen.tolist() == best
    selection.loss.backward()
    expected = torch.zeros(3, 6, dtype=torch.float64)
    expected[best, range(6)] = 1.0
    assert torch.equal(losses.grad, expected)


def test_a_sentence_without_an_alignable_reference_is_counted_and_left_out():
    losses = torch.tensor([[0.0, 2.0], [0.0, 1.0]], dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([[5, 2], [6, 3]])
    for progress in (0.0, 0.5, 0.8, 1.0):
        selection = reference_selection_loss(losses, lengths, progress)
        assert selection.unaligned == 1 and selection.chosen.tolist() == [-1, 1]
        assert float(selection.sample_size) == pytest.approx(2.5)
        selection.loss.backward()
        assert torch.isfinite(losses.grad).all() and losses.grad[:, 0].eq(0).all()
        losses.grad = None
