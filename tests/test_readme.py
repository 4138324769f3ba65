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
