import math

import numpy as np
import pytest

from distill.corpus.synthetic import SyntheticConfig, SyntheticLanguage, candidate_probabilities, entropy_bits


def test_candidate_probabilities_hit_requested_entropy():
    for bits in (0.0, 0.3, 1.0, 1.7, 2.0):
        assert entropy_bits(candidate_probabilities(4, bits)) == pytest.approx(bits, abs=1e-6)


def test_recorded_entropy_matches_hand_computation():
    # 2 candidates with p = (1/2, 1/2): exactly 1 bit per word; fixed length 3; K = 3 modes.
    config = SyntheticConfig(source_types=5, min_len=3, max_len=3, candidates=2, word_entropy=1.0,
                             reorder=0.0, modes=3, train_size=10, seed=7)
    language = SyntheticLanguage(config)
    assert language.candidate_probs.tolist() == [0.5, 0.5]
    sample = language.sample(50)
    expected = math.log2(3) + 3 * 1.0  # 4.584963 bits
    assert [float(v) for v in sample["entropy"]] == pytest.approx([expected] * 50, abs=1e-6)
    assert language.lexical_entropy_bits == pytest.approx(math.log2(3) + 1.0)
    assert set(sample["mode"]) == {"0", "1", "2"}


def test_modes_use_disjoint_target_vocabularies_and_target_is_injective():
    config = SyntheticConfig(source_types=20, modes=3, candidates=3, word_entropy=1.2, train_size=10, seed=2)
    language = SyntheticLanguage(config)
    vocabularies = [{w for per_word in mode for w in per_word} for mode in language.translations]
    assert all(len(v) == 20 * 3 for v in vocabularies)  # candidates distinct within a mode
    assert not (vocabularies[0] & vocabularies[1]) and not (vocabularies[1] & vocabularies[2])
    assert not (set(language.source_words) & set().union(*vocabularies))


def test_empirical_translation_entropy_tracks_the_recorded_value():
    config = SyntheticConfig(source_types=3, min_len=1, max_len=1, candidates=4, word_entropy=1.5,
                             reorder=0.0, modes=1, seed=5)
    language = SyntheticLanguage(config)
    sample = language.sample(20000)
    first = language.source_words[0]
    counts = {}
    for src, tgt in zip(sample["src"], sample["tgt"]):
        if src == first:
            counts[tgt] = counts.get(tgt, 0) + 1
    probs = np.array(sorted(counts.values(), reverse=True), dtype=float)
    assert entropy_bits(probs / probs.sum()) == pytest.approx(1.5, abs=0.03)


def test_reordering_is_deterministic_given_the_source():
    config = SyntheticConfig(source_types=10, reorder=0.5, candidates=1, word_entropy=0.0, seed=4)
    language = SyntheticLanguage(config)
    sample = language.sample(200)
    mapping = {}
    for src, tgt in zip(sample["src"], sample["tgt"]):
        assert mapping.setdefault(src, tgt) == tgt  # zero entropy: one target per source
    assert any(order != sorted(order) for order in
               (language.target_order(np.array([i, j])) for i in range(10) for j in range(10)))


def test_same_seed_same_corpus():
    config = SyntheticConfig(source_types=15, modes=2, train_size=5, seed=11)
    assert SyntheticLanguage(config).sample(30) == SyntheticLanguage(config).sample(30)


def test_invalid_config_is_rejected():
    with pytest.raises(ValueError, match="word_entropy"):
        SyntheticConfig(candidates=2, word_entropy=1.5).check()
