"""The compression tables (analysis/compression.py, scripts/compression_tables.sh): the job end to end on the tiny
fixture, and the papers' findings checked on results worked out by hand."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.compression import METHODS, verdicts

ROOT = Path(__file__).resolve().parent.parent


def test_the_job_trains_every_method_and_writes_the_table_the_findings_and_the_figure(tiny_synthetic, tmp_path):
    env = {**os.environ, "PRESET": "tiny", "CORPUS": str(tiny_synthetic.path), "RUNS": str(tmp_path / "runs"),
           "RESULTS": str(tmp_path / "results"), "DEVICE": "cpu", "SEEDS": "1",
           "SEQKD_BIN": str(Path(sys.executable).parent),
           "TEACHER_LAYERS": "1,2", "STUDENT_DECODER_LAYERS": "1", "KD_ALPHAS": "0.5,0.9",
           "TEACHER_UPDATES": "60", "STUDENT_UPDATES": "20"}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "compression_tables.sh")], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "results" / f"{tiny_synthetic.path.name}-tiny" / "compression"
    result = json.loads((out / "compression.json").read_text())
    assert [row["method"] for row in result["rows"]] == [each.name for each in METHODS]
    assert result["teacher"]["model"]["decoder_layers"] == 2 and result["student_model"]["decoder_layers"] == 1
    assert set(result["word_kd_alphas_valid_bleu"]) == {"0.5", "0.9"} and result["word_kd_alpha"] in (0.5, 0.9)
    runs = tmp_path / "runs" / "compression-tiny-e1d2"
    assert (runs / "word-kd-a0.5-seed1").is_dir() and (runs / "word-kd-a0.9-seed1").is_dir()
    for row in result["rows"]:
        for beam in ("1", "5"):
            decoding = row["decodings"][beam]
            assert 0 <= decoding["bleu"]["mean"] <= 100
            assert (decoding["p_vs_baseline"] is None) == (row["key"] == "baseline")
            assert all(0 < p <= 1 for p in decoding["p_vs_baseline"] or [])
        extra = result["regeneration_hours"].get(row["data"], 0.0)
        assert row["cost_hours"]["mean"] == pytest.approx(row["student_hours"]["mean"] + extra)
        assert row["student_hours"]["mean"] > 0
    assert set(result["regeneration_hours"]) == {"seqkd", "seq-inter"}
    assert all(hours > 0 for hours in result["regeneration_hours"].values())
    shrunk = json.loads((runs / "shrink-seed1" / "manifest.json").read_text())
    assert "shrink" in shrunk["settings"]
    assert "--finetune-from-model" in (runs / "shrink-seed1" / "train.log").read_text()
    markdown = (out / "compression.md").read_text()
    assert markdown.count("Holds here") + markdown.count("Does not hold here") == 4
    assert "| Shrink + SeqKD | seqkd |" in markdown and (out / "compression.png").stat().st_size > 10_000
    assert "seqkd-distill train-teacher" in (out / "commands.sh").read_text()
    again = subprocess.run(["bash", str(ROOT / "scripts" / "compression_tables.sh")], env=env, capture_output=True,
                           text=True)
    # the teacher, the two alphas' runs, and every method's (the chosen alpha's run again)
    assert again.returncode == 0 and again.stdout.count("already trained") == 1 + 2 + len(METHODS)


def _row(key, greedy, beam, cost):
    return {"key": key, "cost_hours": {"mean": cost}, "decodings": {"1": {"bleu": {"mean": greedy}},
                                                                     "5": {"bleu": {"mean": beam}}}}


# (baseline, word-kd, seqkd, shrink) as (greedy, beam 5, cost hours) -> which of the four findings hold
VERDICTS = [
    # Kim & Rush's and Shleifer & Rush's pictures: SeqKD best, its beam gap small; shrink above the baseline, cheap
    (((20, 22, 1), (21, 22.5, 1.5), (24, 24.5, 2), (22, 23, 1)), [True, True, True, True]),
    # word-level KD best with beam; the SeqKD gap as large as the baseline's; shrink below the baseline
    (((20, 22, 1), (21, 25, 1.5), (22, 24, 2), (19, 21, 1)), [False, False, False, False]),
    # SeqKD above Word-KD greedy only; shrink better than the baseline but dearer than word-level KD
    (((20, 22, 1), (21, 23, 1.5), (22, 22.9, 2), (22, 24, 1.6)), [False, True, False, False]),
]


@pytest.mark.parametrize("rows, expected", VERDICTS)
def test_each_finding_holds_exactly_when_its_numbers_say_so(rows, expected):
    result = {"rows": [_row(key, *values) for key, values in zip(("baseline", "word-kd", "seqkd", "shrink"), rows)],
              "seqkd_vs_word_kd_p": {"1": [0.01], "5": [0.2]}}
    assert [verdict["holds"] for verdict in verdicts(result)] == expected
