"""The DAG of the DA-Transformer student (nat/dag.py) against brute force: every path of every tiny graph."""
import itertools
import math

import pytest
import torch

from nat.dag import dag_best_alignment, dag_log_likelihood, dag_paths, feasible, masked_links
from nat.glancing import NEGATIVE


def paths_of(vertices: int, tokens: int) -> list[tuple[int, ...]]:
    """Every path of ``tokens`` vertices from 0 to ``vertices - 1`` (increasing)."""
    if tokens == 1 or vertices < tokens:
        return [(0,)] if vertices == tokens == 1 else []
    return [(0, *inner, vertices - 1) for inner in itertools.combinations(range(1, vertices - 1), tokens - 2)]


def path_score(path, links, emissions=None, token_scores=None) -> float:
    """Sum of the path's link log-probabilities and of its emissions (token i at path[i]) or token scores."""
    total = sum(float(links[a, b]) for a, b in zip(path, path[1:]))
    if emissions is not None:
        return total + sum(float(emissions[v, i]) for i, v in enumerate(path))
    return total + sum(float(token_scores[v]) for v in path)


def random_case(seed: int, batch: int = 4, width: int = 6, tokens: int = 4):
    generator = torch.Generator().manual_seed(seed)
    vertex_lengths = torch.randint(1, width + 1, (batch,), generator=generator)
    target_lengths = torch.randint(1, tokens + 1, (batch,), generator=generator)
    vertex_lengths[0], target_lengths[0] = width, tokens  # one row fills the batch
    scores = torch.randn(batch, width, width, generator=generator, dtype=torch.float64)
    emissions = torch.randn(batch, width, tokens, generator=generator, dtype=torch.float64).log_softmax(1)
    return masked_links(scores, vertex_lengths), emissions, vertex_lengths, target_lengths


# L=4 vertices, M=3 tokens: the paths are 0-1-3 and 0-2-3. Links from 0: 0.5 to 1, 0.25 to 2, 0.25 to 3; 1 -> 3
# and 2 -> 3 with probability 1 (their only way on). Emissions: y1 at 0: 1; y2 at 1: 0.5, at 2: 0.8; y3 at 3: 0.5.
# P = 0.5 * 1 * 0.5 * 0.5 (0-1-3) + 0.25 * 1 * 0.8 * 0.5 (0-2-3) = 0.125 + 0.1 = 0.225; the best path is 0-1-3
HAND_LINK_PROBABILITIES = [[0, 0.5, 0.25, 0.25], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
HAND_EMISSIONS = [[1.0, 0.1, 0.1], [0.1, 0.5, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.5]]  # [vertex][token]
HAND_PROBABILITY = 0.5 * 1 * 0.5 * 0.5 + 0.25 * 1 * 0.8 * 0.5  # 0.125 + 0.1


def test_the_hand_computed_case():
    probabilities = torch.tensor(HAND_LINK_PROBABILITIES, dtype=torch.float64)
    links = probabilities.clamp(min=1e-300).log().masked_fill(probabilities.eq(0), NEGATIVE).unsqueeze(0)
    emissions = torch.tensor(HAND_EMISSIONS, dtype=torch.float64).log().unsqueeze(0)
    lengths, tokens = torch.tensor([4]), torch.tensor([3])
    assert math.exp(float(dag_log_likelihood(emissions, links, lengths, tokens))) == pytest.approx(HAND_PROBABILITY)
    assert dag_best_alignment(emissions, links, lengths, tokens).tolist() == [[0, 1, 3]]  # 0.125 > 0.1


def test_links_go_forward_within_each_sentence_and_sum_to_one():
    scores = torch.randn(2, 5, 5, dtype=torch.float64)
    links = masked_links(scores, torch.tensor([5, 3]))
    probabilities = links.exp() * links.gt(NEGATIVE / 2)
    assert torch.allclose(probabilities.sum(-1), torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], dtype=torch.float64))
    assert probabilities[0].tril().abs().sum() == 0  # never back, never to itself
    assert probabilities[1, :, 3:].abs().sum() == 0  # never into the second sentence's padding


