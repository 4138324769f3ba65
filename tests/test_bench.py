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
        "ctc, fairseq", "nat, lean", "nat, lean, ONNX Runtime", "nat, lean, ONNX Runtime int8", "nat, fairseq",
        "ar student, CTranslate2 int8, greedy"]
    test_sentences = len(tiny_synthetic.lines("test", "src"))
    for lower in ("ctc, ONNX Runtime int8", "ctc, bf16", "ctc, shortlist", "ctc, ONNX Runtime int8, shortlist",
                  "nat, ONNX Runtime int8"):
        # less precise arithmetic, or fewer tokens to choose from: as many as it keeps
        counts = decoding["lean_identical"].pop(lower)
        assert counts["sentences"] == test_sentences and 0 <= counts["identical"] <= test_sentences
    assert decoding["lean_identical"] == {student: {"identical": test_sentences, "sentences": test_sentences}
                                          for student in ("ctc", "ctc, TorchScript", "ctc, ONNX Runtime", "nat",
                                                          "nat, ONNX Runtime")}
    for row in decoding["rows"]:
        assert 0 < row["bs1_p50_ms"] <= row["bs1_p90_ms"]
        assert row["bs1_p50_ms_rounds"] == [row["bs1_p50_ms"]] and row["rounds_with_other_outputs"] == 0
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
    assert decoding["student_runs"] == {system: str((students / f"{student}-distilled-seed1").resolve())
                                        for system, student in (("ctc", "ctc"), ("nat", "nat"), ("ar student", "ar"))}
    assert decoding["teacher"] == str(tiny_teacher[0]) and decoding["machine"]["device"] == "cpu"
    outputs = {t["name"]: t for t in report["targets"] if not t["name"].startswith("best")}
    for student in ("ctc", "nat"):
        assert outputs[f"{student}, lean, ONNX Runtime: output lines identical to torch's"]["met"]
    assert sorted(name.split(":")[0] for name in outputs if "BLEU lost" in name) == [
        "ctc, lean, ONNX Runtime int8", "ctc, lean, ONNX Runtime int8, shortlist", "ctc, lean, shortlist",
        "nat, lean, ONNX Runtime int8"]
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


def _row(system: str, engine: str, threads: int, p50: float, bleu: float, **extra) -> dict:
    return {"system": system, "engine": engine, "threads": threads, "bs1_p50_ms": p50,
            "scores": {"web": {"bleu": bleu}}, **extra}


# (system, engine, threads, p50 ms at batch size 1, BLEU): hand-made, so the targets can be worked out by hand
TARGET_ROWS = [
    ("teacher, fairseq, beam 5", "fairseq", 1, 120.0, 31.6), ("teacher, fairseq, beam 5", "fairseq", 2, 150.0, 31.6),
    ("teacher, CTranslate2 int8, greedy", "CTranslate2 int8", 1, 4.0, 29.1),
    ("teacher, CTranslate2 int8, greedy", "CTranslate2 int8", 2, 40.0, 29.1),
    ("ctc, lean", "lean", 1, 9.0, 25.0), ("ctc, lean", "lean", 2, 8.0, 25.0),
    ("ctc, lean, ONNX Runtime", "lean, ONNX Runtime", 1, 6.0, 25.05),
    ("ctc, lean, ONNX Runtime int8", "lean, ONNX Runtime int8", 1, 3.0, 24.4),  # loses 0.6: not allowed
    ("ctc, lean, shortlist", "lean", 1, 5.0, 24.6),  # loses 0.4: allowed, and the fastest such
    ("nat, lean", "lean", 1, 1.0, 10.0),  # faster, but the worse student
]


def test_targets_pick_the_best_students_fastest_runtime_within_the_allowed_loss_and_check_its_outputs():
    from analysis.bench import _targets

    rows = [_row(*row) for row in TARGET_ROWS]
    rows[8]["shortlist"] = {"top": 50}
    report = {"decoding": {"reference": "web", "rows": rows,
                           "lean_identical": {"ctc, ONNX Runtime": {"identical": 989, "sentences": 1000}}}}
    targets = {t["name"].split(" (")[0] if t["name"].startswith("best") else t["name"]: t for t in _targets(report)}
    expected = {  # name -> (measured, met)
        "ctc, lean, ONNX Runtime: output lines identical to torch's": ("98.9% (989 of 1,000)", False),
        "ctc, lean, ONNX Runtime: BLEU against torch's": ("+0.05", True),
        "ctc, lean, ONNX Runtime int8: BLEU lost against ctc, lean (float32, full vocabulary)": ("0.60", False),
        "ctc, lean, shortlist: BLEU lost against ctc, lean (float32, full vocabulary)": ("0.40", True),
    }
    for name, (measured, met) in expected.items():
        assert (targets[name]["measured"], targets[name]["met"]) == (measured, met), name
    best = [t for t in _targets(report) if t["name"].startswith("best NAT")]
    assert [t["name"].split(",")[0:2] for t in best] == [["best NAT (ctc", " lean"]] * 2
    assert "shortlist, BLEU 24.60, 1 thr." in best[0]["name"]
    # against each system at its fastest thread count: beam 5 at 1 thread (120 ms), CTranslate2 greedy at 1 (4 ms)
    assert [(t["measured"], t["met"]) for t in best] == [("24.00x (120.0 / 5.0 ms)", True),
                                                         ("0.80x (4.0 / 5.0 ms)", False)]
