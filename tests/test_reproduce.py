"""The teacher-size study's script end to end (on the tiny fixtures), and the report's claims and check (the main
job end to end: tests/test_quick.py)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import analysis.render as rendering

ROOT = Path(__file__).resolve().parent.parent
TUNED = "one pass, blank penalty tuned on valid"


def test_complexity_plots_script_reuses_the_main_runs_and_writes_figures(tiny_students, tiny_teacher, tiny_synthetic,
                                                                         tmp_path):
    runs, results = tmp_path / "runs", tmp_path / "results"
    (runs / "teacher-tiny").parent.mkdir(parents=True)
    (runs / "teacher-tiny").symlink_to(tiny_teacher[0])  # the preset's size: reused, not retrained
    shutil.copytree(tiny_students["ctc"][0], runs / "students-tiny" / "ctc-raw-seed1")
    env = {**os.environ, "PRESET": "tiny", "TEACHER_SIZES": "tiny small", "DEVICE": "cpu",
           "CORPUS": str(tiny_synthetic.path), "RUNS": str(runs), "RESULTS": str(results),
           "SEQKD_BIN": str(Path(sys.executable).parent),
           "PAIRS": "800", "NAT_UPDATES": "40", "TEACHER_UPDATES": "40"}  # a mode-mixing study in seconds
    done = subprocess.run(["bash", str(ROOT / "scripts" / "complexity_plots.sh")], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "teacher-tiny: already trained" in done.stdout and "ctc-raw-seed1: already trained" in done.stdout

    out = results / f"{tiny_synthetic.path.name}-tiny" / "teacher-sizes"
    corpora = json.loads((out / "complexity" / "complexity.json").read_text())["corpora"]
    assert [c["name"] for c in corpora] == ["raw", "tiny teacher", "small teacher"]
    assert corpora[2]["corpus"].endswith(".seqkd-small") and corpora[2]["faithfulness_bits_vs_first"] >= 0
    points = json.loads((out / "complexity_vs_bleu.json").read_text())["points"]
    assert [p["corpus"] for p in points] == ["raw", "tiny teacher", "small teacher"]
    small_corpus = json.loads((Path(corpora[2]["corpus"]) / "manifest.json").read_text())
    valid = small_corpus["distillation"]["distilled_targets_vs_references"]["valid"][points[2]["reference"]]["bleu"]
    assert points[0]["teacher_valid_bleu"] is None and points[2]["teacher_valid_bleu"] == valid
    assert (runs / "students-tiny" / "ctc-distilled-small-seed1" / "manifest.json").is_file()
    assert (out / "complexity_vs_bleu.png").stat().st_size > 1000
    assert json.loads((out / "bleu" / "small-teacher.json").read_text())["split"] == "test"  # evaluate --out
    assert points[0]["p_vs_first"] is None and 0 < points[2]["p_vs_first"] <= 1  # paired bootstrap against raw
    assert json.loads((out.parent / "synthetic-mode-mixing" / "mode_mixing.json").read_text())["systems"]


def test_the_teacher_size_verdict_reads_the_points_in_teacher_order():
    """Zhou et al.'s Fig. 4 claim on hand-made points: C(d) rising with the teacher's BLEU and a middle teacher
    giving the best student is "supported"; the strongest teacher giving the best student is only "partly"."""
    def point(name, teacher, complexity, student):
        return {"corpus": name, "teacher_valid_bleu": teacher, "complexity_bits": complexity, "bleu": student,
                "reference": "web", "p_vs_first": None if teacher is None else 0.004}

    raw = point("raw", None, 1.5, 20.0)
    sizes = {"points": [raw, point("medium teacher", 33.0, 1.0, 23.5), point("tiny teacher", 20.0, 0.8, 23.0),
                        point("small teacher", 30.0, 0.9, 24.0)]}
    claim = rendering._teacher_size_claim(sizes)
    assert claim.index("tiny teacher: valid BLEU 20.00") < claim.index("small teacher") < claim.index("medium teacher")
    assert "tiny teacher: valid BLEU 20.00, C(d) 0.800 bits, student 23.00 (p 0.004 vs raw, 20.00)" in claim
    assert "C(d) rises with the teacher's BLEU; the best student learnt from the small teacher's corpus, not the " \
           "strongest. Supported." in claim
    sizes["points"][1]["bleu"] = 25.0
    assert rendering._teacher_size_claim(sizes).endswith("medium teacher's corpus, the strongest. Partly supported.")
    assert rendering._teacher_size_claim({"points": [raw, sizes["points"][1]]}) is None  # one teacher: no claim


def test_check_is_exact_on_the_reports_cpu_and_wide_on_another(tmp_path):
    """seqkd-report check: on the CPU model and versions the report names, 0.01 BLEU is a difference; on
    another CPU (other float arithmetic) BLEU may move within CROSS_CPU_TOLERANCE, and a collapse still fails."""
    def results(processor, bleu):
        return {"machine": {"processor": processor}, "versions": {"torch": "2.13.0+cpu"},
                "teacher": {"test_scores": {"tgt": {"bleu": 30.0}}},
                "distillation": {"train_targets_vs_references": {"tgt": {"bleu": 36.0}}},
                "comparison": {"results": [{"system": "ctc", "data": "distilled", "decoding": "one pass", "seed": 1,
                                            "scores": {"tgt": {"bleu": bleu}}, "p_value_vs_raw": 0.04}]},
                "complexity": [{"corpus": "data/raw", "complexity_bits": 1.5}]}

    def check(expected, actual):
        for name, content in (("expected.json", expected), ("actual.json", actual)):
            (tmp_path / name).write_text(json.dumps(content))
        return subprocess.run([sys.executable, "-m", "analysis.report", "check", "--expected",
                               str(tmp_path / "expected.json"), "--actual", str(tmp_path / "actual.json")],
                              capture_output=True, text=True)

    assert check(results("AMD EPYC", 20.0), results("AMD EPYC", 20.0)).returncode == 0
    same = check(results("AMD EPYC", 20.0), results("AMD EPYC", 20.01))
    assert same.returncode == 1 and "must be exact" in same.stdout
    other = check(results("AMD EPYC", 20.0), results("Intel Xeon", 24.5))
    assert other.returncode == 0 and "not a stale report" in other.stdout
    assert check(results("AMD EPYC", 20.0), results("Intel Xeon", 3.0)).returncode == 1  # a student that broke
    assert check(results(None, 20.0), results(None, 20.01)).returncode == 0  # a report that names no CPU
