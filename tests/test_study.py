"""The capacity-by-complexity study's arithmetic (analysis/study.py) on hand-made comparisons."""
import pytest

from analysis.study import CorpusInputs, DistilledInputs, StudentGroup, markdown, study_result, verdict
from distill.io import write_lines

TINY, SMALL = StudentGroup("ctc", "tiny"), StudentGroup("ctc", "small")

VERDICTS = [
    ([+3.0, +2.0], [0.001, 0.004], "helped"),
    ([-1.0], [0.005], "hurt"),
    ([+0.5, -0.5], [0.3, 0.2], "no difference"),
    ([+1.0, +0.2], [0.001, 0.4], "mixed"),
    ([+1.0, -1.0], [0.001, 0.001], "mixed"),  # significant both ways
]


@pytest.mark.parametrize("gains, p_values, expected", VERDICTS)
def test_the_verdict_on_a_point(gains, p_values, expected):
    assert verdict(gains, p_values) == expected


def _comparison(tmp_path, name, reference, teacher, runs):
    """A compare result: the teacher's BLEU and, per (data, seed), (BLEU, p against raw, output lines)."""
    results = [{"system": "teacher", "data": "raw", "seed": None, "decoding": "beam 5",
                "scores": {reference: {"bleu": teacher}}, "hypotheses": ""}]
    for (data, seed), (bleu, p, lines) in runs.items():
        path = tmp_path / f"{name}-{data}-{seed}.hyp"
        write_lines(path, lines)
        results.append({"system": "ctc", "data": data, "seed": seed, "decoding": "one pass",
                        "scores": {reference: {"bleu": bleu}}, "hypotheses": str(path),
                        "train_wall_seconds": 1800.0 * seed,  # seed 1: half an hour, seed 2: an hour
                        **({"p_value_vs_raw": p} if data != "raw" else {})})
    return {"references": [reference], "results": results, "bleu_signatures": {reference: f"sig-{name}"}}


def _inputs(name, reference, comparisons, complexity, memorized):
    distilled = DistilledInputs(manifest={"distillation": {"distilled_targets_vs_references": {
        "train": {reference: {"bleu": memorized}}}}},
        complexity={"complexity_bits": complexity[1], "faithfulness_bits_vs_first": 0.9}, length_ratio=0.96)
    return CorpusInputs(name=name, description=name, comparisons=comparisons,
                        raw_complexity={"complexity_bits": complexity[0]}, distilled={"distilled": distilled},
                        lost_words={}, mode_mixing={})


def test_the_study_turns_comparisons_into_gains_shares_and_correlations(tmp_path):
    once, twice = ["a a b c"], ["a b c d"]  # repetition 1/4 and 0
    a = _inputs("a", "web", {
        TINY: _comparison(tmp_path, "a-tiny", "web", 30.0, {
            ("raw", 1): (15.0, None, once), ("raw", 2): (17.0, None, once),
            ("distilled", 1): (18.0, 0.001, twice), ("distilled", 2): (19.0, 0.004, twice)}),
        SMALL: _comparison(tmp_path, "a-small", "web", 30.0, {
            ("raw", 1): (24.0, None, twice), ("raw", 2): (26.0, None, twice),
            ("distilled", 1): (24.5, 0.3, twice), ("distilled", 2): (25.5, 0.2, twice)})}, (1.5, 0.9), 36.8)
    b = _inputs("b", "tgt", {
        TINY: _comparison(tmp_path, "b-tiny", "tgt", 40.0, {
            ("raw", 1): (20.0, None, once), ("distilled", 1): (19.0, 0.005, once)})}, (2.0, 1.8), 55.0)
    from dataclasses import replace

    a = replace(a, lenpen={"chosen": 1.0, "criterion": "length-ratio", "points": [
        {"lenpen": 0.8, "bleu": 31.65, "length_ratio": 0.986}, {"lenpen": 1.0, "bleu": 31.91, "length_ratio": 0.999}]})
    result = study_result([a, b])

    points = {(p["corpus"], p["group"]["size"]): p for p in result["points"]}
    tiny = points["a", "tiny"]
    assert (tiny["gains"], tiny["gain"], tiny["verdict"], tiny["p_values"]) == ([3.0, 2.0], 2.5, "helped",
                                                                                 [0.001, 0.004])
    assert tiny["gain_sd"] == pytest.approx(0.71, abs=0.005) and tiny["raw_share_of_teacher"] == pytest.approx(16 / 30,
                                                                                                               abs=1e-4)
    assert (points["a", "small"]["gain"], points["a", "small"]["verdict"]) == (0.0, "no difference")
    assert (points["b", "tiny"]["gain"], points["b", "tiny"]["verdict"]) == (-1.0, "hurt")

    cells = {(c["corpus"], c["group"]["size"], c["data"]): c for c in result["cells"]}
    assert cells["a", "tiny", "raw"]["repetition"] == 0.25 and cells["a", "tiny", "distilled"]["repetition"] == 0.0
    assert (cells["a", "tiny", "raw"]["mean"], cells["a", "tiny", "raw"]["sd"]) == (16.0, 1.41)
    assert cells["a", "tiny", "raw"]["p_values"] is None
    assert cells["a", "tiny", "raw"]["training_hours"] == 0.75 and cells["b", "tiny", "raw"]["training_hours"] == 0.5

    corpora = {m["corpus"]: m for m in result["corpora"]}
    assert {m["data"] for m in result["corpora"]} == {"distilled"}
    assert corpora["a"]["complexity_drop"] == 0.6 and corpora["b"]["teacher_train_bleu"] == 55.0
    assert (corpora["b"]["reference"], corpora["b"]["teacher_bleu"]) == ("tgt", 40.0)
    # gains (2.5, 0, -1) against raw shares (16/30, 25/30, 20/40): r worked out by hand
    share = next(m for m in result["correlations"] if m["measure"] == "raw_share_of_teacher")
    assert share["pearson_r"] == pytest.approx(-0.151, abs=0.002)
    text = markdown(result)
    assert "| a | ctc tiny | distilled | 1,2 | +2.50 ± 0.71 | +3.00, +2.00 | 0.001, 0.004 | 53% | helped |" in text
    assert "Distillation helped for ctc tiny on a (+2.50" in text and "Not final" in text
    assert ("- a: length penalty 1 chosen on valid (length-ratio), length ratio 0.999, BLEU 31.91; the SeqKD corpus "
            "is already decoded so") in text


