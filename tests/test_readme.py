"""The README: its results are the committed reports' JSON, and it stays short and portable."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _check(readme: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis.report", "readme", "--check", "--readme",
                           str(readme), "--results", "docs/results"], cwd=ROOT, capture_output=True, text=True)


def test_readme_results_are_the_committed_json(tmp_path):
    checked = _check(README)
    assert checked.returncode == 0, checked.stderr
    edited = tmp_path / "README.md"  # one number changed by hand must be caught
    text = README.read_text(encoding="utf-8")
    number = re.search(r"\| (\d+\.\d\d) \|", text)
    edited.write_text(text[:number.start(1)] + f"{float(number.group(1)) + 0.01:.2f}" + text[number.end(1):])
    assert _check(edited).returncode == 1


def test_readme_is_short_portable_and_its_links_resolve():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200
    assert max(len(line) for line in lines) <= 300
    assert not re.search(r"(/work/|/home/|/tmp/|/root/)", README.read_text(encoding="utf-8"))
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", "\n".join(lines)):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


def test_the_speed_table_keeps_every_teacher_system_and_each_students_plain_and_fastest_systems():
    from analysis.report import speed_table

    def row(system, engine, p50_by_threads):
        return [{"system": system, "engine": engine, "threads": threads, "bs1_p50_ms": p50,
                 "batch_sentences_per_second": 100.0, "scores": {"web": {"bleu": 20.0}}}
                for threads, p50 in p50_by_threads.items()]

    rows = [*row("teacher, fairseq, beam 5", "fairseq", {1: 140.0, 2: 150.0}),
            *row("teacher, CTranslate2 int8, greedy", "CTranslate2 int8", {1: 5.0, 2: 50.0}),
            *row("ctc, lean", "lean", {1: 10.0, 2: 11.0}),
            *row("ctc, lean, shortlist", "lean", {1: 6.0, 2: 8.0}),
            *row("ctc, lean, ONNX Runtime int8", "lean, ONNX Runtime int8", {1: 5.0, 2: 4.5}),  # fastest at 2 threads
            *row("ctc, fairseq", "fairseq", {1: 3.0, 2: 3.0}),  # fairseq's path checks the lean one: not shown
            *row("nat, lean", "lean", {1: 8.0, 2: 7.0}),  # its only lean system: shown once
            *row("nat, fairseq", "fairseq", {1: 9.0, 2: 9.0})]
    bench = {"date": "d", "machine": {"processor": "p", "cpu_threads": 2, "device": "cpu"},
             "decoding": {"threads": [1, 2], "reference": "web", "test_sentences": 10, "rows": rows}}
    shown = [line.split(" | ")[0].removeprefix("| ") for line in speed_table(bench, "x").splitlines()[4:]]
    assert shown == ["teacher, fairseq, beam 5", "teacher, CTranslate2 int8, greedy", "ctc, lean",
                     "ctc, lean, ONNX Runtime int8", "nat, lean"]
