"""Word alignment (eflomal) and the lexical translation table p(y|x) of a corpus.

Text is split into words with sacrebleu's 13a tokenizer (punctuation separated) and
lowercased. eflomal aligns source to target; we read its forward links (every target
word is linked to at most one source word, the direction of p(y|x)).

Treatment of unaligned words: a target word linked to NULL contributes to no source
word's distribution; a source word with no links contributes no counts. p(y|x) is the
maximum-likelihood estimate count(x, y) / count(x) with no smoothing; source types with
fewer than ``min_count`` links are left out of corpus-level means (their entropy
estimate is too noisy, and biased low). Faithfulness needs a smoothed distilled table
(see :func:`kl_divergence_bits`).
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

_tokenize = Tokenizer13a()


def words(line: str) -> list[str]:
    return _tokenize(line.lower()).split()


@dataclass
class LexicalTable:
    """count(x, y) from alignment links, with per-source totals."""

    counts: dict[str, Counter]

    @classmethod
    def from_alignment(cls, sources, targets, links) -> LexicalTable:
        counts: dict[str, Counter] = defaultdict(Counter)
        for src, tgt, pairs in zip(sources, targets, links):
            for i, j in pairs:
                counts[src[i]][tgt[j]] += 1
        return cls(dict(counts))

    def total(self, x: str) -> int:
        return sum(self.counts.get(x, Counter()).values())

    def frequent_types(self, min_count: int) -> list[str]:
        return sorted(x for x, row in self.counts.items() if sum(row.values()) >= min_count)

    def entropy_bits(self, x: str) -> float:
        row = self.counts[x]
        total = sum(row.values())
        return -sum(c / total * math.log2(c / total) for c in row.values())


def kl_divergence_bits(p_counts: Counter, q_counts: Counter, smoothing: float) -> float:
    """KL(p || q) in bits; q is add-``smoothing`` smoothed over the union of both supports."""
    support = set(p_counts) | set(q_counts)
    p_total = sum(p_counts.values())
    q_total = sum(q_counts.values()) + smoothing * len(support)
    kl = 0.0
    for y in support:
        p = p_counts.get(y, 0) / p_total
        if p > 0:
            q = (q_counts.get(y, 0) + smoothing) / q_total
            kl += p * math.log2(p / q)
    return kl
