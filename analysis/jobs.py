"""The main job and the studies as Python step lists (``seqkd-reproduce``; the scripts in ``scripts/``
are their entry points).

  main                AR teacher -> SeqKD corpus -> students on raw vs distilled data -> analyses -> report
                      (scripts/reproduce_nat_distillation.sh, ``make reproduce``)
  teacher-sizes       teachers of several sizes -> C(d), F(d), student BLEU; then the mode-mixing study
                      (scripts/complexity_plots.sh)
  which-distillation  the headline student on SeqKD, Seq-Inter and ensemble corpora (scripts/which_distillation.sh)
  mode-mixing         AR teacher and vanilla NAT on a synthetic K-mode corpus (scripts/mode_mixing.sh)
  mode-mixing-bible   the same on bible-es-en with WEB or KJV targets (scripts/mode_mixing_bible.sh)
  nat-diagnosis       vanilla NAT's configurations on raw vs distilled data: curves, oracle-length BLEU,
                      repetition (scripts/nat_diagnosis.sh)
  study               when distillation helps: students of several capacities, raw vs distilled, on two
                      corpora, three seeds, with corpus measures and the headline figure
                      (scripts/distillation_study.sh)

Every study reads its settings from the environment (the variables each script's ``--help`` lists), and
finds the main job's teacher, corpora and students through one :class:`Layout`, so the studies reuse what
``make reproduce`` made. Each step is one ``seqkd-*`` command, run in this process (its trainings run in
fairseq processes of their own); its command line and wall time are kept and handed to the report. Every
command skips what is done, so a job resumes.
"""
from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from analysis.settings import BIBLE_PREPARE, Layout, Settings
from distill.io import InputError

# the commands a step runs, and the module whose ``main(argv)`` each is (setup.cfg's console scripts)
PROGRAMS = {"seqkd-distill": "distill.cli", "seqkd-nat": "nat.cli", "seqkd-analysis": "analysis.cli"}


@dataclass
class Steps:
    """Runs ``seqkd-*`` commands one after another and keeps what the report needs: each step's command line
    (as it re-runs: ``seqkd-nat compare ...``) and its wall seconds. A command runs in this process, as its
    console script would (one process start and fairseq import less per step)."""

    commands: list[str] = field(default_factory=list)
    timings: list[tuple[str, int]] = field(default_factory=list)
    after: Callable[[], None] | None = None  # called after each step that succeeded (e.g. KeptState.save)

    def run(self, name: str | None, *command) -> None:
        """Run one command (its first item a ``seqkd-*`` program); ``name``: its row in the report's timings
        (None: not timed, not recorded)."""
        command = [str(item) for item in command]
        if name:
            self.commands.append(shlex.join(command))
        print(f"== {name or command[0]}: {shlex.join(command)}", flush=True)
        started = time.monotonic()
        status = importlib.import_module(PROGRAMS[command[0]]).main(command[1:])
        sys.stdout.flush()
        if status != 0:
            raise InputError(f"step {name or command[0]} failed with exit status {status} "
                             f"(its own message is above); re-running resumes from it")
        if name:
            self.timings.append((name, round(time.monotonic() - started)))
        if self.after:
            self.after()

    def write(self, out: Path) -> None:
        """timings.tsv (step, wall seconds) and commands.sh (the command lines) in ``out``."""
        from distill.io import atomic_open

        with atomic_open(out / "timings.tsv") as handle:
            handle.write("".join(f"{step}\t{seconds}\n" for step, seconds in self.timings))
        with atomic_open(out / "commands.sh") as handle:
            handle.write("".join(f"{command}\n" for command in self.commands))


def run_main(args) -> None:
    """The main job (scripts/reproduce_nat_distillation.sh)."""
    from analysis.report import write_report

    settings = Settings.from_environment()
    settings.limit_threads()
    layout = settings.layout
    corpus, teacher, distilled, students = layout.corpus, layout.teacher, layout.distilled, layout.students
    out = layout.report
    out.mkdir(parents=True, exist_ok=True)
    steps = Steps()
    begun = time.monotonic()
    if settings.prepare:
        steps.run("prepare", "seqkd-distill", *settings.prepare, "--out", corpus)
    steps.run("teacher", "seqkd-distill", "train-teacher", "--corpus", corpus, "--out", teacher,
              "--preset", layout.preset, *settings.device_arguments, *settings.precision_arguments)
    steps.run("distill", "seqkd-distill", "regenerate", "--teacher", teacher, "--corpus", corpus, "--out", distilled,
              "--method", "seqkd", *settings.regeneration, *settings.device_arguments)
    steps.run("students", "seqkd-nat", "compare", "--teacher", teacher, "--raw", corpus, "--distilled", distilled,
              "--out", students, "--preset", layout.preset, "--students", settings.students, "--seeds", settings.seeds,
              "--other-seeds", settings.other_seeds, "--parallel-runs", settings.parallel_runs,
              *settings.device_arguments, *settings.precision_arguments)
    comparison = students / "compare.json"
    steps.run("analysis", "seqkd-analysis", "complexity", "--corpus", corpus, "--corpus", distilled,
              "--out", out / "complexity")
    steps.run("lost-words", "seqkd-analysis", "lost-words", "--compare", comparison, "--out", out / "lost-words")
    steps.run("confidence", "seqkd-analysis", "confidence", "--compare", comparison, "--out", out / "confidence")
    if (corpus / "raw" / "train.mode").is_file():  # a multi-target corpus: which systems mix its modes?
        steps.run("modes", "seqkd-analysis", "modes", "--corpus", corpus, "--compare", comparison,
                  "--out", out / "modes")
    steps.timings.append(("total", round(time.monotonic() - begun)))
    steps.write(out)  # the job's own record, which `seqkd-report write` reads to re-make the report
    write_report(name=layout.name, teacher=teacher, raw=corpus, distilled=distilled, students=students, out=out,
                 quick=settings.quick, timings=steps.timings, commands=steps.commands)


