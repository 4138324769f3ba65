"""Analysis: the complexity estimator against synthetic ground truth, faithfulness, mode mixing."""
import json
from collections import Counter

import pytest

from analysis.cli import main as analysis_main
from analysis.lexical import kl_divergence_bits
from analysis.measures import AlignedCorpus, faithfulness
from analysis.multimodality import ModeLexicon, mode_mixing
from distill.corpus.synthetic import SyntheticConfig, SyntheticLanguage


def _sample(bits, modes=1, pairs=2000, seed=1):
    language = SyntheticLanguage(SyntheticConfig(source_types=40, candidates=4, word_entropy=bits, modes=modes,
                                                 reorder=0.3, seed=seed))
    return language, language.sample(pairs)


def test_kl_divergence_hand_computed():
    assert kl_divergence_bits(Counter(a=1, b=1), Counter(a=1, b=1), smoothing=0.0) == pytest.approx(0.0)
    # p = (1/2, 1/2), q = (3/4, 1/4): KL = 0.5 log2(2/3) + 0.5 log2(2) = 0.2075 bits
    assert kl_divergence_bits(Counter(a=1, b=1), Counter(a=3, b=1), smoothing=0.0) == pytest.approx(0.2075, abs=1e-4)


def test_complexity_tracks_and_ranks_true_entropy():
    estimates, truths = [], []
    for bits in (0.0, 0.75, 1.5):
        language, sample = _sample(bits)
        estimates.append(AlignedCorpus(sample["src"], sample["tgt"]).complexity(min_count=10))
        truths.append(language.lexical_entropy_bits)
    assert estimates == sorted(estimates)
    for estimate, truth in zip(estimates, truths):
        assert estimate == pytest.approx(truth, abs=0.25)


def test_mode_entropy_adds_log2_k():
    language, sample = _sample(0.0, modes=3)
    estimate = AlignedCorpus(sample["src"], sample["tgt"]).complexity(min_count=10)
    assert estimate == pytest.approx(language.lexical_entropy_bits, abs=0.25)  # log2(3) = 1.585


def test_faithfulness_is_zero_for_the_same_process_and_grows_with_change():
    _, raw = _sample(1.0, seed=1)
    raw_aligned = AlignedCorpus(raw["src"], raw["tgt"])
    realigned = AlignedCorpus(raw["src"], raw["tgt"])  # same data, a fresh (unseeded) eflomal run
    assert faithfulness(raw_aligned, realigned) == pytest.approx(0.0, abs=0.05)
    _, other = _sample(0.0, seed=2)  # other lexicon entirely
    assert faithfulness(raw_aligned, AlignedCorpus(raw["src"], other["tgt"])) > 1.0