@pytest.mark.parametrize("seed", range(12))
def test_the_loss_is_the_log_of_the_sum_over_every_path(seed):
    links, emissions, vertex_lengths, target_lengths = random_case(seed)
    result = dag_log_likelihood(emissions, links, vertex_lengths, target_lengths)
    for row in range(len(result)):
        paths = paths_of(int(vertex_lengths[row]), int(target_lengths[row]))
        assert bool(feasible(vertex_lengths, target_lengths)[row]) == bool(paths)
        if paths:
            scores = torch.tensor([path_score(p, links[row], emissions[row]) for p in paths], dtype=torch.float64)
            expected = torch.logsumexp(scores, 0)
            assert float(result[row]) == pytest.approx(float(expected), abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_the_loss_passes_gradcheck(seed):
    _, emissions, vertex_lengths, target_lengths = random_case(seed, batch=3, width=5, tokens=3)
    fits = feasible(vertex_lengths, target_lengths)
    scores = torch.randn(3, 5, 5, dtype=torch.float64, requires_grad=True)
    logits = torch.randn(3, 5, 3, dtype=torch.float64, requires_grad=True)

    def loss(scores, logits):
        value = dag_log_likelihood(logits.log_softmax(1), masked_links(scores, vertex_lengths), vertex_lengths,
                                   target_lengths)
        return value.masked_fill(~fits, 0)

    assert torch.autograd.gradcheck(loss, (scores, logits))


@pytest.mark.parametrize("seed", range(12))
def test_the_best_alignment_is_the_most_probable_path(seed):
    links, emissions, vertex_lengths, target_lengths = random_case(seed)
    alignment = dag_best_alignment(emissions, links, vertex_lengths, target_lengths)
    for row in range(len(alignment)):
        paths = paths_of(int(vertex_lengths[row]), int(target_lengths[row]))
        found = [v for v in alignment[row].tolist() if v >= 0]
        if not paths:
            assert found == []
            continue
        best = max(paths, key=lambda p: path_score(p, links[row], emissions[row]))
        assert tuple(found) == best


def every_path(vertices: int) -> list[tuple[int, ...]]:
    return [p for tokens in range(1, vertices + 1) for p in paths_of(vertices, tokens)]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_viterbi_returns_the_brute_force_best_path(seed, beta):
    links, emissions, vertex_lengths, _ = random_case(seed)
    token_scores = emissions.max(-1).values  # any per-vertex scores will do
    decoded = dag_paths(token_scores, links, vertex_lengths, "viterbi", beta)
    for row, path in enumerate(decoded):
        candidates = every_path(int(vertex_lengths[row]))
        normalized = {p: path_score(p, links[row], token_scores=token_scores[row]) / len(p) ** beta
                      for p in candidates}
        assert normalized[tuple(path)] == pytest.approx(max(normalized.values()), abs=1e-9)


def test_greedy_follows_the_best_link_and_lookahead_adds_the_next_token():
    # 0 -> 1 is the likelier link, but 2 writes a much likelier token
    links = masked_links(torch.tensor([[[0.0, 1.0, 0.5, 0.0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]]),
                         torch.tensor([4]))
    token_scores = torch.tensor([[0.0, -5.0, -0.1, 0.0]])
    assert dag_paths(token_scores, links, torch.tensor([4]), "greedy") == [[0, 1, 2, 3]]
    assert dag_paths(token_scores, links, torch.tensor([4]), "lookahead") == [[0, 2, 3]]


def test_a_one_vertex_sentence_is_its_only_vertex():
    links = masked_links(torch.zeros(2, 3, 3), torch.tensor([1, 3]))
    for strategy in ("greedy", "lookahead", "viterbi"):
        paths = dag_paths(torch.zeros(2, 3), links, torch.tensor([1, 3]), strategy)
        assert paths[0] == [0] and paths[1][0] == 0 and paths[1][-1] == 2


def test_an_unknown_decoding_is_refused():
    with pytest.raises(ValueError, match="unknown DAG decoding 'beam'"):
        dag_paths(torch.zeros(1, 2), masked_links(torch.zeros(1, 2, 2), torch.tensor([2])), torch.tensor([2]), "beam")
