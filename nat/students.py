"""Training the students, each with one call on a raw or distilled corpus.

The kinds of student (ctc, ctc-glat, nat, nat-glat, cmlm, duration, ar) and what makes each are
in :mod:`nat.registry`. Model sizes are the teacher's (:data:`distill.teacher.MODEL_SIZES`);
presets are schedules, with per-kind departures where a kind's learning curve asks for them
(``StudentKind.schedules``).
"""
from __future__ import annotations

from pathlib import Path

from distill.corpus.directory import Corpus
from distill.engine import RunConfig, train_run
from distill.io import InputError
from distill.precision import choose_precision
from distill.teacher import MODEL_SIZES, default_device, preset_precision, shared_training_arguments
from nat import USER_DIR
from nat.registry import student_kind

DEFAULT_STUDENTS = ("ctc", "ctc-glat", "ar")  # the main job's table; the first is the headline student

PRESETS = {
    # fp32: bf16 gains little for tiny models (distill.teacher.PRESETS). No epoch saves: the test fixtures' epochs
    # are two updates, and saving and validating at each of them took a quarter of a run's time. 200 updates: every
    # kind's training loss on the fixture is level from 150-200 on, and each keeps its test's BLEU floor
    # (tests/test_students.py: ar, dat, nat 100, ctc 99.4, duration 83.8 at 200)
    "tiny": {"size": "tiny", "lr": 3e-3, "warmup_updates": 50, "max_tokens": 2048, "max_update": 200,
             "dropout": 0.0, "save_interval_updates": 100, "stop_time_hours": 0, "precision": "fp32",
             "epoch_saves": False},
    # 300 updates: at 300 the valid curves of the 400-update runs said what they said at 400 (ctc gains most from
    # distillation, ctc-glat and ar nothing) in three quarters of the time (docs/design.md, "The time `make test`
    # takes")
    "quick": {"size": "tiny", "lr": 3e-3, "warmup_updates": 100, "max_tokens": 4096, "max_update": 300,
              "dropout": 0.0, "save_interval_updates": 100, "stop_time_hours": 0, "precision": "fp32"},
    # a fixed number of updates, so runs are reproducible; checkpoints every 200 updates are
    # the points of the learning curves
    "cpu": {"size": "small", "lr": 2e-3, "warmup_updates": 300, "max_tokens": 4096, "max_update": 1000,
            "dropout": 0.1, "save_interval_updates": 200, "stop_time_hours": 0},
    "base": {"size": "base", "lr": 5e-4, "warmup_updates": 10000, "max_tokens": 16384, "max_update": 300000,
             "dropout": 0.3, "save_interval_updates": 2000, "stop_time_hours": 0, "fp16": True, "epoch_saves": False},
}


def student_arguments(student: str, durations_dir: str | None, max_update: int) -> list:
    """The fairseq arguments that make each student (part of the run's config hash)."""
    return student_kind(student).arguments(durations_dir, max_update)


def corpus_arguments(student: str, corpus: Corpus, max_update: int) -> list:
    """What a corpus adds to a student's arguments: a diverse-distillation corpus (further targets per source,
    ``seqkd-distill diverse``) trains a ``ctc`` student with reference selection over all of them (Shao et al.
    2022), annealed over the run; other kinds have no use for it (refused, one line)."""
    extra = corpus.extra_target_dirs
    if not extra:
        return []
    kind = student_kind(student)
    if not kind.ctc or getattr(kind, "glancing", False):
        raise InputError(f"{corpus.path}: {len(extra) + 1} targets per source (diverse distillation), which "
                         f"ctc students select among; a {student} student learns from one of its member corpora")
    return ["--task", "translation_multi_reference", "--extra-targets", ",".join(str(d.resolve()) for d in extra),
            "--reference-selection-updates", max_update]


def train_student(student: str, corpus_dir, run_dir, *, preset: str = "cpu", teacher: str | None = None,
                  seed: int = 1, device: str | None = None, overrides: dict | None = None,
                  threads: int | None = None, precision: str | None = None) -> dict:
    """Train (resume, or skip) one student; ``teacher`` (a checkpoint) is needed for ``duration``;
    ``threads``: torch's CPU threads for the run (not part of its identity); ``precision``: fp32, bf16
    or fp16 (default: :func:`distill.precision.choose_precision`; part of its identity)."""
    kind = student_kind(student)
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    corpus = Corpus.open(corpus_dir)
    settings = student_settings(student, preset, overrides)
    corpus_arguments(student, corpus, settings["max_update"])  # a corpus this kind cannot learn from is refused now
    durations_dir = None
    if kind.needs_teacher:
        if not teacher:
            raise InputError(f"the {student} student needs --teacher (durations come from its attention)")
        from nat.durations import extract_durations

        durations_dir = str(extract_durations(teacher, corpus.path))
    device = device or default_device()
    chosen = choose_precision(precision, device, preset_precision(settings))
    # the run's identity names the durations by their key (teacher and corpus hashes), not their path
    durations_key = Path(durations_dir).name if durations_dir else None
    config = RunConfig(kind="student", corpus_hash=corpus.manifest["config_hash"], preset=preset, settings=settings,
                       model=MODEL_SIZES[settings["size"]], seed=seed, device=device, precision=chosen.name,
                       student=student, durations=durations_key,
                       student_arguments=student_arguments(student, durations_key, settings["max_update"]))
    locations = {"corpus": str(corpus.path.resolve()), **({"durations_dir": durations_dir} if durations_dir else {})}
    # the last checkpoint, not fairseq's best by validation loss: on multi-target data the loss against
    # the one sampled reference rises while the student learns to commit to one target language
    return train_run(run_dir, config, lambda save_dir: student_training_arguments(
        student, corpus, save_dir, settings, seed, device, chosen.name, durations_dir),
        final_checkpoint="checkpoint_last.pt", user_dir=USER_DIR, locations=locations, threads=threads,
        precision_reason=chosen.reason)


def student_settings(student: str, preset: str, overrides: dict | None = None) -> dict:
    """A student's schedule: the preset, the student's own departures from it, the command line's overrides."""
    return {**PRESETS[preset], **student_kind(student).schedules.get(preset, {}), **(overrides or {}),
            "keep_interval_updates": -1}  # every interval checkpoint is a point of the learning curve


def student_training_arguments(student: str, corpus: Corpus, save_dir, settings: dict, seed: int, device: str,
                               precision: str = "fp32", durations_dir: str | None = None) -> list:
    """A student's whole fairseq-train argument list (run with ``--user-dir`` :data:`nat.USER_DIR`)."""
    return [*shared_training_arguments(corpus, save_dir, settings, seed, device, keep_epoch_checkpoints=True,
                                       precision=precision),
            *student_arguments(student, durations_dir, settings["max_update"]),
            *corpus_arguments(student, corpus, settings["max_update"])]