# teacher sizes per preset: around the preset's own size, as far as its hardware allows
DEFAULT_SIZES = {"cpu": ("tiny", "small", "medium"), "base": ("small", "base", "big")}
OTHER_PRESET_SIZES = ("tiny", "small")


def run_teacher_sizes(args) -> None:
    """Teachers of several sizes, then the mode-mixing study (scripts/complexity_plots.sh).

    The teacher-size study (Zhou, Gu & Neubig 2020, Fig. 4): AR teachers of several sizes, one distilled
    corpus each, C(d) and F(d) of every corpus, and the BLEU of one student trained on each. The teacher
    of the preset's own size is the main job's, with its SeqKD corpus and its student runs; the other
    sizes get ``RUNS/teacher-PRESET-SIZE`` and ``CORPUS.seqkd-SIZE``."""
    from distill.teacher import PRESETS as TEACHER_PRESETS

    env = os.environ
    settings = Settings.from_environment()
    settings.limit_threads()
    layout = settings.layout
    out = layout.report / "teacher-sizes"
    student, seed = env.get("STUDENT") or "ctc", int(env.get("SEED") or "1")
    sizes = env["TEACHER_SIZES"].split() if env.get("TEACHER_SIZES") else DEFAULT_SIZES.get(layout.preset,
                                                                                          OTHER_PRESET_SIZES)
    own_size = TEACHER_PRESETS[layout.preset]["size"]
    steps = Steps()
    if settings.prepare:
        steps.run(None, "seqkd-distill", *settings.prepare, "--out", layout.corpus)
    # (name in tables, corpus, the data label of its student run, teacher of that corpus)
    corpora = [("raw", layout.corpus, "raw", layout.teacher)]
    for size in sizes:
        if size == own_size:
            teacher, distilled, data = layout.teacher, layout.distilled, "distilled"
        else:
            teacher = layout.runs / f"teacher-{layout.preset}-{size}"
            distilled, data = layout.distilled_by(f"seqkd-{size}"), f"distilled-{size}"
        steps.run(None, "seqkd-distill", "train-teacher", "--corpus", layout.corpus, "--out", teacher,
                  "--preset", layout.preset, "--size", size, *settings.device_arguments)
        steps.run(None, "seqkd-distill", "regenerate", "--teacher", teacher, "--corpus", layout.corpus,
                  "--out", distilled, "--method", "seqkd", *settings.regeneration, *settings.device_arguments)
        corpora.append((f"{size} teacher", distilled, data, teacher))
    steps.run(None, "seqkd-analysis", "complexity", *(f"--corpus={name}={corpus}" for name, corpus, _, _ in corpora),
              "--out", out / "complexity")
    bleu = []
    for name, corpus, data, teacher in corpora:
        run = layout.student_run(student, data, seed)
        steps.run(None, "seqkd-nat", "train", "--student", student, "--corpus", corpus, "--out", run,
                  "--preset", layout.preset, "--seed", seed, "--teacher", teacher, *settings.device_arguments)
        scores = out / "bleu" / f"{name.replace(' ', '-')}.json"
        steps.run(None, "seqkd-nat", "evaluate", "--run", run, "--corpus", layout.corpus, "--iterations", 10,
                  "--length-beam", 1, "--out", scores, *settings.device_arguments)
        bleu.append(f"--bleu={name}={scores}")
    steps.run(None, "seqkd-analysis", "tradeoff", "--complexity-json", out / "complexity" / "complexity.json", *bleu,
              "--out", out)
    if env.get("MODE_MIXING", "1") != "0":
        # QUICK: a mode-mixing study in minutes too
        quick_sizes = {"PAIRS": "5000", "NAT_UPDATES": "600", "TEACHER_UPDATES": "400"} if settings.quick else {}
        mode_mixing(out.parent / "synthetic-mode-mixing", {**quick_sizes, **env}, steps)
    print(f"teacher-size study done: {out} (complexity/complexity.png, complexity_vs_bleu.png)")


def mode_mixing(out: Path, env, steps: Steps) -> None:
    """The mode-mixing study (Zhou et al. 2020, sec. 3): AR teacher, vanilla NAT on the raw multi-target
    data and on the teacher's SeqKD data, and the mode-mixing rate of each on the test sources."""
    modes, seed = env.get("MODES") or "3", env.get("SEED") or "1"
    corpus, distilled = out / f"corpus-k{modes}", out / f"corpus-k{modes}.seqkd"
    out.mkdir(parents=True, exist_ok=True)
    steps.run(None, "seqkd-distill", "prepare", "synthetic", "--out", corpus, "--modes", modes,
              "--train-size", env.get("PAIRS") or "20000", "--word-entropy", "0.5", "--source-types", "200",
              "--vocab-size", "2000", "--seed", seed)
    steps.run(None, "seqkd-distill", "train-teacher", "--corpus", corpus, "--out", out / "teacher", "--preset", "tiny",
              "--size", "small", "--max-update", env.get("TEACHER_UPDATES") or "1500", "--seed", seed, "--no-eval")
    steps.run(None, "seqkd-distill", "regenerate", "--teacher", out / "teacher", "--corpus", corpus,
              "--out", distilled, "--method", "seqkd")
    for data, training_corpus in (("raw", corpus), ("seqkd", distilled)):
        steps.run(None, "seqkd-nat", "train", "--student", "nat", "--corpus", training_corpus, "--out",
                  out / f"nat-{data}", "--preset", "tiny", "--size", "small",
                  "--max-update", env.get("NAT_UPDATES") or "3000", "--seed", seed)
    for run in ("teacher", "nat-raw", "nat-seqkd"):
        steps.run(None, "seqkd-nat", "decode", "--run", out / run, "--corpus", corpus,
                  "--input", corpus / "raw" / "test.src", "--output", out / f"{run}.test.hyp")
    steps.run(None, "seqkd-analysis", "modes", "--corpus", corpus, "--hyp", f"AR teacher={out / 'teacher.test.hyp'}",
              "--hyp", f"NAT on raw data={out / 'nat-raw.test.hyp'}",
              "--hyp", f"NAT on SeqKD data={out / 'nat-seqkd.test.hyp'}", "--out", out)
    print(f"mode-mixing study done: {out / 'mode_mixing.json'}, {out / 'mode_mixing.png'}")