def test_the_headline_figure_has_a_point_per_student_and_corpus(tmp_path):
    from analysis.study import plot_study

    point = {"corpus": "a", "group": {"student": "ctc", "size": "tiny"}, "data": "distilled", "seeds": [1],
             "gains": [1.0], "gain": 1.0, "gain_sd": 0.0, "raw_share_of_teacher": 0.5, "p_values": [0.001],
             "verdict": "helped"}
    result = {"corpora": [{"corpus": "a"}, {"corpus": "b"}],
              "points": [point, {**point, "corpus": "b", "gain": -0.5, "verdict": "hurt"}]}
    files = plot_study(result, tmp_path)
    assert [f.rsplit(".", 1)[1] for f in files] == ["png", "pdf"]
    assert all((tmp_path / f"study.{suffix}").stat().st_size > 1000 for suffix in ("png", "pdf"))


def test_the_readme_shows_the_study_in_place_of_the_main_tables(tmp_path):
    from analysis.report import readme_results
    from distill.io import write_json

    point = {"corpus": "bible-es-en", "group": {"student": "ctc", "size": "tiny"}, "data": "distilled",
             "seeds": [1, 2, 3], "gains": [1.0, 1.2, 0.8], "gain": 1.0, "gain_sd": 0.2, "raw_share_of_teacher": 0.69,
             "p_values": [0.001, 0.001, 0.002], "verdict": "helped"}
    write_json(tmp_path / "study" / "study.json", {"points": [point], "correlations": [
        {"measure": "raw_share_of_teacher", "points": 1, "pearson_r": None}]})
    text = readme_results(tmp_path)
    assert "**When distillation helps**" in text and "Distillation helped for ctc tiny on bible-es-en (+1.00" in text
    assert "| bible-es-en | ctc tiny | distilled | 1,2,3 | +1.00 ± 0.20 |" in text
    assert f"]({tmp_path.as_posix()}/study/study.png)" in text


CURVE = [{"updates": 200, "wall_seconds": 100.0, "bleu": 4.0}, {"updates": 400, "wall_seconds": 300.0, "bleu": 12.0},
         {"updates": 600, "wall_seconds": 400.0, "bleu": 13.0}]
BLEU_AT = [
    (50.0, None),  # before the first checkpoint
    (100.0, 4.0),
    (150.0, 6.0),  # a quarter of the way from 4 to 12
    (300.0, 12.0),
    (350.0, 12.5),
    (400.0, 13.0),
    (900.0, 13.0),  # past its end: where it ended
]


@pytest.mark.parametrize("seconds, expected", BLEU_AT)
def test_bleu_at_a_time_is_read_off_the_learning_curve(seconds, expected):
    from analysis.study import bleu_at

    assert bleu_at(CURVE, seconds) == expected


