"""The directed acyclic graph of a DA-Transformer (Huang et al. 2022) in batched PyTorch: its loss, its best
alignment (for glancing) and its three one-pass decodings, each a pure tensor function.

A sentence's decoder has ``L`` vertices (``--upsample-ratio`` x its source length). Vertex ``v`` predicts a
token distribution ``P(y | v)`` and a distribution over the vertices after it, ``P(u | v)`` for ``u > v``
(the links; :func:`masked_links`). A target ``y_1 .. y_M`` (``<s>`` first, ``</s>`` last) is emitted by a path
``0 = a_1 < a_2 < ... < a_M = L - 1``; its probability is the sum over every such path of
``prod_i P(a_{i+1} | a_i) * prod_i P(y_i | a_i)``. A target longer than its vertices has no path
(``M > L``): it is not feasible, and the criterion counts it.

Scores are log-probabilities over [batch, vertices, vertices] tensors, with a finite "log 0" so impossible
paths stay comparable and gradients never turn into NaN. We wrote it from the paper and the published
PyTorch fallback's description (thu-coai/DA-Transformer, ``fs_plugins/custom_ops/dag_loss.py``), which
needs CUDA kernels for speed; here one step per target token runs over all sentences and vertices at
once, on a CPU or a GPU. Viterbi decoding follows Shao et al. (2022), "Viterbi Decoding of Directed
Acyclic Transformer for Non-Autoregressive Machine Translation".
"""
from __future__ import annotations

import torch

from .glancing import NEGATIVE

DAG_DECODINGS = ("lookahead", "greedy", "viterbi")  # the first is the default (the paper's)
VITERBI_BETA = 1.0  # Shao et al.'s length normalization: a path's score over its length ** beta


def masked_links(scores: torch.Tensor, vertex_lengths: torch.Tensor) -> torch.Tensor:
    """Link log-probabilities [batch, L, L] from raw scores: a row is a softmax over the vertices after it
    that exist (``u > v``, ``u < vertex_lengths``); every other entry, and every row of a vertex with no
    successor (the last one, padding), is :data:`NEGATIVE`."""
    _, width, _ = scores.shape
    positions = torch.arange(width, device=scores.device)
    forward = positions.unsqueeze(0) > positions.unsqueeze(1)  # [v, u]: u after v
    exists = positions.unsqueeze(0) < vertex_lengths.unsqueeze(1)  # [batch, u]
    valid = forward.unsqueeze(0) & exists.unsqueeze(1) & exists.unsqueeze(2)
    links = torch.log_softmax(scores.masked_fill(~valid, NEGATIVE), dim=-1)
    return links.masked_fill(~valid, NEGATIVE)


