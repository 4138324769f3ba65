"""CTC student pieces against hand-checked and brute-force cases: collapse, best alignment, glancing, loss."""
import itertools
import math
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nat.criterions.ctc_nat_loss import CTCNATLoss, ctc_targets
from nat.decoding import StudentSettings
from nat.glancing import annealed_ratio, ctc_best_alignment, glance_positions
from nat.models.ctc_nat import collapse

BLANK, A, B = 0, 1, 2


def test_collapse_merges_repeats_then_drops_blanks():
    assert collapse(torch.tensor([A, A, BLANK, A, B, B, BLANK]), BLANK) == [A, A, B]
    assert collapse(torch.tensor([BLANK, BLANK]), BLANK) == []


def test_best_alignment_of_a_hand_checked_case():
    # the paths of length 4 that emit "a a" and their probabilities:
    # a a _ a .2352 | a _ _ a .1176 | a _ a a .0336 | _ a _ a .0294 | a _ a _ .0096
    probabilities = torch.tensor([[0.1, 0.8, 0.1], [0.3, 0.6, 0.1], [0.7, 0.2, 0.1], [0.2, 0.7, 0.1]])
    path, feasible = ctc_best_alignment(probabilities.log().unsqueeze(0), torch.tensor([4]), torch.tensor([[A, A]]),
                                        torch.tensor([2]), BLANK)
    assert path.tolist() == [[A, A, BLANK, A]]
    assert feasible.tolist() == [True]


def _brute_force_best(log_probs, target):
    best, best_path = -math.inf, None
    for path in itertools.product(range(log_probs.size(1)), repeat=log_probs.size(0)):
        if collapse(torch.tensor(path), BLANK) == target:
            score = sum(float(log_probs[t, k]) for t, k in enumerate(path))
            if score > best:
                best, best_path = score, list(path)
    return best, best_path


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_best_alignment_matches_brute_force_in_a_padded_batch(seed):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 6, (3,), generator=generator)
    log_probs = torch.randn(3, 5, 3, generator=generator).log_softmax(-1)
    targets = torch.full((3, 3), 7)  # 7: padding, never read
    target_lengths = torch.randint(0, 4, (3,), generator=generator)
    for row in range(3):
        targets[row, : target_lengths[row]] = torch.randint(1, 3, (int(target_lengths[row]),), generator=generator)
    path, feasible = ctc_best_alignment(log_probs, lengths, targets, target_lengths, BLANK)
    for row in range(3):
        time = int(lengths[row])
        target = targets[row, : target_lengths[row]].tolist()
        best, _ = _brute_force_best(log_probs[row, :time], target)
        assert bool(feasible[row]) == (best > -math.inf)
        if best > -math.inf:
            chosen = path[row, :time]
            assert collapse(chosen, BLANK) == target
            assert sum(float(log_probs[row, t, k]) for t, k in enumerate(chosen.tolist())) == pytest.approx(best,
                                                                                                            abs=1e-5)
        assert path[row, time:].eq(BLANK).all()


def test_glancing_reveals_ratio_times_wrong_positions_among_valid_ones():
    wrong = torch.tensor([[True, True, True, True, False, False], [True, False, False, False, False, False]])
    valid = torch.tensor([[True] * 6, [True, True, True, False, False, False]])
    chosen = glance_positions(wrong, valid, 0.5, generator=torch.Generator().manual_seed(0))
    assert chosen.sum(1).tolist() == [2, 0]  # floor(0.5 x 4), floor(0.5 x 1)
    everything = glance_positions(wrong, valid, 10.0)
    assert everything.tolist() == valid.tolist()  # never more than the valid positions
    assert annealed_ratio(0.5, 0.3, 0, 1000) == 0.5
    assert annealed_ratio(0.5, 0.3, 500, 1000) == pytest.approx(0.4)
    assert annealed_ratio(0.5, 0.3, 2000, 1000) == pytest.approx(0.3)


