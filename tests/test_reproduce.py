"""The main job's script end to end (on the tiny fixtures) and its report."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import analysis.report as reporting

ROOT = Path(__file__).resolve().parent.parent
TUNED = "one pass, blank penalty tuned on valid"


def test_reproduce_script_writes_table_report_and_figures(tiny_students, tiny_teacher, tiny_synthetic, tmp_path):
    runs, results = tmp_path / "runs", tmp_path / "results"
    # the fixture teacher, linked: the script finds it trained and distils the fixture corpus with it
    (runs / "teacher-tiny").parent.mkdir(parents=True)
    (runs / "teacher-tiny").symlink_to(tiny_teacher[0])  # same config: the script skips training it
    for student, (run, _) in tiny_students.items():  # the raw students too; the distilled ones get trained
        shutil.copytree(run, runs / "students-tiny" / f"{student}-raw-seed1")
    shutil.copytree(tiny_students["ctc"][0],
                    runs / "students-tiny" / "ctc-distilled-small-seed1")  # the complexity study's
    env = {**os.environ, "PRESET": "tiny", "SEEDS": "1", "DEVICE": "cpu", "CORPUS": str(tiny_synthetic.path),
           "RUNS": str(runs), "RESULTS": str(results), "SEQKD_BIN": str(Path(sys.executable).parent)}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "reproduce_nat_distillation.sh")], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]

    out = results / f"{tiny_synthetic.path.name}-tiny"
    settings, table = (runs / "students-tiny" / "compare.md").read_text().split("\n\n", 1)
    assert settings.startswith("Students: preset `tiny` with each student's own schedule")
    assert "BLEU tgt" in table and "nrefs:1" in table
    assert "| ctc-glat | one pass, blank penalty tuned on valid |" in table  # the gain table follows
    result = json.loads((runs / "students-tiny" / "compare.json").read_text())
    records = result["results"]  # one per (system, training data, seed, decoding)
    assert [(r["system"], r["data"], r["seed"], r["decoding"]) for r in records] == [
        ("teacher", "raw", None, "beam 5"), ("ctc", "raw", 1, TUNED), ("ctc", "distilled", 1, TUNED),
        ("ctc-glat", "raw", 1, TUNED), ("ctc-glat", "distilled", 1, TUNED), ("ar", "raw", 1, "greedy"),
        ("ar", "distilled", 1, "greedy"), ("ar", "raw", 1, "beam 5"), ("ar", "distilled", 1, "beam 5")]
    for record in records:
        assert ("p_value_vs_raw" in record) == (record["data"] == "distilled")
        assert 0 <= record.get("p_value_vs_raw", 0) <= 1 and record["decode_wall_seconds"] > 0
        assert Path(record["hypotheses"]).is_file() and Path(record["evaluation"]).is_file()
    # each evaluation's file names its decoding settings, so greedy and beam 5 keep their own
    assert [Path(r["evaluation"]).name for r in records if r["system"] == "ar" and r["data"] == "raw"] == [
        "test.greedy.json", "test.beam5.json"]
    assert all(Path(r["evaluation"]).name == f"test.blank-penalty{r['blank_penalty']:g}.json"
               for r in records if r["system"].startswith("ctc"))
    teacher_evaluation = runs / "teacher-tiny" / "eval" / f"{tiny_synthetic.path.name}.test.beam5.json"
    assert records[0]["evaluation"] == str(teacher_evaluation)
    trained = (runs / "students-tiny" / "ctc-distilled-seed1" / "manifest.json").stat().st_mtime
    assert Path(records[0]["evaluation"]).stat().st_mtime < trained  # train-teacher's evaluation, not made again

    report = (out / "REPORT.md").read_text()
    assert table.splitlines()[2] in report  # the same table, read from compare.json
    assert "![BLEU](bleu.png)" in report and (out / "bleu.png").stat().st_size > 1000
    assert "## Distillation gain" in report and f"| ctc | {TUNED} |" in report
    assert all(0 <= r["blank_penalty"] <= 2.5 for r in records[1:5])
    assert "![learning curves](curves.png)" in report and (out / "curves.png").stat().st_size > 1000
    curves = {(c["student"], c["data"]): c["points"] for c in result["curves"]}
    assert len(curves) == 6 and [p["updates"] for p in curves["ctc", "raw"]] == [100, 200, 300]  # tiny: every 100
    assert all(p["wall_seconds"] > 0 and 0 <= p["bleu"] <= 100 for points in curves.values() for p in points)
    assert all(p["train_loss"] > 0 for points in curves.values() for p in points)  # fairseq's, from the log
    assert "| ctc | 300 |" in report and "training loss, distilled targets" in table
    assert (out / "complexity" / "complexity.png").is_file()
    assert (out / "lost-words" / "lost_words.png").is_file() and (out / "confidence" / "confidence.png").is_file()
    lost = json.loads((out / "lost-words" / "lost_words.json").read_text())
    reference = lost["training_corpus"]["raw targets"]  # the raw targets against themselves recall everything
    assert reference["length_ratio"] == 1.0 and all(
        bucket["recall"] in (None, 1.0) for bucket in reference["recall_by_source_frequency"].values())
    assert set(lost["test_outputs"]) == {"AR teacher", "ctc, raw", "ctc, distilled", "ctc-glat, raw",
                                         "ctc-glat, distilled",
                                         "ar, raw, greedy", "ar, distilled, greedy", "ar, raw, beam 5",
                                         "ar, distilled, beam 5"}
    confidence = json.loads((out / "confidence" / "confidence.json").read_text())["systems"]
    assert set(confidence) == {"AR teacher", "ctc, raw", "ctc, distilled", "ctc-glat, raw", "ctc-glat, distilled",
                               "ar, raw", "ar, distilled"}
    assert "## What distillation does" in report and "**Distilled data is simpler**" in report
    assert "**Distilled students are more confident**" in report
    assert "seqkd-nat compare" in report and "| students |" in report  # commands and timings
    summary = json.loads((out / "results.json").read_text())
    assert summary["comparison"]["results"] == records
    assert {"teacher", "distill", "students", "analysis", "total"} <= set(summary["timings_seconds"])
    assert "## Time" in report and summary["compute_seconds"]["teacher training"] > 0  # from the times of its log lines
    assert len(summary["student_train_wall_seconds"]) == 6
    busy = summary["compute_seconds"]["student training (6 runs; runs side by side count once)"]
    # PARALLEL_RUNS=2 (the default): the three distilled runs (the raw ones were copied, trained one after the
    # other) went two at a time, so the machine was busy for less than the runs' training times add up to
    assert 0 < busy < sum(summary["student_train_wall_seconds"].values())

    check = [sys.executable, "-m", "analysis.report", "check", "--expected", str(out / "results.json")]
    same = subprocess.run([*check, "--actual", str(out / "results.json")], capture_output=True, text=True)
    assert same.returncode == 0 and "numbers reproduced" in same.stdout
    summary["comparison"]["results"][1]["scores"]["tgt"]["bleu"] += 0.01  # one BLEU off by 0.01
    (tmp_path / "rerun.json").write_text(json.dumps(summary))
    differs = subprocess.run([*check, "--actual", str(tmp_path / "rerun.json")], capture_output=True, text=True)
    assert differs.returncode == 1 and f"| ctc raw {TUNED} BLEU tgt seed 1 |" in differs.stdout
    assert differs.stdout.count("DIFFERENT") == 1 and "1 of" in differs.stderr

    # a re-run, with the corpora, the teacher and the students moved to another directory: every finished step
    # is skipped and nothing is made again
    moved = tmp_path / "moved"
    for corpus in (tiny_synthetic.path, Path(f"{tiny_synthetic.path}.seqkd")):
        shutil.copytree(corpus, moved / "data" / corpus.name)
    shutil.copytree(runs, moved / "runs")  # the teacher's symlink becomes a real directory
    logs = {log: log.stat().st_size for log in (moved / "runs").rglob("train.log")}
    moved_env = {**env, "CORPUS": str(moved / "data" / tiny_synthetic.path.name), "RUNS": str(moved / "runs"),
                 "RESULTS": str(moved / "results")}
    again = subprocess.run(["bash", str(ROOT / "scripts" / "reproduce_nat_distillation.sh")], env=moved_env,
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {log: log.stat().st_size for log in logs} == logs  # no fairseq training started
    assert "teacher-tiny: already trained" in again.stdout and "already distilled" in again.stdout
    teacher = json.loads((moved / "runs" / "teacher-tiny" / "manifest.json").read_text())
    assert teacher["corpus"] == moved_env["CORPUS"]  # the manifest follows its corpus

    manifest_path = runs / "students-tiny" / "ctc-raw-seed1" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert summary["student_train_wall_seconds"]["ctc-raw-seed1"] == manifest["train_wall_seconds"]
    manifest_path.write_text(json.dumps({**manifest, "train_wall_seconds": None}))  # a log without timed lines
    write = subprocess.run([sys.executable, "-m", "analysis.report", "write", "--name", out.name,
                            "--teacher", str(runs / "teacher-tiny"), "--raw", str(tiny_synthetic.path),
                            "--distilled", f"{tiny_synthetic.path}.seqkd", "--students", str(runs / "students-tiny"),
                            "--out", str(out)], capture_output=True, text=True)
    assert write.returncode == 1 and f"{manifest_path}: no train_wall_seconds" in write.stderr
    assert "Traceback" not in write.stderr


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
    claim = reporting._teacher_size_claim(sizes)
    assert claim.index("tiny teacher: valid BLEU 20.00") < claim.index("small teacher") < claim.index("medium teacher")
    assert "tiny teacher: valid BLEU 20.00, C(d) 0.800 bits, student 23.00 (p 0.004 vs raw, 20.00)" in claim
    assert "C(d) rises with the teacher's BLEU; the best student learnt from the small teacher's corpus, not the " \
           "strongest. Supported." in claim
    sizes["points"][1]["bleu"] = 25.0
    assert reporting._teacher_size_claim(sizes).endswith("medium teacher's corpus, the strongest. Partly supported.")
    assert reporting._teacher_size_claim({"points": [raw, sizes["points"][1]]}) is None  # one teacher: no claim


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