def feasible(vertex_lengths: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """[batch]: the target has a path: no more tokens than vertices, and one token only on one vertex (a path
    runs from the first vertex to the last)."""
    return ((target_lengths >= 2) & (target_lengths <= vertex_lengths)) | (target_lengths.eq(1) & vertex_lengths.eq(1))


def dag_log_likelihood(emissions: torch.Tensor, links: torch.Tensor, vertex_lengths: torch.Tensor,
                       target_lengths: torch.Tensor) -> torch.Tensor:
    """log P(target) [batch], summed over every path by the forward algorithm.

    ``emissions`` [batch, L, M]: ``log P(y_i | v)`` of the target's i-th token at vertex v (padding anywhere);
    ``links`` [batch, L, L] from :func:`masked_links`. Where the target is not :func:`feasible` the value is
    meaningless (about ``M * NEGATIVE``); the caller masks it.
    """
    batch, width, _ = emissions.shape
    rows = torch.arange(batch, device=emissions.device)
    # one step is a batched vector-matrix product in probability space, shifted by each row's largest value:
    # log sum_v exp(f[v]) P(u | v) = top + log sum_v exp(f[v] - top) P(u | v). Several times faster than a
    # logsumexp over [batch, L, L] per token, and it keeps [batch, L] per token for the backward pass. In float64
    # the link probabilities keep their value down to 1e-308; a sum that still underflows (no way into the vertex) is
    # clamped to 1e-300 instead of giving log 0, so no gradient becomes NaN.
    probabilities = links.double().exp()  # NEGATIVE -> exactly 0
    emissions64 = emissions.double()
    f = emissions64.new_full((batch, width), NEGATIVE)  # f[b, v]: log P(y_1 .. y_i, with y_i at vertex v)
    f[:, 0] = emissions64[:, 0, 0]
    for i in range(1, int(target_lengths.max())):
        top = f.max(1, keepdim=True).values
        total = torch.bmm((f - top).exp().unsqueeze(1), probabilities).squeeze(1)
        step = total.clamp(min=1e-300).log() + top + emissions64[:, :, i]
        f = torch.where((i < target_lengths).unsqueeze(1), step, f)  # finished rows keep theirs
    return f[rows, (vertex_lengths - 1).clamp(min=0)].to(emissions.dtype)


def dag_best_alignment(emissions: torch.Tensor, links: torch.Tensor, vertex_lengths: torch.Tensor,
                       target_lengths: torch.Tensor) -> torch.Tensor:
    """The vertex of each target token on the most probable path [batch, M] (Viterbi over paths of exactly
    M vertices); -1 past a target's length and for every token of a target that is not :func:`feasible`."""
    batch, width, tokens = emissions.shape
    rows = torch.arange(batch, device=emissions.device)
    score = emissions.new_full((batch, width), NEGATIVE)
    score[:, 0] = emissions[:, 0, 0]
    back = torch.zeros((tokens, batch, width), dtype=torch.long, device=emissions.device)
    for i in range(1, tokens):
        best, previous = (score.unsqueeze(2) + links).max(dim=1)
        running = (i < target_lengths).unsqueeze(1)
        score = torch.where(running, best + emissions[:, :, i], score)
        back[i] = previous
    vertex = (vertex_lengths - 1).clamp(min=0)
    path = torch.full((batch, tokens), -1, dtype=torch.long, device=emissions.device)
    for i in range(tokens - 1, -1, -1):
        here = i < target_lengths
        path[:, i] = torch.where(here, vertex, path[:, i])
        vertex = torch.where(here & (i > 0), back[i, rows, vertex], vertex)
    return path.masked_fill(~feasible(vertex_lengths, target_lengths).unsqueeze(1), -1)


def _walk(successor: torch.Tensor, vertex_lengths: torch.Tensor) -> list[list[int]]:
    """Each row's path from vertex 0, following ``successor`` [batch, L] to its last vertex."""
    table, lengths, paths = successor.tolist(), vertex_lengths.tolist(), []
    for row, length in zip(table, lengths):
        path, vertex = [0], 0
        while vertex < length - 1:
            vertex = row[vertex]
            path.append(vertex)
        paths.append(path)
    return paths


def dag_paths(token_scores: torch.Tensor, links: torch.Tensor, vertex_lengths: torch.Tensor,
              strategy: str = "lookahead", beta: float = VITERBI_BETA) -> list[list[int]]:
    """Each sentence's decoded path (vertex indices from 0 to its last vertex), in one pass.

    ``token_scores`` [batch, L]: the log-probability of each vertex's best token (its argmax is what the
    vertex writes). ``greedy`` follows each vertex's most probable link; ``lookahead`` the link that
    maximizes ``log P(u | v) + token_scores[u]``; ``viterbi`` the path with the best
    ``(sum of its links + sum of its token scores) / (number of its vertices) ** beta`` among all paths.
    """
    if strategy == "greedy":
        return _walk(links.argmax(-1), vertex_lengths)
    if strategy == "lookahead":
        return _walk((links + token_scores.unsqueeze(1)).argmax(-1), vertex_lengths)
    if strategy != "viterbi":
        raise ValueError(f"unknown DAG decoding {strategy!r}; choose one of {', '.join(DAG_DECODINGS)}")
    batch, width = token_scores.shape
    rows = torch.arange(batch, device=links.device)
    last = (vertex_lengths - 1).clamp(min=0)
    score = token_scores.new_full((batch, width), NEGATIVE)  # best path of m vertices ending at v
    score[:, 0] = token_scores[:, 0]
    ends = [score[rows, last]]  # [m - 1]: the best path of m vertices that ends at the last vertex
    back = []
    for _ in range(1, width):
        best, previous = (score.unsqueeze(2) + links).max(dim=1)
        score = best + token_scores
        back.append(previous)
        ends.append(score[rows, last])
    ends = torch.stack(ends, dim=1)  # [batch, L]
    counts = torch.arange(1, width + 1, device=links.device, dtype=ends.dtype)
    reachable = counts.unsqueeze(0) <= vertex_lengths.unsqueeze(1)
    reachable &= ~(counts.unsqueeze(0).eq(1) & vertex_lengths.unsqueeze(1).gt(1))  # one vertex: only if it is the last
    normalized = (ends / counts.pow(beta)).masked_fill(~reachable | (ends <= NEGATIVE / 2), float("-inf"))
    chosen = normalized.argmax(1).tolist()  # vertices on the path - 1
    paths = []
    for row, extra in enumerate(chosen):
        vertex, path = int(last[row]), [int(last[row])]
        for m in range(extra, 0, -1):
            vertex = int(back[m - 1][row, vertex])
            path.append(vertex)
        paths.append(path[::-1])
    return paths
