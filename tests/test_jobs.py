"""The main job's and the studies' settings, paths and steps (analysis/jobs.py), without training."""
from pathlib import Path

import pytest

from analysis.jobs import Steps
from analysis.jobs import main as jobs_main
from analysis.settings import Layout, Settings
from distill.io import InputError

LAYOUT = Layout(Path("d"), Path("r"), Path("out"), Path("d/bible-es-en"), "cpu")
# what -> where: one rule per path, used by the main job, the studies, the benchmark and the report
PATHS = [
    (LAYOUT.name, "bible-es-en-cpu"),
    (LAYOUT.teacher, Path("r/teacher-cpu")),
    (LAYOUT.distilled, Path("d/bible-es-en.seqkd")),
    (LAYOUT.distilled_by("seq-inter"), Path("d/bible-es-en.seq-inter")),
    (LAYOUT.students, Path("r/students-cpu")),
    (LAYOUT.student_run("ctc-glat", "distilled", 2), Path("r/students-cpu/ctc-glat-distilled-seed2")),
    (LAYOUT.report, Path("out/bible-es-en-cpu")),
]


@pytest.mark.parametrize("value, expected", PATHS)
def test_the_layout_of_paths(value, expected):
    assert value == expected


# environment -> (preset, corpus, students, seeds, parallel runs, prepares, regeneration backend)
ENVIRONMENTS = [
    ({}, ("cpu", Path("data/bible-es-en"), "ctc,ctc-glat,ar", "1,2,3", "2", True, ())),
    ({"QUICK": "1", "DATA": "x"}, ("quick", Path("x/synthetic-k3"), "ctc,ctc-glat,ar", "1", "2", True,
                                   ("--backend", "ctranslate2", "--compute-type", "int8"))),
    ({"PRESET": "base", "CORPUS": "wmt/en-de", "STUDENTS": "nat", "SEEDS": "4"},
     ("base", Path("wmt/en-de"), "nat", "4", "1", False, ())),
]


@pytest.mark.parametrize("env, expected", ENVIRONMENTS)
def test_settings_from_the_environment(env, expected):
    settings = Settings.from_environment(env)
    assert (settings.layout.preset, settings.layout.corpus, settings.students, settings.seeds, settings.parallel_runs,
            settings.prepare is not None, settings.regeneration) == expected


@pytest.mark.parametrize("study", ["main", "teacher-sizes", "which-distillation", "nat-diagnosis",
                                   "study"])
def test_a_preset_the_students_lack_is_refused_before_anything_runs(study, tmp_path, monkeypatch, capsys):
    """The teachers' `big` preset has no student preset: every study refuses it first, where teacher-sizes
    used to fail after training its teachers."""
    monkeypatch.setenv("PRESET", "big")
    for root in ("DATA", "RUNS", "RESULTS"):
        monkeypatch.setenv(root, str(tmp_path / root.lower()))
    monkeypatch.setattr(Steps, "run", lambda *args: pytest.fail("a step ran"))
    assert jobs_main([study]) == 1
    assert "PRESET=big: choose one of base, cpu, quick, tiny" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_steps_keep_each_commands_line_and_time_and_stop_at_a_failure(monkeypatch):
    import sys
    import types

    import analysis.jobs as jobs

    calls = []
    for name, status in (("seqkd-ok", 0), ("seqkd-broken", 3)):
        module = types.ModuleType(f"fake_{status}")
        module.main = lambda argv, status=status: calls.append(argv) or status
        monkeypatch.setitem(sys.modules, module.__name__, module)
        monkeypatch.setitem(jobs.PROGRAMS, name, module.__name__)
    steps = Steps()
    steps.run("first", "seqkd-ok", "train", "--out", Path("a dir"))
    steps.run(None, "seqkd-ok", "untimed")
    with pytest.raises(InputError, match="step second failed with exit status 3"):
        steps.run("second", "seqkd-broken", "x")
    assert calls == [["train", "--out", "a dir"], ["untimed"], ["x"]]  # the console script's argv, as strings
    assert steps.commands == ["seqkd-ok train --out 'a dir'", "seqkd-broken x"]
    assert [name for name, _ in steps.timings] == ["first"] and steps.timings[0][1] >= 0


def test_every_program_of_a_step_is_a_console_script():
    import configparser

    import analysis.jobs as jobs

    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parent.parent / "setup.cfg")
    scripts = dict(line.split(" = ") for line in config["options.entry_points"]["console_scripts"].split("\n") if line)
    assert {name: f"{module}:main" for name, module in jobs.PROGRAMS.items()} == {
        name: scripts[name] for name in jobs.PROGRAMS}


@pytest.mark.parametrize(("value", "expected"), [
    (None, ["ctc-tiny", "ctc-small", "nat-small", "ar-small", "dat-small"]),
    ("", ["ctc-tiny", "ctc-small", "nat-small", "ar-small", "dat-small"]),
    ("ar-small,ctc-small", ["ctc-small", "ar-small"]),  # the study's order, not the variable's
])
def test_study_groups_come_from_study_groups_in_the_studys_order(value, expected):
    from analysis.jobs import study_groups

    env = {} if value is None else {"STUDY_GROUPS": value}
    assert [group.key for group in study_groups(env)] == expected