def test_marker_words_find_mixed_english_styles():
    """Two English styles sharing most words: only the style markers count, and a sentence mixing
    them is found (hand-checked: 'thou' and 'hast' mark KJV, 'you' and 'have' mark WEB)."""
    targets = ["you have the bread", "thou hast the bread", "you have the wine", "thou hast the wine"] * 10
    modes = ["0", "1", "0", "1"] * 10
    lexicon = ModeLexicon(targets, modes, min_posterior=0.9, min_count=5)
    assert lexicon.best_mode == {"you": 0, "have": 0, "thou": 1, "hast": 1}  # 'the', 'bread', 'wine': both styles
    outputs = ["thou hast the bread", "you have the wine", "thou have the bread", "the bread"]
    result = mode_mixing(lexicon, outputs)
    assert result["attributable_sentences"] == 3  # 'the bread' has no marker
    assert result["mode_mixing_rate"] == pytest.approx(1 / 3)
    assert result["mean_majority_share"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert result["mixing_examples"] == ["thou[mode 1] have[mode 0] the bread"]
    named = ModeLexicon(targets, modes, min_posterior=0.9, min_count=5, names={"0": "WEB", "1": "KJV"})
    assert named.marked("thou have the bread") == "thou[KJV] have[WEB] the bread"
    # without the threshold every word is attributed ('the', 'bread': a tie, the first mode), so the pure KJV
    # sentence "mixes" too: 2 of 4
    assert mode_mixing(ModeLexicon(targets, modes), outputs)["mode_mixing_rate"] == 0.5


def test_mode_mixing_rate():
    _, sample = _sample(0.5, modes=3, pairs=600)
    lexicon = ModeLexicon(sample["tgt"], sample["mode"])
    assert mode_mixing(lexicon, sample["tgt"][:100])["mode_mixing_rate"] == 0.0
    spliced = [" ".join(a.split()[:2] + b.split()[2:]) for a, b in zip(sample["tgt"][:100], sample["tgt"][1:101])]
    different_modes = sum(m1 != m2 for m1, m2 in zip(sample["mode"][:100], sample["mode"][1:101]))
    assert mode_mixing(lexicon, spliced)["mode_mixing_rate"] == pytest.approx(different_modes / 100, abs=0.05)


def test_validate_command_writes_table_json_and_figures(tmp_path):
    assert analysis_main(["validate", "--out", str(tmp_path), "--pairs", "1500", "--source-types", "40",
                          "--modes", "1"]) == 0
    report = json.loads((tmp_path / "validation.json").read_text())
    assert report["summary"]["spearman_rho"] == pytest.approx(1.0)
    assert (tmp_path / "validation.png").stat().st_size > 0 and (tmp_path / "validation.pdf").is_file()
    assert "Spearman" in (tmp_path / "validation.md").read_text()


def test_tradeoff_figure_pairs_complexity_with_bleu(tmp_path):
    from distill.corpus.directory import FORMAT

    raw, distilled = tmp_path / "raw", tmp_path / "raw.seqkd"
    for corpus, manifest in ((raw, {"kind": "raw"}), (distilled, {"kind": "distilled", "distillation": {
            "distilled_targets_vs_references": {"valid": {"web+kjv": {"bleu": 33.3}, "web": {"bleu": 30.1}}}}})):
        (corpus / "raw").mkdir(parents=True)
        (corpus / "manifest.json").write_text(json.dumps({**manifest, "format": FORMAT,
                                                          "references": {"primary": "web", "extra": ["kjv"]}}))
    references = [f"the king spoke to the prophet {n} times" for n in range(40)]
    (raw / "raw" / "test.tgt").write_text("\n".join(references) + "\n")
    (raw / "raw" / "test.ref.kjv").write_text("\n".join(r.replace("spoke", "spake") for r in references) + "\n")
    (tmp_path / "complexity.json").write_text(json.dumps({"corpora": [
        {"corpus": str(raw), "complexity_bits": 2.5},
        {"name": "small teacher", "corpus": str(distilled), "complexity_bits": 1.5, "faithfulness_bits_vs_first": 0.7},
        {"name": "raw again", "corpus": str(raw), "complexity_bits": 2.5}]}))
    # the raw student gets every third sentence right, the distilled one all, "raw again" one more than raw
    outputs = {"raw": [r if n % 3 == 0 else "the the" for n, r in enumerate(references)], "seqkd": references}
    outputs["again"] = [references[1], *outputs["raw"][1:]]
    for name, bleu in (("raw", 10.0), ("seqkd", 14.0), ("again", 10.5)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"corpus": str(raw), "split": "test", "scores": {
            "kjv": {"bleu": bleu - 3, "bleu_signature": "nrefs:1"}, "web": {"bleu": bleu + 3,
                                                                            "bleu_signature": "nrefs:1"},
            "web+kjv": {"bleu": bleu, "bleu_signature": "nrefs:2"}}}))
        (tmp_path / f"{name}.hyp").write_text("\n".join(outputs[name]) + "\n")
    assert analysis_main(["tradeoff", "--complexity-json", str(tmp_path / "complexity.json"),
                          "--bleu", f"raw={tmp_path / 'raw.json'}", "--bleu",
                          f"small teacher={tmp_path / 'seqkd.json'}",
                          "--bleu", f"raw again={tmp_path / 'again.json'}", "--out", str(tmp_path / "fig")]) == 0
    points = json.loads((tmp_path / "fig" / "complexity_vs_bleu.json").read_text())["points"]
    assert [(p["complexity_bits"], p["faithfulness_bits"], p["teacher_valid_bleu"], p["bleu"]) for p in points] == [
        (2.5, None, None, 10.0), (1.5, 0.7, 33.3, 14.0), (2.5, None, None, 10.5)]  # the teacher's BLEU: same references
    # paired bootstrap against the first student: the smallest p of 1,000 resamples (1/1001) where every
    # sentence differs, and no significance for outputs that differ in one sentence
    assert points[0]["p_vs_first"] is None
    assert points[1]["p_vs_first"] == pytest.approx(1 / 1001) and points[2]["p_vs_first"] > 0.1
    table = (tmp_path / "fig" / "complexity_vs_bleu.md").read_text()
    assert "| small teacher | 33.30 | 1.500 | 0.700 | 14.00 | 0.001 |" in table
    (tmp_path / "seqkd.hyp").unlink()
    assert analysis_main(["tradeoff", "--complexity-json", str(tmp_path / "complexity.json"),
                          "--bleu", f"raw={tmp_path / 'raw.json'}", "--bleu",
                          f"small teacher={tmp_path / 'seqkd.json'}",
                          "--out", str(tmp_path / "fig")]) == 1  # no outputs to test
    assert analysis_main(["tradeoff", "--complexity-json", str(tmp_path / "complexity.json"), "--reference", "web",
                          "--bleu", f"raw={tmp_path / 'raw.json'}", "--out", str(tmp_path / "web")]) == 0
    assert json.loads((tmp_path / "web" / "complexity_vs_bleu.json").read_text())["points"][0]["bleu"] == 13.0
    assert analysis_main(["tradeoff", "--complexity-json", str(tmp_path / "complexity.json"),
                          "--bleu", f"unknown={tmp_path / 'raw.json'}", "--out", str(tmp_path / "fig")]) == 1


