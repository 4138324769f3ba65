"""Token repetition in system outputs: the share of output tokens equal to the token before them.

Non-autoregressive decoders predict every position independently, so where the model is unsure which of
several translations it is writing, neighbouring positions pick the same likely word ("the the Lord Lord");
Gu et al. (2018) name repeated tokens the NAT's typical error, and Zhou, Gu & Neubig (2020) measure them as
the repetition rate. A human text repeats few tokens in a row, so the reference's own rate is the floor.

Tokens are the outputs' whitespace-separated words (the detokenized text every system writes, so systems
with other vocabularies compare on one footing).
"""
from __future__ import annotations

from collections.abc import Iterable


def repetitions(line: str) -> tuple[int, int]:
    """(tokens, tokens equal to their predecessor) of one output line."""
    tokens = line.split()
    return len(tokens), sum(a == b for a, b in zip(tokens, tokens[1:]))


def repetition_rate(lines: Iterable[str]) -> dict:
    """``tokens``, ``repeated`` (tokens equal to the one before them, within a line) and ``rate`` (repeated /
    tokens; None for outputs without a token) over all ``lines``."""
    tokens = repeated = 0
    for line in lines:
        count, same = repetitions(line)
        tokens, repeated = tokens + count, repeated + same
    return {"tokens": tokens, "repeated": repeated, "rate": repeated / tokens if tokens else None}
