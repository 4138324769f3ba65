"""Mode mixing in the outputs of a model trained on multi-target data (Zhou et al. 2020, sec. 3).

Training targets carry a mode label (``raw/<split>.mode``: which of K "languages" the
target was drawn from). Every output token is attributed to the mode under which it is
most probable, p(token | mode) from the training targets (add-``smoothing`` over the
joint vocabulary; a uniform prior over modes), tokens never seen in training are
skipped. Per sentence we get the share of tokens attributed to each mode; the majority
share is 1.0 for a sentence written in one mode. Corpus-level mode-mixing rate = share
of sentences whose majority share is below 1 (they mix modes); we also report the mean
majority share.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from analysis.lexical import words


class ModeLexicon:
    def __init__(self, targets: list[str], modes: list[str], smoothing: float = 0.5):
        self.modes = sorted(set(modes), key=int)
        counts = {mode: Counter() for mode in self.modes}
        for target, mode in zip(targets, modes):
            counts[mode].update(words(target))
        vocabulary = set().union(*counts.values())
        self.best_mode = {}
        for token in vocabulary:
            probs = [(counts[m][token] + smoothing) / (sum(counts[m].values()) + smoothing * len(vocabulary))
                     for m in self.modes]
            self.best_mode[token] = int(np.argmax(probs))

    def shares(self, sentence: str) -> np.ndarray | None:
        """Fraction of attributable tokens per mode, or None if none is attributable."""
        attributed = [self.best_mode[t] for t in words(sentence) if t in self.best_mode]
        if not attributed:
            return None
        return np.bincount(attributed, minlength=len(self.modes)) / len(attributed)


def mode_mixing(lexicon: ModeLexicon, outputs: list[str]) -> dict:
    shares = [s for s in (lexicon.shares(line) for line in outputs) if s is not None]
    majority = np.array([s.max() for s in shares]) if shares else np.array([])
    return {"sentences": len(outputs), "attributable_sentences": len(shares),
            "mode_mixing_rate": float((majority < 1.0 - 1e-9).mean()) if len(majority) else float("nan"),
            "mean_majority_share": float(majority.mean()) if len(majority) else float("nan"),
            "shares": [s.round(4).tolist() for s in shares]}


def simplex_xy(shares: np.ndarray) -> np.ndarray:
    """Barycentric (K=3) shares -> 2-D points in an equilateral triangle."""
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    return np.asarray(shares) @ corners