def test_dat_and_ctc_are_compared_at_the_time_the_faster_run_took():
    from analysis.study import EQUAL_TIME, equal_time

    ctc, dat = EQUAL_TIME[0]
    assert (ctc, dat) == (StudentGroup("ctc", "small"), StudentGroup("dat", "small"))
    # ctc ends at 400 s (13.0); dat trains longer per update: at 400 s it is between 300 s (8.0) and 600 s (14.0)
    dat_curve = [{"updates": 200, "wall_seconds": 300.0, "bleu": 8.0}, {"updates": 400, "wall_seconds": 600.0,
                                                                         "bleu": 14.0},
                 {"updates": 600, "wall_seconds": 900.0, "bleu": 16.0}]
    ctc_compare = {"curves": [{"student": "ctc", "data": "raw", "seed": 1, "points": CURVE},
                              {"student": "ctc", "data": "distilled", "seed": 1, "points": CURVE}]}
    dat_compare = {"curves": [{"student": "dat", "data": "raw", "seed": 1, "points": dat_curve},
                              {"student": "dat", "data": "raw", "seed": 2, "points": dat_curve}]}
    rows = equal_time("a", ctc, ctc_compare, dat, dat_compare)
    assert len(rows) == 1  # only (raw, 1) has both
    row = rows[0]
    assert (row["data"], row["seed"], row["seconds"]) == ("raw", 1, 400.0)
    assert row["first"] == {"group": {"student": "ctc", "size": "small"}, "bleu_then": 13.0, "final_bleu": 13.0,
                            "final_seconds": 400.0, "final_updates": 600}
    assert row["second"]["bleu_then"] == pytest.approx(10.0)  # 8 + (14 - 8) * 100 / 300
    assert (row["second"]["final_bleu"], row["second"]["final_updates"]) == (16.0, 600)
    result = {"equal_time": rows}
    from analysis.study import _equal_time_lines

    text = "\n".join(_equal_time_lines(result))
    assert ("| a | ctc small / dat small | raw | 1 | wall | 6.7 | 13.00 | 10.00 | 6.7, 600, 13.00 | 15.0, 600, 16.00 |"
            in text)
    # where both runs logged their CPU time, that is the clock: here dat's CPU time is twice ctc's per update
    with_cpu = {"curves": [{**c, "points": [{**p, "cpu_seconds": p["updates"] * (2.0 if c["student"] == "dat" else 1.0)}
                                           for p in c["points"]]} for c in dat_compare["curves"]]}
    ctc_cpu = {"curves": [{**c, "points": [{**p, "cpu_seconds": float(p["updates"])} for p in c["points"]]}
                          for c in ctc_compare["curves"]]}
    row = equal_time("a", ctc, ctc_cpu, dat, with_cpu)[0]
    assert (row["clock"], row["seconds"]) == ("cpu_seconds", 600.0)  # ctc's 600 updates; dat's 300
    assert (row["first"]["bleu_then"], row["second"]["bleu_then"]) == (13.0, 11.0)  # dat: 8 + (14 - 8) * 100 / 200
    # one curve without CPU times: the wall clock for both
    ctc_cpu["curves"][0]["points"][0]["cpu_seconds"] = None
    assert equal_time("a", ctc, ctc_cpu, dat, with_cpu)[0]["clock"] == "wall_seconds"


PERMUTATION_P = [
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 2 / 6),  # r = 1: itself and the reversed order (|r| = 1) of 6 orderings
    # r = 1 - D / 10 for the orderings of 1..4 (D: their summed squared displacements); (2, 1, 4, 3) has D = 4,
    # r = 0.6, and |r| >= 0.6 where D <= 4 (1 + 3 + 1 orderings) or D >= 16 (1 + 3 + 1): 10 of the 24
    ([1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0], 10 / 24),
    ([1.0, 2.0, 3.0], [5.0, 5.0, 5.0], None),  # no r without variation
    # r = 0.0908 (0.091 rounded): every ordering's |r| (0.0908, 0.8171 or 0.9078) is at least it, itself included
    ([1.0, 2.0, 3.0], [0.0, 1.0, 0.1], 6 / 6),
]


@pytest.mark.parametrize("xs, ys, expected", PERMUTATION_P)
def test_the_permutation_p_of_a_correlation(xs, ys, expected):
    from analysis.study import permutation_p

    assert permutation_p(xs, ys) == (None if expected is None else pytest.approx(expected, abs=1e-4))


def test_the_verdict_claims_the_capacity_trend_only_where_it_is_not_chance():
    from analysis.study import verdict_paragraph

    point = {"group": {"student": "ctc", "size": "small"}, "corpus": "a", "gain": 0.5, "raw_share_of_teacher": 0.8,
             "seeds": [1], "verdict": "no difference"}
    weak = {"measure": "raw_share_of_teacher", "points": 4, "pearson_r": -0.28, "p_permutation": 0.75}
    text = verdict_paragraph({"points": [point], "correlations": [weak]})
    assert "r = -0.28 (permutation p 0.75), which 4 points cannot tell from chance" in text
    strong = {**weak, "points": 8, "pearson_r": -0.9, "p_permutation": 0.004}
    text = verdict_paragraph({"points": [point], "correlations": [strong]})
    assert "(permutation p 0.00): the stronger the student on raw data, the smaller the gain (the capacity" in text