def test_rare_word_recall_and_name_copies_on_a_hand_checked_case():
    from collections import Counter

    from analysis.lost_words import name_copies, names, output_statistics, recall_by_bucket

    sources = [["el", "rey", "habló"], ["el", "profeta", "habló"]]
    references = [["the", "king", "spoke"], ["the", "prophet", "spoke"]]
    outputs = [["the", "king", "said"], ["the", "man", "spoke", "spoke"]]
    links = [[(0, 0), (1, 1), (2, 2)], [(0, 0), (1, 1), (2, 2)]]
    counts = Counter({"el": 5000, "habló": 300, "rey": 40, "profeta": 3})
    recall = recall_by_bucket(sources, references, outputs, links, counts)
    assert recall[">1,000"] == {"links": 2, "recalled": 2, "recall": 1.0}  # 'the' twice
    assert recall["101-1,000"] == {"links": 2, "recalled": 1, "recall": 0.5}  # 'spoke' only in the second
    assert recall["11-100"]["recall"] == 1.0 and recall["1-10"]["recall"] == 0.0  # 'king' kept, 'prophet' lost
    assert recall["0"] == {"links": 0, "recalled": 0, "recall": None}

    # names: capitalized, not first, in the source too once accents go; 'The' (first) and 'God' (not in source) are not
    assert names("Y Simeón y Leví vinieron a Dios", "The sons Simeon and Levi came to God") == ["Simeon", "Levi"]
    copies = name_copies([names("Y Simeón y Leví vinieron", "So Simeon and Levi came")],
                         ["and simeon and Levi came Levi"])
    assert copies == {"names": 2, "copied": 1, "rate": 0.5}  # case matters: 'simeon' is not a copy

    assert output_statistics(outputs, references) == {"types": 5, "length_ratio": 7 / 6}


def test_calibration_error_and_entropy_on_hand_computed_cases():
    import math

    import torch

    from analysis.confidence import calibration, entropy_bits

    # bin 9: confidences .95 and .95, one right -> |0.5 - 0.95|; bin 1: .15 and .15, none right -> |0 - 0.15|
    result = calibration(torch.tensor([0.95, 0.95, 0.15, 0.15]), torch.tensor([True, False, False, False]))
    assert result["ece"] == pytest.approx(0.5 * 0.45 + 0.5 * 0.15)
    assert [(b["count"], b["accuracy"]) for b in result["bins"]] == [(2, 0.0), (2, 0.5)]
    assert calibration(torch.tensor([1.0, 0.75]), torch.tensor([True,
                                                                True]))["ece"] == pytest.approx(0.125)  # 1.0: last bin
    uniform = torch.full((1, 4), math.log(0.25))
    certain = torch.log(torch.tensor([[1.0, 1e-30, 1e-30, 1e-30]]))
    assert entropy_bits(uniform).item() == pytest.approx(2.0)
    assert entropy_bits(certain).item() == pytest.approx(0.0, abs=1e-6)


def test_lost_words_names_a_short_output_file_before_aligning(tiny_synthetic, tmp_path):
    from analysis.lost_words import lost_words
    from distill.io import InputError

    short = tmp_path / "short.hyp"
    short.write_text("only one line\n")
    with pytest.raises(InputError, match=r"short\.hyp: 1 lines for 40 test sentences"):
        lost_words(tiny_synthetic, tiny_synthetic, {"broken system": [str(short)]})


# system -> (label, label without the training data); fields travel in JSON, labels are only rendered
SYSTEMS = [
    (("ctc", "seq-inter", "one pass, blank penalty tuned on valid"),
     ("ctc, seq-inter, one pass, blank penalty tuned on valid", "ctc, one pass, blank penalty tuned on valid")),
    (("ar", "raw", None), ("ar, raw", "ar")),
    (("ar", "distilled", "greedy"), ("ar, distilled, greedy", "ar, greedy")),
    (("teacher", "raw", None), ("AR teacher", "AR teacher")),
]


@pytest.mark.parametrize("fields, labels", SYSTEMS)
def test_a_system_is_labelled_from_its_fields_and_keeps_them_in_json(fields, labels):
    import json

    from nat.systems import System

    system = System(*fields)
    assert (system.label, system.label_without_data) == labels
    assert System.from_json(json.loads(json.dumps(system.to_json()))) == system


@pytest.mark.parametrize("lines, tokens, repeated", [
    (["the Lord said"], 3, 0),
    (["the the Lord Lord said"], 5, 2),  # two tokens equal to the one before them
    (["the the the"], 3, 2),  # a run of three repeats twice
    (["said the", "the Lord"], 4, 0),  # not across lines
    (["a  a"], 2, 1),  # whitespace-separated words, however many spaces
    (["", "   "], 0, 0),
])
def test_repetition_rate_counts_tokens_equal_to_their_predecessor(lines, tokens, repeated):
    from analysis.repetition import repetition_rate

    result = repetition_rate(lines)
    assert (result["tokens"], result["repeated"]) == (tokens, repeated)
    assert result["rate"] == (repeated / tokens if tokens else None)
