"""Every committed table re-renders from its JSON with the current code, and the one table writer."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from distill.tables import markdown_table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"


def render(*args):
    return subprocess.run([sys.executable, "-m", "analysis.report", "render", *map(str, args)], capture_output=True,
                          text=True)


def test_every_committed_report_renders_again_from_its_json():
    done = render("--check", RESULTS)
    assert done.returncode == 0, done.stdout + done.stderr
    kinds = {"REPORT.md", "compare.md", "lost_words.md", "confidence.md", "mode_mixing.md", "complexity_vs_bleu.md",
             "bench.md"}
    rendered = {line.split()[1] for line in render("--check", RESULTS / "bible-es-en-cpu").stdout.splitlines()
                if line.startswith("DIFFERENT")}
    assert not rendered
    assert kinds <= {path.name for path in RESULTS.rglob("*.md")}  # each kind has a committed example checked here
    assert f"{len(list(RESULTS.rglob('*.md'))) - len(list(RESULTS.rglob('README.md')))} Markdown files match" in \
        done.stdout  # every Markdown file but the experiments' hand-written notes


def test_a_number_changed_in_the_json_is_named_and_rendered(tmp_path):
    report = tmp_path / "mode-mixing-bible"
    shutil.copytree(RESULTS / "mode-mixing-bible", report)
    compare = json.loads((report / "compare.json").read_text())
    compare["results"][1]["scores"]["web"]["bleu"] = 12.34  # the ctc raw row
    (report / "compare.json").write_text(json.dumps(compare))
    differs = render("--check", report)
    assert differs.returncode == 1 and f"DIFFERENT: {report / 'compare.md'}" in differs.stdout
    assert differs.stdout.count("DIFFERENT") == 1 and "1 of 2 Markdown files differ" in differs.stderr
    assert render(report).returncode == 0
    row = next(line for line in (report / "compare.md").read_text().splitlines() if line.startswith("| ctc | raw |"))
    assert row.split(" | ")[5] == "12.34"  # BLEU mixed, web, kjv: web is the second score column
    assert render("--check", report).returncode == 0
    missing = render("--check", tmp_path / "nothing")
    assert missing.returncode == 1 and "no such file or directory" in missing.stderr


@pytest.mark.parametrize("header, rows, expected", [
    (["a", "b"], [[1, "x"]], "| a | b |\n|---|---|\n| 1 | x |"),
    (["", "BLEU"], [["teacher", "30.16"], ["", None]], "| | BLEU |\n|---|---|\n| teacher | 30.16 |\n| | |"),
    (["system"], [], "| system |\n|---|"),
])
def test_markdown_table(header, rows, expected):
    assert markdown_table(header, rows) == expected


def test_a_row_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="a row of 1 cells under a header of 2"):
        markdown_table(["a", "b"], [["only one"]])
