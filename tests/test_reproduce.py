"""The main job's script end to end (on the tiny fixtures) and its report."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_reproduce_script_writes_table_report_and_figures(tiny_students, tiny_teacher, tiny_synthetic, tmp_path):
    runs, results = tmp_path / "runs", tmp_path / "results"
    shutil.copytree(tiny_teacher[0], runs / "teacher-tiny")  # same config: the script skips training it
    for student, (run, _) in tiny_students.items():  # the raw students too; the distilled ones get trained
        shutil.copytree(run, runs / "students-tiny" / f"{student}-raw-seed1")
    env = {**os.environ, "PRESET": "tiny", "SEEDS": "1", "DEVICE": "cpu", "CORPUS": str(tiny_synthetic.path),
           "RUNS": str(runs), "RESULTS": str(results), "SEQKD_BIN": str(Path(sys.executable).parent)}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "reproduce_nat_distillation.sh")], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]

    out = results / f"{tiny_synthetic.path.name}-tiny"
    table = (runs / "students-tiny" / "compare.md").read_text()
    assert table.count("\n| ") == 7 and "BLEU tgt" in table and "nrefs:1" in table  # teacher + 3 students x 2
    result = json.loads((runs / "students-tiny" / "compare.json").read_text())
    assert [(r["system"], r["data"]) for r in result["rows"]] == [
        ("teacher", "raw"), ("nat", "raw"), ("nat", "distilled"), ("cmlm", "raw"), ("cmlm", "distilled"),
        ("duration", "raw"), ("duration", "distilled")]
    for row in result["rows"][2::2]:
        assert len(row["p_value_vs_raw"]) == 1 and 0 <= row["p_value_vs_raw"][0] <= 1
    assert all(r["speedup"] > 0 for r in result["rows"])

    report = (out / "REPORT.md").read_text()
    assert table.splitlines()[2] in report  # the same table, read from compare.json
    assert "![BLEU](bleu.png)" in report and (out / "bleu.png").stat().st_size > 1000
    assert (out / "complexity" / "complexity.png").is_file()
    assert "seqkd-nat compare" in report and "| students |" in report  # commands and timings
    summary = json.loads((out / "results.json").read_text())
    assert summary["comparison"]["rows"] == result["rows"]
    assert {"teacher", "distill", "students", "analysis", "total"} <= set(summary["timings_seconds"])

    rerun = subprocess.run(["bash", str(ROOT / "scripts" / "reproduce_nat_distillation.sh")], env=env,
                           capture_output=True, text=True)
    assert rerun.returncode == 0 and "already" in rerun.stdout  # finished steps are skipped