class FixedLogits:
    """A stand-in CTC model whose decoder always returns the same logits."""

    training = False
    blank = BLANK
    dictionary = SimpleNamespace(eos=lambda: 3)

    def __init__(self, logits, padding_mask):
        self.logits, self.padding_mask = logits, padding_mask

    def encode(self, src_tokens, src_lengths):
        return None

    def decode(self, encoder_out, src_tokens, glanced_tokens=None):
        return self.logits, self.padding_mask


def test_ctc_loss_equals_the_sum_over_hand_enumerated_paths():
    pad, eos = 4, 3
    probabilities = torch.tensor([[0.1, 0.8, 0.1, 0.0, 0.0], [0.3, 0.6, 0.1, 0.0, 0.0], [0.7, 0.2, 0.1, 0.0, 0.0],
                                  [0.2, 0.7, 0.1, 0.0, 0.0]]) + 1e-12
    impossible = torch.full((4, 5), 0.2)
    logits = torch.stack([probabilities.log(), impossible.log()])
    padding_mask = torch.tensor([[False] * 4, [False, False, True, True]])
    target = torch.tensor([[A, A, eos], [A, B, A]])  # row 2: "a b a" cannot fit 2 positions
    labels, lengths = ctc_targets(target.masked_fill(target.eq(A) & (torch.arange(3) == 2), eos), pad, eos)
    assert labels.tolist() == [[A, A, pad], [A, B, pad]] and lengths.tolist() == [2, 2]
    criterion = CTCNATLoss.__new__(CTCNATLoss)
    torch.nn.Module.__init__(criterion)
    criterion.padding_idx, criterion.glance_start, criterion.glance_end, criterion.glance_updates = pad, 0.0, 0.0, 1
    criterion.update = 0
    sample = {"net_input": {"src_tokens": torch.tensor([[5, 6], [5, pad]]), "src_lengths": torch.tensor([2, 1])},
              "target": torch.tensor([[A, A, eos], [A, B, eos]])}
    model = FixedLogits(logits, padding_mask)
    loss, sample_size, logging = criterion(model, sample)
    # row 1: the five paths of the hand-checked case; row 2: "a b" over 2 positions is the single path a b
    expected = -math.log(0.2352 + 0.1176 + 0.0336 + 0.0294 + 0.0096) - math.log(0.2 * 0.2)
    assert float(loss) == pytest.approx(expected, rel=1e-4)
    assert sample_size == 4 and logging["unaligned"] == 0
    sample["target"] = torch.tensor([[A, A, eos], [A, A, eos]])  # "a a" needs 3 positions: zero loss, counted
    loss, _, logging = criterion(model, sample)
    assert float(loss) == pytest.approx(-math.log(0.4254), rel=1e-4)
    assert logging["unaligned"] == 1


def test_blank_penalty_is_tuned_on_the_validation_set_and_cached(tiny_students, tiny_synthetic, tmp_path):
    import shutil

    from nat.decoding import BLANK_PENALTIES, load_translator, tune_blank_penalty

    run = tmp_path / "ctc"
    shutil.copytree(tiny_students["ctc"][0], run)
    references = tiny_synthetic.lines("valid", "tgt")
    calls = []

    class Fixed:  # perfect output at penalty 1.0 only, one wrong word per line elsewhere
        def __init__(self, penalty):
            calls.append(penalty)
            self.penalty = penalty

        def translate(self, sources):
            return [[SimpleNamespace(text=line if self.penalty == 1.0 else line + " extra")] for line in references]

    tuned = tune_blank_penalty(run, tiny_synthetic, Fixed)
    assert tuned["blank_penalty"] == 1.0 and calls == list(BLANK_PENALTIES)
    assert dict(map(tuple, tuned["valid_bleu"]))[1.0] == 100.0
    assert tune_blank_penalty(run, tiny_synthetic, Fixed) == tuned and len(calls) == len(BLANK_PENALTIES)  # cached
    assert load_translator(run).generator.blank_penalty == 1.0  # later decodings use it
    assert load_translator(run, settings=StudentSettings(blank_penalty=0.0)).generator.blank_penalty == 0.0