def run_mode_mixing(args) -> None:
    mode_mixing(Path(args.out), os.environ, Steps())


def run_mode_mixing_bible(args) -> None:
    """Mode mixing on real data (scripts/mode_mixing_bible.sh): bible-es-en with each verse's target drawn
    from WEB or KJV (K = 2), an AR teacher, its SeqKD corpus, the ctc student on raw and on distilled data,
    and the share of outputs that mix the two English styles ("thou hast" beside "you have")."""
    env, out = os.environ, Path(args.out)
    preset, seed = env.get("PRESET") or "cpu", env.get("SEED") or "1"
    corpus, distilled = out / "bible-es-en-multi", out / "bible-es-en-multi.seqkd"
    out.mkdir(parents=True, exist_ok=True)
    steps = Steps()
    steps.run(None, "seqkd-distill", "prepare", "bible-es-en", "--multi-target", "--out", corpus)
    steps.run(None, "seqkd-distill", "train-teacher", "--corpus", corpus, "--out", out / "teacher", "--preset", preset,
              "--seed", seed)
    steps.run(None, "seqkd-distill", "regenerate", "--teacher", out / "teacher", "--corpus", corpus, "--out", distilled,
              "--method", "seqkd")
    steps.run(None, "seqkd-nat", "compare", "--teacher", out / "teacher", "--raw", corpus, "--distilled", distilled,
              "--out", out / "students", "--students", "ctc", "--seeds", seed, "--preset", preset)
    # the two human translations themselves give the floor: how often a marker word of the other style
    # occurs in a text written in one style ("upon" is rare in WEB, not absent)
    steps.run(None, "seqkd-analysis", "modes", "--corpus", corpus,
              "--hyp", f"WEB reference={corpus / 'raw' / 'test.ref.web'}",
              "--hyp", f"KJV reference={corpus / 'raw' / 'test.ref.kjv'}",
              "--compare", out / "students" / "compare.json",
              "--marker-posterior", "0.95", "--min-count", "20", "--mode-name", "0=WEB", "--mode-name", "1=KJV",
              "--out", out)
    print(f"real-data mode-mixing study done: {out / 'mode_mixing.json'}, {out / 'mode_mixing.png'}")


def run_which_distillation(args) -> None:
    """The headline student on the SeqKD, Seq-Inter and ensemble corpora (scripts/which_distillation.sh)."""
    env = os.environ
    settings = Settings.from_environment()
    settings.limit_threads()
    layout = settings.layout
    student, seeds, nbest = env.get("STUDENT") or "ctc", env.get("SEEDS") or "1", env.get("NBEST") or "5"
    out = layout.report / "which-distillation"
    runs = layout.runs / f"which-distillation-{layout.preset}"
    out.mkdir(parents=True, exist_ok=True)
    runs.mkdir(parents=True, exist_ok=True)
    corpora = (env.get("CORPORA") or "seq-inter,ensemble").split(",")
    steps = Steps()
    distilled = ["--distilled", layout.distilled]  # the main job's SeqKD corpus, named `distilled`
    if "seq-inter" in corpora:
        steps.run(None, "seqkd-distill", "regenerate", "--teacher", layout.teacher, "--corpus", layout.corpus,
                  "--out", layout.distilled_by("seq-inter"), "--method", "seq-inter", "--nbest", nbest,
                  *settings.device_arguments)
        distilled += ["--distilled", f"seq-inter={layout.distilled_by('seq-inter')}"]
    if "ensemble" in corpora:
        second = Path(env.get("TEACHER2") or f"{layout.teacher}-seed2")
        if (second / "manifest.json").is_file():  # a finished second teacher is used as it is, wherever it was trained
            print(f"{second}: trained; using it")
        else:
            steps.run(None, "seqkd-distill", "train-teacher", "--corpus", layout.corpus, "--out", second,
                      "--preset", layout.preset, "--seed", "2", *settings.device_arguments)
        steps.run(None, "seqkd-distill", "regenerate", "--teacher", layout.teacher, "--teacher", second,
                  "--corpus", layout.corpus, "--out", layout.distilled_by("ensemble"), "--method", "seqkd",
                  *settings.device_arguments)
        distilled += ["--distilled", f"ensemble={layout.distilled_by('ensemble')}"]
    link_main_runs(layout, runs, student, [int(seed) for seed in seeds.split(",")])
    steps.run(None, "seqkd-nat", "compare", "--teacher", layout.teacher, "--raw", layout.corpus, *distilled,
              "--out", runs, "--preset", layout.preset, "--students", student, "--seeds", seeds,
              "--parallel-runs", settings.parallel_runs, *settings.device_arguments)
    for name in ("compare.md", "compare.json", "curves.png"):
        (out / name).write_bytes((runs / name).read_bytes())
    print(f"which distillation: {out / 'compare.md'}")


