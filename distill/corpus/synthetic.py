"""Synthetic parallel corpora whose conditional entropy H(y|x) is known exactly.

The generating process, for one example:
1. source length ~ Uniform{min_len..max_len}; source words iid from a Zipf(1) law
   over ``source_types`` pseudo-words;
2. mode k ~ Uniform{0..modes-1} (K target "languages", Zhou et al. 2020's multi-target
   setting); every mode has its own target words, disjoint from the other modes';
3. every source word x has ``candidates`` translations in mode k, chosen with
   probabilities p_j ∝ exp(-beta * j), beta solved so that H(p) = ``word_entropy`` bits;
4. reordering is deterministic: a fixed ``reorder`` share of source types are
   "modifiers", and a modifier followed by a non-modifier swaps places with it
   (like Spanish noun-adjective order), so it adds no entropy.

Because target words are unique per (mode, source word, candidate) and the order is a
function of the source, y determines the mode and every choice, hence exactly
    H(y|x) = log2(K) + len(x) * word_entropy   bits per sentence,
and the lexical translation entropy H(y|x) of every source word is
log2(K) + word_entropy bits: the ground truth for the complexity estimator.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

CONSONANTS = ("bdfgklmnprstvz", "bcdhjkmnpqrtwx", "dfghlmnrstvyz", "bcfgjklpqsvwxz")
VOWELS = ("aeiou", "aeiouy")


@dataclass(frozen=True)
class SyntheticConfig:
    source_types: int = 200
    min_len: int = 4
    max_len: int = 12
    candidates: int = 4
    word_entropy: float = 1.0
    reorder: float = 0.3
    modes: int = 1
    train_size: int = 20000
    valid_size: int = 500
    test_size: int = 500
    seed: int = 1

    def check(self) -> None:
        if self.source_types < 1 or self.candidates < 1 or self.modes < 1:
            raise ValueError("source_types, candidates and modes must be >= 1")
        if not 1 <= self.min_len <= self.max_len:
            raise ValueError("need 1 <= min_len <= max_len")
        if not 0 <= self.word_entropy <= math.log2(self.candidates) + 1e-9:
            raise ValueError(f"word_entropy must be in [0, log2(candidates)={math.log2(self.candidates):.3f}] bits")
        if not 0 <= self.reorder <= 1:
            raise ValueError("reorder must be in [0, 1]")


def entropy_bits(probs: np.ndarray) -> float:
    nonzero = probs[probs > 0]
    return float(-(nonzero * np.log2(nonzero)).sum())


def candidate_probabilities(candidates: int, target_bits: float) -> np.ndarray:
    """p_j ∝ exp(-beta j) with entropy ``target_bits`` (bisection on beta; H decreases in beta)."""
    ranks = np.arange(candidates, dtype=np.float64)
    if target_bits <= 0 or candidates == 1:
        probs = np.zeros(candidates)
        probs[0] = 1.0
        return probs
    if target_bits >= math.log2(candidates) - 1e-12:
        return np.full(candidates, 1.0 / candidates)

    def probs_for(beta: float) -> np.ndarray:
        weights = np.exp(-beta * ranks)
        return weights / weights.sum()

    low, high = 0.0, 60.0
    for _ in range(200):
        mid = (low + high) / 2
        if entropy_bits(probs_for(mid)) > target_bits:
            low = mid
        else:
            high = mid
    return probs_for((low + high) / 2)


class _WordMaker:
    """Unique pronounceable pseudo-words from a mode-specific syllable inventory."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.used: set[str] = set()

    def make(self, inventory: int) -> str:
        consonants = CONSONANTS[inventory % len(CONSONANTS)]
        vowels = VOWELS[inventory % len(VOWELS)]
        while True:
            syllables = int(self.rng.integers(1, 4))
            word = "".join(consonants[self.rng.integers(len(consonants))] + vowels[self.rng.integers(len(vowels))]
                           for _ in range(syllables))
            if word not in self.used:
                self.used.add(word)
                return word


class SyntheticLanguage:
    """The lexicon and grammar drawn once from the seed; ``sample`` draws examples from it."""

    def __init__(self, config: SyntheticConfig):
        config.check()
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        words = _WordMaker(self.rng)
        self.source_words = [words.make(0) for _ in range(config.source_types)]
        zipf = 1.0 / np.arange(1, config.source_types + 1)
        self.source_probs = zipf / zipf.sum()
        self.is_modifier = self.rng.random(config.source_types) < config.reorder
        # translations[mode][source index][candidate]
        self.translations = [[[words.make(mode + 1) for _ in range(config.candidates)]
                              for _ in range(config.source_types)] for mode in range(config.modes)]
        self.candidate_probs = candidate_probabilities(config.candidates, config.word_entropy)
        self.word_entropy_bits = entropy_bits(self.candidate_probs)
        self.lexical_entropy_bits = math.log2(config.modes) + self.word_entropy_bits

    def target_order(self, source: np.ndarray) -> list[int]:
        order, position = [], 0
        while position < len(source):
            if (position + 1 < len(source) and self.is_modifier[source[position]]
                    and not self.is_modifier[source[position + 1]]):
                order += [position + 1, position]
                position += 2
            else:
                order.append(position)
                position += 1
        return order

    def sample(self, count: int) -> dict[str, list[str]]:
        """Columns src, tgt, mode and entropy (exact H(y|x) of the sentence, bits)."""
        cfg, rng = self.config, self.rng
        columns = {"src": [], "tgt": [], "mode": [], "entropy": []}
        for _ in range(count):
            length = int(rng.integers(cfg.min_len, cfg.max_len + 1))
            source = rng.choice(cfg.source_types, size=length, p=self.source_probs)
            mode = int(rng.integers(cfg.modes))
            choices = rng.choice(cfg.candidates, size=length, p=self.candidate_probs)
            target = [self.translations[mode][source[i]][choices[i]] for i in self.target_order(source)]
            columns["src"].append(" ".join(self.source_words[i] for i in source))
            columns["tgt"].append(" ".join(target))
            columns["mode"].append(str(mode))
            columns["entropy"].append(f"{math.log2(cfg.modes) + length * self.word_entropy_bits:.6f}")
        return columns


def prepare_synthetic(out_dir, config: SyntheticConfig, *, vocab_size: int = 2000):
    """Generate the splits and write a corpus directory with the ground truth in its manifest."""
    from distill.corpus.directory import build_corpus

    language = SyntheticLanguage(config)
    splits = {split: language.sample(size) for split, size in
              (("train", config.train_size), ("valid", config.valid_size), ("test", config.test_size))}
    ground_truth = {
        "lexical_entropy_bits": language.lexical_entropy_bits,
        "word_entropy_within_mode_bits": language.word_entropy_bits,
        "mode_entropy_bits": math.log2(config.modes),
        "candidate_probabilities": [round(p, 8) for p in language.candidate_probs.tolist()],
        "mean_sentence_entropy_bits": {split: float(np.mean([float(v) for v in cols["entropy"]]))
                                       for split, cols in splits.items()},
        "per_sentence_file": "raw/<split>.entropy",
        "mode_file": "raw/<split>.mode",
    }
    return build_corpus(
        out_dir, splits, kind="synthetic", config={"corpus": "synthetic", **asdict(config), "spm_vocab": vocab_size},
        sources=[{"generator": "distill.corpus.synthetic", **asdict(config)}],
        references={"primary": "tgt", "extra": []},
        filtered={split: {"counts": {}, "examples": []} for split in splits},
        vocab_size=vocab_size, seed=config.seed, extra_manifest={"ground_truth": ground_truth},
    )
