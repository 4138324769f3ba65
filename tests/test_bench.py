"""The decoding benchmark on the fixtures: every kind of system it promises is measured, the lean path's
outputs are counted against fairseq's, and its numbers are consistent with each other."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_decoding_benchmark_measures_every_system_and_counts_identical_lean_outputs(
        tiny_students, tiny_teacher, tiny_synthetic, tmp_path):
    students = tmp_path / "students"  # the layout `seqkd-nat compare` writes
    students.mkdir()
    for student in ("ctc", "nat", "ar"):
        (students / f"{student}-distilled-seed1").symlink_to(tiny_students[student][0])
    out = tmp_path / "bench"
    subprocess.run([sys.executable, "-m", "analysis.bench", "run", "--teacher", str(tiny_teacher[0]),
                    "--students", str(students), "--corpus", str(tiny_synthetic.path), "--out", str(out),
                    "--sections", "decoding", "--repeats", "1", "--latency-sentences", "10", "--threads", "1"],
                   check=True, capture_output=True, text=True)
    report = json.loads((out / "bench.json").read_text())
    decoding = report["decoding"]
    assert [row["system"] for row in decoding["rows"]] == [
        "teacher, fairseq, beam 5", "teacher, fairseq, greedy", "teacher, CTranslate2 int8, beam 5",
        "teacher, CTranslate2 int8, greedy", "ctc, lean", "ctc, lean, bf16", "ctc, lean, TorchScript",
        "ctc, lean, ONNX Runtime",
        "ctc, lean, ONNX Runtime int8", "ctc, lean, shortlist", "ctc, lean, ONNX Runtime int8, shortlist",
        "ctc, fairseq", "nat, lean", "nat, fairseq",
        "ar student, CTranslate2 int8, greedy"]
    test_sentences = len(tiny_synthetic.lines("test", "src"))
    for lower in ("ctc, ONNX Runtime int8", "ctc, bf16", "ctc, shortlist", "ctc, ONNX Runtime int8, shortlist"):
        # less precise arithmetic, or fewer tokens to choose from: as many as it keeps
        counts = decoding["lean_identical"].pop(lower)
        assert counts["sentences"] == test_sentences and 0 <= counts["identical"] <= test_sentences
    assert decoding["lean_identical"] == {student: {"identical": test_sentences, "sentences": test_sentences}
                                          for student in ("ctc", "ctc, TorchScript", "ctc, ONNX Runtime", "nat")}
    for row in decoding["rows"]:
        assert 0 < row["bs1_p50_ms"] <= row["bs1_p90_ms"]
        assert row["peak_mib"] >= row["loaded_mib"] > 50  # a Python process with torch loaded
    base = decoding["rows"][0]
    assert base["speedup_batch"] == base["speedup_bs1"] == 1.0
    greedy = next(row for row in decoding["rows"] if row["system"] == "teacher, CTranslate2 int8, greedy")
    assert greedy["speedup_bs1_vs_ct2_greedy"] == 1.0
    assert next(iter(decoding["rows"][0]["scores"].values()))["bleu"] > 60  # the teacher learned the fixture
    assert (out / decoding["figure"]).stat().st_size > 10_000
    markdown = (out / "bench.md").read_text()
    assert f"ctc {test_sentences:,} of {test_sentences:,}" in markdown
    listed = {row["system"]: row["shortlist"] for row in decoding["rows"] if "shortlist" in row}
    assert sorted(listed) == ["ctc, lean, ONNX Runtime int8, shortlist", "ctc, lean, shortlist"]
    for stats in listed.values():  # the fixture's vocabulary is small: the 100 frequent pieces hold most of it
        assert stats["top"] == 50 and 0.9 <= stats["hit_rate"] <= 1 and 0 < stats["mean_size"] <= stats["dictionary"]
    assert "ctc, lean, shortlist: top 50" in markdown
    best = [target["name"] for target in report["targets"] if target["name"].startswith("best NAT (")]
    assert len(best) == 2 and all(", lean" in name for name in best)  # a lean system, against two AR baselines
    subprocess.run([sys.executable, "-m", "analysis.bench", "render", "--out", str(out)], check=True,
                   capture_output=True)
    assert (out / "bench.md").read_text() == markdown  # rendered from the JSON alone


def test_openmp_command_times_ctranslate2_alone_under_each_wait_policy(tiny_teacher, tiny_synthetic):
    done = subprocess.run([sys.executable, "-m", "analysis.bench", "openmp", "--run", str(tiny_teacher[0]),
                           "--corpus", str(tiny_synthetic.path), "--threads", "1", "2", "--sentences", "5"],
                          check=True, capture_output=True, text=True)
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| ") and "OMP" not in line]
    assert [row[0].strip() for row in rows] == ["default", "PASSIVE", "ACTIVE"]
    assert all(float(cell) > 0 for row in rows for cell in row[1:]) and all(len(row) == 3 for row in rows)


def test_the_profile_of_an_exported_student_says_which_onnx_operators_take_the_time(tiny_students, tiny_synthetic):
    done = subprocess.run([sys.executable, "-m", "analysis.bench", "profile", "--run", str(tiny_students["ctc"][0]),
                           "--corpus", str(tiny_synthetic.path), "--engine", "lean, ONNX Runtime int8",
                           "--shortlist", "5", "--sentences", "10", "--threads", "1", "--top", "100"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    report = done.stdout.split("inside ONNX Runtime (")[1]
    shares = [int(line.rsplit("(", 1)[1].rstrip("%)")) for line in report.splitlines()[1:] if "ms per sentence" in line]
    # int8 products (ONNX Runtime fuses the quantized ones); every operator type listed: the shares add up
    assert "MatMulIntegerToFloat" in report and 95 <= sum(shares) <= 105
    assert "(lean, ONNX Runtime int8, shortlist, 1 threads)" in done.stdout