def link_main_runs(layout: Layout, runs: Path, student: str, seeds: list[int]) -> None:
    """Link the main job's raw and distilled runs of ``student`` (those it made) into a study's ``runs``, so the
    study's comparison reuses them rather than training them again."""
    for seed in seeds:
        for data in ("raw", "distilled"):
            run = layout.student_run(student, data, seed)
            if run.is_dir() and not (runs / run.name).exists():
                (runs / run.name).symlink_to(run.resolve())


@dataclass
class KeptState:
    """A job's state kept in a store (:mod:`distill.state`) that outlives the machine: ``store`` (None: not kept),
    ``root``: the directory that holds the job's DATA, RUNS and RESULTS."""

    store: Path | None
    root: Path

    @classmethod
    def from_environment(cls, settings: Settings, env) -> KeptState:
        """STUDY_STATE names the store; DATA, RUNS and RESULTS must then lie under one directory, the root."""
        if not env.get("STUDY_STATE"):
            return cls(None, Path("/"))
        layout = settings.layout
        root = Path(os.path.commonpath([p.resolve() for p in (layout.data, layout.runs, layout.results)]))
        if root == Path(root.anchor):
            raise InputError(f"STUDY_STATE: DATA ({layout.data}), RUNS ({layout.runs}) and RESULTS ({layout.results}) "
                             "share no directory to keep as the state root; put them under one")
        return cls(Path(env["STUDY_STATE"]).resolve(), root)

    def restore(self) -> None:
        """What the store holds and the root lacks, put back (a derived corpus once its base is prepared)."""
        if self.store is None or not (self.store / "index.json").is_file():
            return
        from distill.state import restore

        restore(self.store, self.root).print(f"== state restored from {self.store}", "restored")

    def save(self) -> None:
        """The store brought up to date with the root."""
        if self.store is None:
            return
        from distill.state import save

        save(self.root, self.store).print(f"== state saved to {self.store}", "saved")

    def start_over(self, run: Path, why: str) -> None:
        """A finished run deleted, here and in the store, to be trained again (``why``: for what)."""
        import shutil

        if self.store is not None:
            from distill.state import forget

            forget(self.store, self.root, run)
        shutil.rmtree(run)
        print(f"note: {run}: kept without its checkpoint, which {why} needs; trained again", flush=True)


def _made(corpus: Path) -> bool:
    return (corpus / "manifest.json").is_file()


def _without_checkpoint(run: Path) -> bool:
    """A finished run whose checkpoint is gone (restored from a kept state); False for a run not trained yet."""
    from distill.state import has_checkpoint

    return (run / "manifest.json").is_file() and not has_checkpoint(run)


def teacher_and_seqkd(layout: Layout, prepare: tuple | None, settings: Settings, steps: Steps,
                      kept: KeptState | None = None) -> None:
    """A study's corpus (``prepare``: its command, None when given prepared), its teacher and its SeqKD corpus,
    as the main job makes them: each skipped when made. A teacher kept without its checkpoint (``kept``) is
    trained again when its SeqKD corpus is not made yet: nothing else has been made from it."""
    if prepare:
        steps.run(None, "seqkd-distill", *prepare, "--out", layout.corpus)
    if kept and not _made(layout.distilled) and _without_checkpoint(layout.teacher):
        kept.start_over(layout.teacher, f"the SeqKD corpus {layout.distilled}")
    steps.run(None, "seqkd-distill", "train-teacher", "--corpus", layout.corpus, "--out", layout.teacher,
              "--preset", layout.preset, *settings.device_arguments, *settings.precision_arguments)
    steps.run(None, "seqkd-distill", "regenerate", "--teacher", layout.teacher, "--corpus", layout.corpus,
              "--out", layout.distilled, "--method", "seqkd", *settings.regeneration, *settings.device_arguments)


