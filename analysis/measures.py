"""Corpus measures of Zhou, Gu & Neubig (2020) and simple corpus statistics.

complexity C(d)   = mean over source word types x of H(y|x) under the lexical table (bits)
faithfulness F(d) = mean over source types x of KL(p_raw(.|x) || p_distilled(.|x)) (bits)
plus average target length, type/token ratio, unigram token entropy, and a reordering
score: the share of aligned target-word pairs whose source positions are in the
opposite order (Kendall-tau distance of the alignment, normalized; 0 = monotone).
"""
from __future__ import annotations

import math
from collections import Counter
from itertools import combinations

import numpy as np

from analysis.lexical import LexicalTable, kl_divergence_bits, words
from distill.alignment import align
from distill.corpus.directory import Corpus

DEFAULT_MIN_COUNT = 10
DEFAULT_SMOOTHING = 0.1


def _reordering(links: list[list[tuple[int, int]]]) -> float:
    crossed = pairs = 0
    for sentence in links:
        ordered = sorted(sentence, key=lambda link: link[1])  # by target position
        for (i1, _), (i2, _) in combinations(ordered, 2):
            pairs += 1
            crossed += i1 > i2
    return crossed / pairs if pairs else 0.0


class AlignedCorpus:
    """A split of a corpus directory, tokenized and aligned once."""

    def __init__(self, sources: list[str], targets: list[str]):
        self.sources = [words(line) for line in sources]
        self.targets = [words(line) for line in targets]
        self.links = align(self.sources, self.targets)
        self.table = LexicalTable.from_alignment(self.sources, self.targets, self.links)

    @classmethod
    def from_corpus(cls, corpus: Corpus, split: str = "train", limit: int | None = None) -> AlignedCorpus:
        sources, targets = corpus.lines(split, "src"), corpus.lines(split, "tgt")
        return cls(sources[:limit], targets[:limit])

    def complexity(self, min_count: int = DEFAULT_MIN_COUNT) -> float:
        types = self.table.frequent_types(min_count)
        if not types:
            raise ValueError(f"no source type has {min_count} aligned links; lower min_count")
        return float(np.mean([self.table.entropy_bits(x) for x in types]))

    def statistics(self, min_count: int = DEFAULT_MIN_COUNT) -> dict:
        tokens = Counter(word for sentence in self.targets for word in sentence)
        total = sum(tokens.values())
        return {
            "sentences": len(self.targets),
            "complexity_bits": self.complexity(min_count),
            "source_types_measured": len(self.table.frequent_types(min_count)),
            "min_count": min_count,
            "avg_target_length": total / max(len(self.targets), 1),
            "target_type_token_ratio": len(tokens) / max(total, 1),
            "target_token_entropy_bits": -sum(c / total * math.log2(c / total) for c in tokens.values()),
            "reordering": _reordering(self.links),
            "aligned_target_share": sum(len(s) for s in self.links) / max(total, 1),
        }


def faithfulness(raw: AlignedCorpus, distilled: AlignedCorpus, min_count: int = DEFAULT_MIN_COUNT,
                 smoothing: float = DEFAULT_SMOOTHING) -> float:
    """Mean KL(p_raw || p_distilled) over source types frequent in the raw corpus."""
    values = [kl_divergence_bits(raw.table.counts[x], distilled.table.counts.get(x, Counter()), smoothing)
              for x in raw.table.frequent_types(min_count)]
    return float(np.mean(values))
