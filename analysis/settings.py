"""The main job's settings and where every stage keeps its outputs: :class:`Settings` (from the environment,
scripts/reproduce_nat_distillation.sh --help) and its :class:`Layout`. Read by the jobs (:mod:`analysis.jobs`)
and by the benchmark, which finds the main job's runs through the same layout."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from distill.io import InputError

# QUICK=1: Zhou et al. (2020)'s multi-target corpus, 3 target "languages", no other ambiguity
QUICK_PREPARE = ("prepare", "synthetic", "--modes", "3", "--word-entropy", "0", "--source-types", "100",
                 "--train-size", "10000", "--vocab-size", "1000")
BIBLE_PREPARE = ("prepare", "bible-es-en")
QUICK_REGENERATION = ("--backend", "ctranslate2", "--compute-type", "int8")
QUICK_THREADS = 1


@dataclass(frozen=True)
class Layout:
    """Where every stage of the main job and of the studies keeps its outputs (one rule per path).

    ``data``, ``runs``, ``results``: the output roots (DATA, RUNS, RESULTS); ``corpus``: the prepared raw
    corpus; ``preset``: the teacher's and the students' preset, which names the runs.
    """

    data: Path
    runs: Path
    results: Path
    corpus: Path
    preset: str

    @property
    def name(self) -> str:
        """The report's name: ``<corpus>-<preset>``."""
        return f"{self.corpus.name}-{self.preset}"

    @property
    def teacher(self) -> Path:
        return self.runs / f"teacher-{self.preset}"

    @property
    def distilled(self) -> Path:
        """The teacher's SeqKD corpus, beside the raw one."""
        return Path(f"{self.corpus}.seqkd")

    def distilled_by(self, method: str) -> Path:
        """Another regeneration of the raw corpus (seq-inter, ensemble, seqkd-<teacher size>)."""
        return Path(f"{self.corpus}.{method}")

    @property
    def students(self) -> Path:
        """``seqkd-nat compare``'s directory: the student runs and compare.json."""
        return self.runs / f"students-{self.preset}"

    def student_run(self, student: str, data: str, seed: int) -> Path:
        from nat.compare import student_run_dir

        return student_run_dir(self.students, student, data, seed)

    @property
    def report(self) -> Path:
        """The main job's report directory; the studies write beside its files."""
        return self.results / self.name


@dataclass(frozen=True)
class Settings:
    """The main job's settings, from the environment (scripts/reproduce_nat_distillation.sh --help)."""

    quick: bool
    layout: Layout
    students: str
    seeds: str
    other_seeds: str
    parallel_runs: str
    device: str | None
    precision: str | None
    prepare: tuple | None  # None: CORPUS was given, already prepared
    regeneration: tuple
    threads: int | None  # CPU threads of every training and decoding (None: the machine's; QUICK: 1)

    @classmethod
    def from_environment(cls, env=os.environ) -> Settings:
        from distill.teacher import PRESETS as TEACHER_PRESETS
        from nat.students import DEFAULT_STUDENTS
        from nat.students import PRESETS as STUDENT_PRESETS

        quick = env.get("QUICK", "0") == "1"
        preset = "quick" if quick else env.get("PRESET") or "cpu"
        # the teachers and the students train under the same preset: only the presets both have (the teachers'
        # `big` has no student preset, so it is refused here, before any teacher trains)
        presets = sorted(set(TEACHER_PRESETS) & set(STUDENT_PRESETS))
        if preset not in presets:
            raise InputError(f"PRESET={preset}: choose one of {', '.join(presets)} (the presets that both the teacher "
                             "and the students have)")
        data, runs, results = (Path(env.get(name) or name.lower()) for name in ("DATA", "RUNS", "RESULTS"))
        corpus = Path(env["CORPUS"]) if env.get("CORPUS") else data / ("synthetic-k3" if quick else "bible-es-en")
        return cls(quick=quick, layout=Layout(data, runs, results, corpus, preset),
                   students=env.get("STUDENTS") or ",".join(DEFAULT_STUDENTS),
                   seeds=env.get("SEEDS") or ("1" if quick else "1,2,3"),
                   other_seeds=env.get("OTHER_SEEDS") or "1",
                   # a student's raw and distilled runs side by side, one CPU thread each (docs/design.md);
                   # one at a time on a GPU
                   parallel_runs=env.get("PARALLEL_RUNS") or ("1" if preset == "base" else "2"),
                   device=env.get("DEVICE") or None, precision=env.get("PRECISION") or None,
                   prepare=None if env.get("CORPUS") else (QUICK_PREPARE if quick else BIBLE_PREPARE),
                   regeneration=QUICK_REGENERATION if quick else (),
                   threads=int(env["THREADS"]) if env.get("THREADS") else (QUICK_THREADS if quick else None))

    def limit_threads(self) -> None:
        """Hold this process (its in-process steps) and the fairseq processes it starts to ``threads`` CPU
        threads: float sums depend on how a product is split among threads, so QUICK's numbers, checked exactly
        by ``make test``, are the same on a 2-core laptop, a 64-core server and a test worker pinned to one core
        (measured: the QUICK teacher's test BLEU is 30.16 on two threads, 29.02 on one)."""
        if self.threads:
            import torch

            os.environ["OMP_NUM_THREADS"] = str(self.threads)  # read by the fairseq processes, and by cpu_threads
            torch.set_num_threads(self.threads)

    @property
    def device_arguments(self) -> list[str]:
        return ["--device", self.device] if self.device else []

    @property
    def precision_arguments(self) -> list[str]:
        """The trainings' arithmetic; unset: each run's default (distill/precision.py)."""
        return ["--precision", self.precision] if self.precision else []