def test_an_unknown_study_group_is_refused_and_the_variable_survives_bash():
    import subprocess

    from analysis.jobs import study_groups

    with pytest.raises(InputError, match="STUDY_GROUPS: unknown ctc-huge; choose from ctc-tiny"):
        study_groups({"STUDY_GROUPS": "ctc-small,ctc-huge"})
    # why it is not called GROUPS: bash drops that one (its own array of group ids), so a user's setting never arrived
    shown = subprocess.run(["bash", "-c", "GROUPS=ctc-small STUDY_GROUPS=ctc-small env"], capture_output=True,
                           text=True).stdout.splitlines()
    assert "STUDY_GROUPS=ctc-small" in shown and not any(line.startswith("GROUPS=") for line in shown)


# STUDY_STATE's root: the directory DATA, RUNS and RESULTS share (None: none kept; "refused": they share none)
KEPT_STATES = [
    ({}, None),
    ({"STUDY_STATE": "store", "DATA": "/s/v2/data", "RUNS": "/s/v2/runs", "RESULTS": "/s/v2/results"}, Path("/s/v2")),
    ({"STUDY_STATE": "store", "DATA": "/s/data", "RUNS": "/s/v2/runs", "RESULTS": "/s/v2/results/x"}, Path("/s")),
    ({"STUDY_STATE": "store", "DATA": "/a/data", "RUNS": "/b/runs", "RESULTS": "/b/results"}, "refused"),
]


@pytest.mark.parametrize("env, root", KEPT_STATES)
def test_the_kept_states_root_is_what_data_runs_and_results_share(env, root):
    from analysis.jobs import KeptState

    settings = Settings.from_environment(env)
    if root == "refused":
        with pytest.raises(InputError, match="share no directory"):
            KeptState.from_environment(settings, env)
        return
    kept = KeptState.from_environment(settings, env)
    assert (kept.root if kept.store else None) == root


def test_the_length_penalty_corpus_is_left_out_when_the_teacher_lost_its_checkpoint(tmp_path, capsys):
    """Made right after the SeqKD corpus while the teacher's checkpoint is there; a kept state that lost it (a new
    machine) leaves that corpus out rather than train another teacher than the one the study's corpora came from."""
    import json

    from analysis.jobs import KeptState, extra_corpora

    settings = Settings.from_environment({"DATA": str(tmp_path / "d"), "RUNS": str(tmp_path / "r"),
                                          "RESULTS": str(tmp_path / "o")})
    layout, out = settings.layout, tmp_path / "o" / "study"
    layout.teacher.mkdir(parents=True)
    (layout.teacher / "config.json").write_text("{}")
    (layout.teacher / "manifest.json").write_text(json.dumps({"config_hash": "h", "checkpoint": "checkpoints/c.pt"}))
    ran = []

    class Recorded(Steps):
        def run(self, name, *command):
            ran.append(command[1])
            (out / layout.corpus.name / "lenpen").mkdir(parents=True, exist_ok=True)
            (out / layout.corpus.name / "lenpen" / "lenpen.json").write_text(json.dumps({"chosen": 1.0}))

    kept = KeptState(None, tmp_path)
    assert extra_corpora(layout, ["lenpen"], settings, Recorded(), out, kept) == {} and ran == []
    assert "the tuned length penalty's corpus is left out" in capsys.readouterr().out
    (layout.teacher / "checkpoints").mkdir()
    (layout.teacher / "checkpoints" / "c.pt").write_bytes(b"weights")
    assert extra_corpora(layout, ["lenpen"], settings, Recorded(), out, kept) == {} and ran == ["tune-lenpen"]


def test_an_analysis_is_made_again_only_when_the_outputs_it_read_change(tmp_path):
    """lost-words aligns with eflomal, which takes no seed: the study re-runs it when a round adds or changes
    outputs, never on the same ones (its numbers would move with nothing changed)."""
    from analysis.jobs import ANALYSED_INPUTS, analysed, analysed_outputs
    from distill.io import write_json, write_lines

    for name, identity in (("raw", "r1"), ("distilled", "d1")):
        write_json(tmp_path / name / "manifest.json", {"config_hash": identity})
    write_lines(tmp_path / "a.hyp", ["one", "two"])
    compare = {"raw": str(tmp_path / "raw"), "distilled": str(tmp_path / "distilled"), "results": [
        {"system": "ctc", "data": "raw", "seed": 1, "decoding": "one pass", "hypotheses": str(tmp_path / "a.hyp")},
        {"system": "ctc", "data": "raw", "seed": 1, "decoding": "oracle", "hypotheses": ""}]}  # no outputs: left out
    outputs = analysed_outputs(compare)
    assert outputs["raw"] == "r1" and list(outputs["outputs"]) == ["ctc raw 1 one pass"]
    out = tmp_path / "lost-words"
    assert not analysed(out, "lost_words.json", outputs)  # nothing made yet
    write_json(out / "lost_words.json", {})
    assert not analysed(out, "lost_words.json", outputs)  # made, but from what is not recorded
    write_json(out / ANALYSED_INPUTS, outputs)
    assert analysed(out, "lost_words.json", outputs)
    write_lines(tmp_path / "a.hyp", ["one", "three"])  # an output changed
    assert not analysed(out, "lost_words.json", analysed_outputs(compare))
    compare["results"].append({"system": "ctc", "data": "raw", "seed": 2, "decoding": "one pass",
                               "hypotheses": str(tmp_path / "a.hyp")})  # a seed added
    assert len(analysed_outputs(compare)["outputs"]) == 2
