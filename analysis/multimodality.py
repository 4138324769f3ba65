"""Mode mixing in the outputs of a model trained on multi-target data (Zhou et al. 2020, sec. 3).

Training targets carry a mode label (``raw/<split>.mode``: which of K "languages" the
target was drawn from). Every output token is attributed to the mode under which it is
most probable, p(token | mode) from the training targets (add-``smoothing`` over the
joint vocabulary; a uniform prior over modes), tokens never seen in training are
skipped. Per sentence we get the share of tokens attributed to each mode; the majority
share is 1.0 for a sentence written in one mode. Corpus-level mode-mixing rate = share
of sentences whose majority share is below 1 (they mix modes); we also report the mean
majority share.

On real data (WEB vs KJV English) most words belong to both modes ("the", "and"): there only
*marker* words count, those seen ``min_count`` times or more whose best mode has a posterior of at
least ``min_posterior`` ("thou", "hath", "unto" for KJV; "you", "has" for WEB). The synthetic
corpora's modes have disjoint vocabularies, so there the defaults attribute every token.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from analysis.lexical import words


class ModeLexicon:
    def __init__(self, targets: list[str], modes: list[str], smoothing: float = 0.5, min_posterior: float = 0.0,
                 min_count: int = 1, names: dict[str, str] | None = None):
        self.modes = sorted(set(modes), key=int)
        names = names or {}
        # what tables and figures call each mode: a given name ("WEB", "KJV") or "mode 0"
        self.labels = [names.get(mode, f"mode {mode}") for mode in self.modes]
        counts = {mode: Counter() for mode in self.modes}
        for target, mode in zip(targets, modes):
            counts[mode].update(words(target))
        vocabulary = set().union(*counts.values())
        totals = {m: sum(counts[m].values()) + smoothing * len(vocabulary) for m in self.modes}
        self.best_mode = {}
        for token in vocabulary:
            if sum(counts[m][token] for m in self.modes) < min_count:
                continue
            probs = np.array([(counts[m][token] + smoothing) / totals[m] for m in self.modes])
            if probs.max() / probs.sum() >= min_posterior:  # uniform prior over modes
                self.best_mode[token] = int(np.argmax(probs))

    def shares(self, sentence: str) -> np.ndarray | None:
        """Fraction of attributable tokens per mode, or None if none is attributable."""
        attributed = [self.best_mode[t] for t in words(sentence) if t in self.best_mode]
        if not attributed:
            return None
        return np.bincount(attributed, minlength=len(self.modes)) / len(attributed)


    def marked(self, sentence: str) -> str:
        """The sentence with each attributable word tagged by its mode's label, e.g. ``thou[KJV] you[WEB]``."""
        return " ".join(f"{t}[{self.labels[self.best_mode[t]]}]" if t in self.best_mode else t for t in words(sentence))


def mode_mixing(lexicon: ModeLexicon, outputs: list[str], examples: int = 3) -> dict:
    """Mode-mixing rate and mean majority share of ``outputs``, with the first ``examples`` mixing
    sentences, their marker words tagged (:meth:`ModeLexicon.marked`)."""
    shares, mixes, examples_found = [], [], []
    for line in outputs:
        share = lexicon.shares(line)
        if share is not None:
            shares.append(share)
            mixes.append(share.max() < 1.0 - 1e-9)  # not every attributed word from one mode
            if mixes[-1] and len(examples_found) < examples:
                examples_found.append(lexicon.marked(line))
    majority = np.array([s.max() for s in shares]) if shares else np.array([])
    return {"sentences": len(outputs), "attributable_sentences": len(shares),
            "mode_mixing_rate": float(np.mean(mixes)) if mixes else float("nan"),
            "mean_majority_share": float(majority.mean()) if len(majority) else float("nan"),
            "mixing_examples": examples_found, "shares": [s.round(4).tolist() for s in shares]}


def simplex_xy(shares: np.ndarray) -> np.ndarray:
    """Barycentric (K=3) shares -> 2-D points in an equilateral triangle."""
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    return np.asarray(shares) @ corners


def markdown(report: dict) -> str:
    """The mode-mixing table and the first mixing outputs of every system, their marker words tagged."""
    from distill.tables import markdown_table
    from nat.systems import row_label

    lines = [f"Mode mixing on `{report['corpus']}` ({' vs '.join(report['mode_labels'])}; "
             f"{report['attributable_words']} marker words: posterior >= {report['marker_posterior']:g}, "
             f"count >= {report['min_count']})", "",
             markdown_table(["system", "sentences", "with a marker word", "mode mixing", "mean majority share"],
                            ([row_label(r), r["sentences"], r["attributable_sentences"], f"{r['mode_mixing_rate']:.1%}",
                              f"{r['mean_majority_share']:.3f}"] for r in report["systems"]))]
    for r in report["systems"]:
        lines += ["", f"{row_label(r)}, first outputs that mix modes (word[mode]):", ""]
        lines += [f"- {example}" for example in r["mixing_examples"]] or ["- none"]
    return "\n".join(lines) + "\n"