def run_nat_diagnosis(args) -> None:
    """Vanilla NAT's configurations on raw and distilled data, with learning curves, BLEU at the predicted and at
    the oracle length, and repetition (scripts/nat_diagnosis.sh)."""
    from contextlib import ExitStack

    from analysis.nat_diagnosis import nat_diagnosis, nat_variants, oracle_evaluation
    from analysis.render import write_result
    from distill.io import read_json
    from nat.compare import student_run_dir
    from nat.registry import registered, student_names

    env = os.environ
    settings = Settings.from_environment()
    settings.limit_threads()
    layout = settings.layout
    known = nat_variants()
    variants = [name.strip() for name in (env.get("VARIANTS") or ",".join(known)).split(",") if name.strip()]
    unknown = [name for name in variants if name not in known]
    if unknown:
        raise InputError(f"VARIANTS: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    seeds = env.get("SEEDS") or "1"
    out, runs = layout.report / "nat-diagnosis", layout.runs / f"nat-diagnosis-{layout.preset}"
    out.mkdir(parents=True, exist_ok=True)
    runs.mkdir(parents=True, exist_ok=True)
    steps = Steps()
    teacher_and_seqkd(layout, settings.prepare, settings, steps)  # the main job's (skipped when it made them)
    link_main_runs(layout, runs, "nat", [int(seed) for seed in seeds.split(",")])
    with ExitStack() as stack:
        for name in variants:
            if name not in student_names():
                stack.enter_context(registered(known[name]))
        steps.run(None, "seqkd-nat", "compare", "--teacher", layout.teacher, "--raw", layout.corpus,
                  "--distilled", layout.distilled, "--out", runs, "--preset", layout.preset,
                  "--students", ",".join(variants), "--seeds", seeds, "--other-seeds", seeds,
                  "--parallel-runs", settings.parallel_runs, *settings.device_arguments,
                  *settings.precision_arguments)
        oracle = {}
        for name in variants:
            for data in ("raw", "distilled"):
                for seed in map(int, seeds.split(",")):
                    run = student_run_dir(runs, name, data, seed)
                    path = oracle_evaluation(run)
                    if not path.is_file():
                        steps.run(None, "seqkd-nat", "evaluate", "--run", run, "--corpus", layout.corpus,
                                  "--oracle-length", "--out", path, *settings.device_arguments)
                    oracle[name, data, seed] = path
    write_result(out / "nat_diagnosis.json", nat_diagnosis(read_json(runs / "compare.json"), oracle))
    for name in ("compare.md", "compare.json", "curves.png"):
        (out / name).write_bytes((runs / name).read_bytes())
    print(f"nat diagnosis: {out / 'nat_diagnosis.md'}, {out / 'compare.md'}, {out / 'curves.png'}")


# the study's second corpus (issue 33): bible-es-en with each verse's target drawn from WEB or KJV
MULTI_TARGET = ("bible-es-en-multi", ("prepare", "bible-es-en", "--multi-target"), "WEB or KJV per verse")
MULTI_TARGET_MODES = ("--marker-posterior", "0.95", "--min-count", "20", "--mode-name", "0=WEB", "--mode-name", "1=KJV")


def study_layouts(settings: Settings, env) -> list[tuple[Layout, tuple | None, str]]:
    """The study's corpora: (layout, its prepare command or None, what its target side is). The first is the
    main job's corpus, whose teacher, SeqKD corpus and runs the study shares; the second, where the main corpus
    is bible-es-en and SECOND_CORPUS is not 0, its multi-target variant, with its runs under RUNS/<its name>/."""
    main = settings.layout
    layouts = [(main, settings.prepare, "one translation (WEB)" if settings.prepare == BIBLE_PREPARE
                else "as prepared")]
    if settings.prepare == BIBLE_PREPARE and env.get("SECOND_CORPUS", "1") != "0":
        name, prepare, description = MULTI_TARGET
        layouts.append((Layout(main.data, main.runs / name, main.results, main.data / name, main.preset), prepare,
                        description))
    return layouts


def study_runs(layout: Layout, group) -> Path:
    """Where the study keeps one student group's runs and comparison on one corpus."""
    return layout.runs / f"study-{layout.preset}" / group.key


# the study's further distilled corpora for its ctc groups (issue 33 items 2-4): the teacher's SeqKD with its length
# penalty tuned on valid, diverse distillation with reference selection over three teachers' targets, the ensemble
# of the same three teachers, held-out-fold distillation
EXTRA_CORPORA = ("lenpen", "diverse", "ensemble", "heldout")
DIVERSE_TEACHERS = 3


def extra_corpora(layout: Layout, which: list[str], settings: Settings, steps: Steps, out: Path,
                  kept: KeptState) -> dict[str, Path]:
    """Make (or skip, when made) the further distilled corpora ``which`` of one corpus: {name: directory};
    ``out``: the study's result directory (the length-penalty tuning goes there). Where the kept state lost a
    checkpoint that a corpus not made yet needs: a further teacher (diverse, held-out) is trained again; the
    study's own teacher is not (what was made from it would no longer be its), so the length-penalty corpus and
    the ensemble, which need it, are left out, and the run says so."""
    from distill.heldout import fold_teachers_to_retrain
    from distill.io import read_json

    made = {}
    if "lenpen" in which:
        # the length penalty tuned on valid; at 1 its corpus would be the SeqKD corpus again, so none is made
        tuning = out / layout.corpus.name / "lenpen"
        lenpen = layout.distilled_by("seqkd-lenpen")
        needed = not (tuning / "lenpen.json").is_file() or (
            read_json(tuning / "lenpen.json")["chosen"] != 1.0 and not _made(lenpen))
        if needed and _without_checkpoint(layout.teacher):
            print(f"note: {layout.corpus.name}: the tuned length penalty's corpus is left out: the teacher "
                  f"{layout.teacher} was kept without its checkpoint before it was made", flush=True)
        else:
            if not (tuning / "lenpen.json").is_file():
                steps.run(None, "seqkd-distill", "tune-lenpen", "--teacher", layout.teacher, "--corpus",
                          layout.corpus, *settings.regeneration, *settings.device_arguments, "--out", tuning)
            chosen = read_json(tuning / "lenpen.json")["chosen"]
            if chosen != 1.0:
                made["lenpen"] = lenpen
                steps.run(None, "seqkd-distill", "regenerate", "--teacher", layout.teacher, "--corpus",
                          layout.corpus, "--out", lenpen, "--method", "seqkd", "--lenpen", f"{chosen:g}",
                          *settings.regeneration, *settings.device_arguments)
            else:
                print(f"{layout.corpus.name}: the length penalty tuned on valid is 1 ({tuning / 'lenpen.md'}); the "
                      "SeqKD corpus already has it", flush=True)
    if "diverse" in which or "ensemble" in which:
        teachers = [layout.teacher] + [Path(f"{layout.teacher}-seed{seed}") for seed in range(2, DIVERSE_TEACHERS + 1)]
        members = [layout.distilled]
        for seed, teacher in enumerate(teachers[1:], start=2):
            if not _made(layout.distilled_by(f"seqkd-seed{seed}")) and _without_checkpoint(teacher):
                kept.start_over(teacher, f"its SeqKD corpus {layout.distilled_by(f'seqkd-seed{seed}')}")
            steps.run(None, "seqkd-distill", "train-teacher", "--corpus", layout.corpus, "--out", teacher,
                      "--preset", layout.preset, "--seed", seed, *settings.device_arguments,
                      *settings.precision_arguments)
            members.append(layout.distilled_by(f"seqkd-seed{seed}"))
            steps.run(None, "seqkd-distill", "regenerate", "--teacher", teacher, "--corpus", layout.corpus,
                      "--out", members[-1], "--method", "seqkd", *settings.regeneration, *settings.device_arguments)
        if "diverse" in which:
            made["diverse"] = layout.distilled_by("diverse")
            steps.run(None, "seqkd-distill", "diverse", *(f"--distilled={m}" for m in members), "--out",
                      made["diverse"])
        ensemble = layout.distilled_by(f"ensemble-{DIVERSE_TEACHERS}")
        if "ensemble" in which and not _made(ensemble) and _without_checkpoint(layout.teacher):
            print(f"note: {layout.corpus.name}: the ensemble's corpus is left out: it needs the three teachers at "
                  f"once, and {layout.teacher} was kept without its checkpoint", flush=True)
        elif "ensemble" in which:
            made["ensemble"] = ensemble
            steps.run(None, "seqkd-distill", "regenerate", *(f"--teacher={t}" for t in teachers), "--corpus",
                      layout.corpus, "--out", made["ensemble"], "--method", "seqkd", *settings.device_arguments)
    if "heldout" in which:
        made["heldout"] = layout.distilled_by("heldout")
        for teacher in fold_teachers_to_retrain(made["heldout"]):
            kept.start_over(teacher, f"the held-out corpus {made['heldout']}")
        steps.run(None, "seqkd-distill", "heldout", "--corpus", layout.corpus, "--out", made["heldout"],
                  "--preset", layout.preset, *settings.regeneration, *settings.device_arguments,
                  *settings.precision_arguments)
    return made


def comma_names(variable: str, value: str, known) -> list[str]:
    """The names of a comma-separated environment setting, each one of ``known``, else a one-line error."""
    names = [name for name in value.split(",") if name]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise InputError(f"{variable}: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    return names


# beside an analysis's result: what it was made from (analysed_outputs)
ANALYSED_INPUTS = "inputs.json"


def analysed_outputs(compare: dict) -> dict:
    """What an analysis of a comparison reads, by content: its two corpora's identities and every system's test
    outputs' sha256, keyed ``system data seed decoding``."""
    from distill.io import read_json, sha256_file

    return {"raw": read_json(Path(compare["raw"]) / "manifest.json")["config_hash"],
            "distilled": read_json(Path(compare["distilled"]) / "manifest.json")["config_hash"],
            "outputs": {f"{r['system']} {r['data']} {r['seed']} {r['decoding']}": sha256_file(r["hypotheses"])
                        for r in compare["results"] if r.get("hypotheses")}}


def analysed(out: Path, result: str, outputs: dict) -> bool:
    """Whether ``out`` holds an analysis ``result`` made from ``outputs`` (:func:`analysed_outputs`): the study
    makes one again only when a round adds or changes outputs, since an analysis that aligns with eflomal
    (lost-words) gives other numbers every time it runs (eflomal takes no seed)."""
    from distill.io import read_json

    inputs = out / ANALYSED_INPUTS
    return (out / result).is_file() and inputs.is_file() and read_json(inputs) == outputs


def study_groups(env) -> list:
    """The study's student groups that STUDY_GROUPS names (comma-separated keys, e.g. ``ctc-small``), in the
    study's order; all of them when it is unset or empty. (Not ``GROUPS``: bash keeps that name for the user's
    group ids, ignores assignments to it and never exports it.)"""
    from analysis.study import STUDY_GROUPS

    asked = comma_names("STUDY_GROUPS", env.get("STUDY_GROUPS") or "", [group.key for group in STUDY_GROUPS])
    return [group for group in STUDY_GROUPS if not asked or group.key in asked]


def run_study(args) -> None:
    """When distillation helps: ctc tiny and small, nat and ar small, raw vs distilled, on two corpora, seeds
    1-3, with diverse, ensemble and held-out-fold corpora for ctc, the corpus measures and the headline figure
    (scripts/distillation_study.sh)."""
    from analysis.render import write_result
    from analysis.study import CorpusInputs, DistilledInputs, plot_study, study_result
    from distill.corpus.directory import Corpus
    from distill.io import read_json, write_json
    from distill.scoring import length_ratio
    from nat.compare import DISTILLED
    from nat.students import PRESETS as STUDENT_PRESETS

    env = os.environ
    settings = Settings.from_environment()
    settings.limit_threads()
    seeds = [int(seed) for seed in (env.get("SEEDS") or "1,2,3").split(",")]
    groups = study_groups(env)
    extras = comma_names("EXTRA_CORPORA", env.get("EXTRA_CORPORA", ",".join(EXTRA_CORPORA)), EXTRA_CORPORA)
    extra_groups = (env.get("EXTRA_GROUPS") or "ctc-small").split(",")
    own_size = STUDENT_PRESETS[settings.layout.preset]["size"]  # the preset's students: no --size
    out = settings.layout.report / "study"
    out.mkdir(parents=True, exist_ok=True)
    layouts = study_layouts(settings, env)
    kept = KeptState.from_environment(settings, env)
    steps = Steps(after=kept.save)
    ready = set()

    def prepared(layout: Layout, prepare) -> None:
        """A corpus, its teacher and its SeqKD corpus, made (or skipped) when the study first needs them, so the
        first corpus's cells train before the second corpus's teacher; what the kept state made from the corpus is
        put back as soon as it is prepared."""
        if layout.corpus not in ready:
            if prepare:
                steps.run(None, "seqkd-distill", *prepare, "--out", layout.corpus)
            kept.restore()
            teacher_and_seqkd(layout, None, settings, steps, kept)
            if "lenpen" in extras:  # now, while the teacher's checkpoint is here (a kept state loses it)
                extra_corpora(layout, ["lenpen"], settings, steps, out, kept)
            ready.add(layout.corpus)

    # every cell's first seed before any cell's second, so the figure fills in evenly as the study goes; the
    # further corpora (three more teachers per corpus) come after the first seed of the SeqKD cells
    made, latest = {}, {}
    rounds = [(1, False)] + [(count, True) for count in range(1, len(seeds) + 1)] if extras else \
        [(count, False) for count in range(1, len(seeds) + 1)]
    for count, with_extras in rounds:
        round_seeds = ",".join(map(str, seeds[:count]))
        corpora = []
        for layout, prepare, description in layouts:
            prepared(layout, prepare)
            if with_extras and layout.corpus not in made:
                made[layout.corpus] = extra_corpora(layout, extras, settings, steps, out, kept)
            comparisons, lost, modes = {}, {}, {}
            for group in groups:
                runs = study_runs(layout, group)
                runs.mkdir(parents=True, exist_ok=True)
                if group.size == own_size:  # the main job's runs of this student, where it made them, are reused
                    link_main_runs(layout, runs, group.student, seeds[:count])
                size = [] if group.size == own_size else ["--size", group.size]
                further = made.get(layout.corpus, {}) if group.key in extra_groups else {}
                steps.run(None, "seqkd-nat", "compare", "--teacher", layout.teacher, "--raw", layout.corpus,
                          "--distilled", layout.distilled, *(f"--distilled={n}={p}" for n, p in further.items()),
                          "--out", runs, "--preset", layout.preset, "--students", group.student,
                          "--seeds", round_seeds, *size, "--parallel-runs", settings.parallel_runs,
                          *settings.device_arguments, *settings.precision_arguments)
                comparisons[group] = read_json(runs / "compare.json")
                analyses = out / layout.corpus.name / group.key
                outputs = analysed_outputs(comparisons[group])
                if not analysed(analyses / "lost-words", "lost_words.json", outputs):
                    steps.run(None, "seqkd-analysis", "lost-words", "--compare", runs / "compare.json",
                              "--out", analyses / "lost-words")
                    write_json(analyses / "lost-words" / ANALYSED_INPUTS, outputs)
                lost[group] = read_json(analyses / "lost-words" / "lost_words.json")
                if (layout.corpus / "raw" / "train.mode").is_file():
                    steps.run(None, "seqkd-analysis", "modes", "--corpus", layout.corpus, "--compare",
                              runs / "compare.json", *MULTI_TARGET_MODES, "--out", analyses / "modes")
                    modes[group] = read_json(analyses / "modes" / "mode_mixing.json")
            distilled, raw_complexity = {}, None
            for data, path in {DISTILLED: layout.distilled, **made.get(layout.corpus, {})}.items():
                complexity = out / layout.corpus.name / "complexity" / data
                if not (complexity / "complexity.json").is_file():  # C(d) of raw and of this distilled corpus
                    steps.run(None, "seqkd-analysis", "complexity", "--corpus", layout.corpus, "--corpus", path,
                              "--out", complexity)
                raw_complexity, record = read_json(complexity / "complexity.json")["corpora"]
                corpus = Corpus.open(path)
                distilled[data] = DistilledInputs(corpus.manifest, record, length_ratio(
                    corpus.lines("train", "tgt"), corpus.lines("train", "orig")))
            tuning = out / layout.corpus.name / "lenpen" / "lenpen.json"
            corpora.append(CorpusInputs(name=layout.corpus.name, description=description, comparisons=comparisons,
                                        raw_complexity=raw_complexity, distilled=distilled, lost_words=lost,
                                        mode_mixing=modes, lenpen=read_json(tuning) if tuning.is_file() else None))
            # written after every corpus of every round, with each corpus's latest measures: what has been
            # measured so far is always readable
            latest[layout.corpus] = corpora[-1]
            result = study_result(list(latest.values()))
            result["figures"] = plot_study(result, out)
            write_result(out / "study.json", result)
            kept.save()
            print(f"study, seeds {round_seeds}, {layout.corpus.name}: {out / 'study.md'}, {out / 'study.png'}",
                  flush=True)


def run_compression(args) -> None:
    """Kim & Rush's and Shleifer & Rush's compression tables for an AR student (scripts/compression_tables.sh).

    A teacher deeper than the student (TEACHER_LAYERS, encoder,decoder), its SeqKD and Seq-Inter regenerations,
    and the student (the teacher's encoder depth, STUDENT_DECODER_LAYERS decoder layers) trained by every method of
    :data:`analysis.compression.METHODS` for each seed, each evaluated greedily and with beam 5 on the test set;
    word-level KD's alpha chosen among KD_ALPHAS by seed 1's greedy valid BLEU. Writes
    RESULTS/<name>/compression/{compression.json,compression.md,compression.png}; every step resumes."""
    from analysis.compression import BEAMS, DISTILLED_DATA, METHODS, compression_result, markdown, plot, run_dir
    from distill.corpus.directory import Corpus
    from distill.io import read_json, write_json

    env = os.environ
    settings = Settings.from_environment()
    settings.limit_threads()
    layout = settings.layout
    encoder, decoder = (int(value) for value in (env.get("TEACHER_LAYERS") or "4,4").split(","))
    student_decoder = int(env.get("STUDENT_DECODER_LAYERS") or "1")
    alphas = [float(value) for value in (env.get("KD_ALPHAS") or "0.5,0.9").split(",")]
    seeds = [int(seed) for seed in settings.seeds.split(",")]
    if student_decoder >= decoder:
        raise InputError(f"STUDENT_DECODER_LAYERS={student_decoder}: a student shallower than the teacher's "
                         f"{decoder} decoder layers, or there is nothing to compress")
    tag = f"e{encoder}d{decoder}"
    runs, out = layout.runs / f"compression-{layout.preset}-{tag}", layout.report / "compression"
    out.mkdir(parents=True, exist_ok=True)
    # no time cap: a run's length is its updates on any machine, so its cost is measured, not truncated
    common = ["--preset", layout.preset, "--stop-time-hours", "0", "--no-eval", *settings.device_arguments,
              *settings.precision_arguments]
    steps = Steps()
    corpus = layout.corpus

    def evaluate(run: Path, beam: int, split: str = "test") -> dict:
        from distill.scoring import evaluation_files
        from distill.teacher import teacher_evaluation_stem

        _, scores = evaluation_files(run / "eval", teacher_evaluation_stem(prepared, split, beam))
        if not scores.is_file():
            steps.run(None, "seqkd-distill", "evaluate", "--run", run, "--corpus", corpus, "--split", split,
                      "--beam", beam, *settings.device_arguments)
        return read_json(scores)

    if settings.prepare:
        steps.run("prepare", "seqkd-distill", *settings.prepare, "--out", corpus)
    prepared = Corpus.open(corpus)
    teacher = runs / f"teacher-{tag}"
    steps.run("teacher", "seqkd-distill", "train-teacher", "--corpus", corpus, "--out", teacher, *common,
              "--encoder-layers", encoder, "--decoder-layers", decoder,
              *(["--max-update", env["TEACHER_UPDATES"]] if env.get("TEACHER_UPDATES") else []))
    for beam in BEAMS:
        evaluate(teacher, beam)
    distilled = {data: layout.distilled_by(f"{data}-{tag}") for data in DISTILLED_DATA}
    for data, path in distilled.items():
        steps.run(f"regenerate {data}", "seqkd-distill", "regenerate", "--teacher", teacher, "--corpus", corpus,
                  "--out", path, "--method", data, *settings.regeneration, *settings.device_arguments)
    corpora = {"raw": corpus, **distilled}

    def train(each, seed: int, alpha: float) -> Path:
        run = run_dir(runs, each, seed, alpha)
        steps.run(f"{each.key} seed {seed}", "seqkd-distill", "train-teacher", "--corpus", corpora[each.data],
                  "--out", run, *common, "--seed", seed, "--encoder-layers", encoder,
                  "--decoder-layers", student_decoder,
                  *(["--max-update", env["STUDENT_UPDATES"]] if env.get("STUDENT_UPDATES") else []),
                  *(["--word-kd-teacher", teacher, "--kd-alpha", alpha] if each.word_kd else []),
                  *(["--shrink-from", teacher] if each.shrink else []))
        return run

    word_kd = next(each for each in METHODS if each.word_kd and each.data == "raw")
    valid = {}
    for alpha in alphas:  # chosen on seed 1's greedy valid BLEU, then used for every seed and for Word-KD + SeqKD
        scores = evaluate(train(word_kd, seeds[0], alpha), 1, "valid")["scores"]
        valid[f"{alpha:g}"] = next(iter(scores.values()))["bleu"]
    alpha = max(alphas, key=lambda value: (valid[f"{value:g}"], -value))  # ties: the smaller alpha
    for seed in seeds:
        for each in METHODS:
            run = train(each, seed, alpha)
            for beam in BEAMS:
                evaluate(run, beam)
    result = compression_result(runs, corpus, distilled, teacher, seeds, alpha, valid if len(alphas) > 1 else None)
    result["figure"] = plot(result, out)
    write_json(out / "compression.json", result)
    (out / "compression.md").write_text(markdown(result, result["figure"]), encoding="utf-8")
    steps.write(out)
    print(f"compression tables done: {out / 'compression.md'}", flush=True)


COMMANDS = {"main": run_main, "teacher-sizes": run_teacher_sizes, "which-distillation": run_which_distillation,
            "mode-mixing": run_mode_mixing, "mode-mixing-bible": run_mode_mixing_bible,
            "nat-diagnosis": run_nat_diagnosis, "study": run_study, "compression": run_compression}
OUT_DEFAULTS = {"mode-mixing": "results/mode-mixing", "mode-mixing-bible": "results/mode-mixing-bible"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkd-reproduce", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, function in COMMANDS.items():
        study = commands.add_parser(name, help=function.__doc__.splitlines()[0] if function.__doc__ else None)
        if name in OUT_DEFAULTS:
            study.add_argument("out", nargs="?", default=OUT_DEFAULTS[name],
                               help="where corpora, runs and figures go (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from distill.io import dispatch

    return dispatch(build_parser(), COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
