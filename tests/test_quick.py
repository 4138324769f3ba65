"""The QUICK check: `make reproduce QUICK=1` from scratch, once, through its script; its numbers against the
committed report (docs/results/synthetic-k3-quick), then the job's outputs by field, then a re-run elsewhere
that makes nothing again."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.lost_words import training_corpus
from nat.systems import TEACHER, System

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "docs" / "results" / "synthetic-k3-quick"
TUNED = "one pass, blank penalty tuned on valid"
SCRIPT = ROOT / "scripts" / "reproduce_nat_distillation.sh"



def quick_env(root: Path) -> dict:
    # one run at a time: QUICK trains every run on one thread, so its numbers are those of the default two side
    # by side, and on a test worker's one core a run alone is faster than two sharing it
    return {**os.environ, "QUICK": "1", "PARALLEL_RUNS": "1", "DATA": str(root / "data"), "RUNS": str(root / "runs"),
            "RESULTS": str(root / "results"), "SEQKD_BIN": str(Path(sys.executable).parent)}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """The QUICK job run from scratch: (its root, its environment, the script's output)."""
    root = tmp_path_factory.mktemp("quick")
    env = quick_env(root)
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root, env, done.stdout


def report_dir(root: Path) -> Path:
    return root / "results" / "synthetic-k3-quick"


def test_the_quick_job_reproduces_the_committed_report(quick):
    """Every number of the committed QUICK report, re-made from scratch by the current code: a change that
    moves one fails here until the report is re-made (`make reproduce QUICK=1`, then copy it to docs/results)."""
    root, _, _ = quick
    check = subprocess.run([sys.executable, "-m", "analysis.report", "check", "--expected",
                            str(COMMITTED / "results.json"), "--actual", str(report_dir(root) / "results.json")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "numbers reproduced" in check.stdout


def test_the_quick_job_writes_the_comparison_report_and_figures(quick):
    root, _, _ = quick
    runs, out = root / "runs", report_dir(root)
    result = json.loads((runs / "students-quick" / "compare.json").read_text())
    records = result["results"]  # one per (system, training data, seed, decoding)
    assert [(r["system"], r["data"], r["seed"], r["decoding"]) for r in records] == [
        ("teacher", "raw", None, "beam 5"), ("ctc", "raw", 1, TUNED), ("ctc", "distilled", 1, TUNED),
        ("ctc-glat", "raw", 1, TUNED), ("ctc-glat", "distilled", 1, TUNED), ("ar", "raw", 1, "greedy"),
        ("ar", "distilled", 1, "greedy"), ("ar", "raw", 1, "beam 5"), ("ar", "distilled", 1, "beam 5")]
    for record in records:
        assert ("p_value_vs_raw" in record) == (record["data"] == "distilled")
        assert 0 <= record.get("p_value_vs_raw", 0) <= 1 and record["decode_wall_seconds"] > 0
        assert Path(record["hypotheses"]).is_file() and Path(record["evaluation"]).is_file()
        assert record["bleu_signature"] if "bleu_signature" in record else result["bleu_signatures"]
    # each evaluation's file names its decoding settings, so greedy and beam 5 keep their own
    assert [Path(r["evaluation"]).name for r in records if r["system"] == "ar" and r["data"] == "raw"] == [
        "test.greedy.json", "test.beam5.json"]
    assert all(Path(r["evaluation"]).name == f"test.blank-penalty{r['blank_penalty']:g}.json"
               for r in records if r["system"].startswith("ctc"))
    assert all(0 <= r["blank_penalty"] <= 2.5 for r in records[1:5])
    teacher_evaluation = runs / "teacher-quick" / "eval" / "synthetic-k3.test.beam5.json"
    assert records[0]["evaluation"] == str(teacher_evaluation)
    trained = (runs / "students-quick" / "ctc-distilled-seed1" / "manifest.json").stat().st_mtime
    assert Path(records[0]["evaluation"]).stat().st_mtime < trained  # train-teacher's evaluation, not made again

    settings, table = (runs / "students-quick" / "compare.md").read_text().split("\n\n", 1)
    assert settings.startswith("Students: preset `quick` with each student's own schedule")
    report = (out / "REPORT.md").read_text()
    assert table.splitlines()[2] in report  # the same table, read from compare.json
    assert "![BLEU](bleu.png)" in report and (out / "bleu.png").stat().st_size > 1000
    assert "## Distillation gain" in report and f"| ctc | {TUNED} |" in report
    assert "![learning curves](curves.png)" in report and (out / "curves.png").stat().st_size > 1000
    curves = {(c["student"], c["data"]): c["points"] for c in result["curves"]}
    assert len(curves) == 6 and [p["updates"] for p in curves["ctc", "raw"]] == [100, 200, 300]
    assert all(p["wall_seconds"] > 0 and 0 <= p["bleu"] <= 100 for points in curves.values() for p in points)
    assert all(p["train_loss"] > 0 for points in curves.values() for p in points)  # fairseq's, from the log
    assert "| ctc | 300 |" in report and "training loss, distilled targets" in table

    for figure in ("complexity/complexity.png", "lost-words/lost_words.png", "confidence/confidence.png",
                   "modes/mode_mixing.png"):
        assert (out / figure).stat().st_size > 1000, figure
    lost = json.loads((out / "lost-words" / "lost_words.json").read_text())
    reference = training_corpus(lost, "raw targets")  # the raw targets against themselves recall everything
    assert reference["length_ratio"] == 1.0 and all(
        bucket["recall"] in (None, 1.0) for bucket in reference["recall_by_source_frequency"].values())
    students = [System(s, d) for s in ("ctc", "ctc-glat") for d in ("raw", "distilled")]
    ar = [System("ar", d, c) for c in ("greedy", "beam 5") for d in ("raw", "distilled")]  # compare.json's order
    assert [System.from_json(output["system"]) for output in lost["test_outputs"]] == [TEACHER, *students, *ar]
    confidence = json.loads((out / "confidence" / "confidence.json").read_text())["systems"]
    assert [System.from_json(system["system"]) for system in confidence] == [
        TEACHER, *students, System("ar", "raw"), System("ar", "distilled")]  # in the comparison's order
    assert "## What distillation does" in report and "**Distilled data is simpler**" in report
    assert "**Distilled students are more confident**" in report

    summary = json.loads((out / "results.json").read_text())
    assert summary["comparison"]["results"] == records
    assert "seqkd-nat compare" in report and "| students |" in report  # commands and timings
    assert [t["step"] for t in summary["timings"]] == ["prepare", "teacher", "distill", "students", "analysis",
                                                       "lost-words", "confidence", "modes", "total"]
    assert "## Time" in report and summary["compute_seconds"]["teacher_training"] > 0  # from its log lines' times
    assert len(summary["student_train_wall_seconds"]) == 6
    busy = summary["compute_seconds"]["student_training"]
    # one run at a time: the machine was busy training students for as long as the runs' training times add up to
    assert busy == pytest.approx(sum(summary["student_train_wall_seconds"].values()), abs=10)


def test_check_names_the_number_that_moved(quick, tmp_path):
    root, _, _ = quick
    results = report_dir(root) / "results.json"
    check = [sys.executable, "-m", "analysis.report", "check", "--expected", str(results)]
    summary = json.loads(results.read_text())
    summary["comparison"]["results"][1]["scores"]["tgt"]["bleu"] += 0.01  # one BLEU off by 0.01
    (tmp_path / "rerun.json").write_text(json.dumps(summary))
    differs = subprocess.run([*check, "--actual", str(tmp_path / "rerun.json")], capture_output=True, text=True)
    assert differs.returncode == 1 and f"| ctc raw {TUNED} BLEU tgt seed 1 |" in differs.stdout
    assert differs.stdout.count("DIFFERENT") == 1 and "1 of" in differs.stderr


def test_a_rerun_elsewhere_makes_nothing_again_and_a_bad_manifest_is_named(quick, tmp_path):
    """The corpora, the teacher and the students moved to another directory: every finished step is skipped
    (no fairseq training starts), and the teacher's manifest follows its corpus."""
    root, env, _ = quick
    moved = tmp_path / "moved"
    shutil.copytree(root / "data", moved / "data")
    shutil.copytree(root / "runs", moved / "runs")
    logs = {log: log.stat().st_size for log in (moved / "runs").rglob("train.log")}
    again = subprocess.run(["bash", str(SCRIPT)], env=quick_env(moved), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {log: log.stat().st_size for log in logs} == logs  # no fairseq training started
    assert "teacher-quick: already trained" in again.stdout and "already distilled" in again.stdout
    teacher = json.loads((moved / "runs" / "teacher-quick" / "manifest.json").read_text())
    assert teacher["corpus"] == str(moved / "data" / "synthetic-k3")

    students = moved / "runs" / "students-quick"
    manifest_path = students / "ctc-raw-seed1" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    summary = json.loads((moved / "results" / "synthetic-k3-quick" / "results.json").read_text())
    assert summary["student_train_wall_seconds"]["ctc-raw-seed1"] == manifest["train_wall_seconds"]
    manifest_path.write_text(json.dumps({**manifest, "train_wall_seconds": None}))  # a log without timed lines
    corpus = moved / "data" / "synthetic-k3"
    write = subprocess.run([sys.executable, "-m", "analysis.report", "write", "--name", "synthetic-k3-quick",
                            "--teacher", str(moved / "runs" / "teacher-quick"), "--raw", str(corpus),
                            "--distilled", f"{corpus}.seqkd", "--students", str(students),
                            "--out", str(moved / "results" / "synthetic-k3-quick")], capture_output=True, text=True)
    assert write.returncode == 1 and f"{manifest_path}: no train_wall_seconds" in write.stderr
    assert "Traceback" not in write.stderr
