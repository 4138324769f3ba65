"""Training the non-autoregressive students, each with one call on a raw or distilled corpus.

  nat       vanilla NAT (Gu et al. 2018): fairseq ``nonautoregressive_transformer``, length prediction
  cmlm      mask-predict (Ghazvininejad et al. 2019): fairseq ``cmlm_transformer``
  duration  FastSpeech-style duration NAT (this project, ``nat.models.duration_nat``); needs
            durations from an AR teacher, computed once per corpus (``nat.durations``)

Model sizes are the teacher's (:data:`distill.teacher.MODEL_SIZES`); presets are schedules.
"""
from __future__ import annotations

from distill.corpus.directory import Corpus
from distill.engine import train_run
from distill.io import InputError
from distill.teacher import MODEL_SIZES, default_device, shared_training_arguments

STUDENTS = ("nat", "cmlm", "duration")

PRESETS = {
    "tiny": {"size": "tiny", "lr": 3e-3, "warmup_updates": 50, "max_tokens": 2048, "max_update": 300,
             "dropout": 0.0, "save_interval_updates": 100, "stop_time_hours": 0},
    "quick": {"size": "tiny", "lr": 3e-3, "warmup_updates": 50, "max_tokens": 4096, "max_update": 150,
              "dropout": 0.0, "save_interval_updates": 150, "stop_time_hours": 0},
    # NATs need many more updates than AR models, but on 2 CPU cores six students (raw and
    # distilled) must fit next to the teacher: a fixed 1,000 updates (~15 min each on 2 cores), so runs are reproducible
    "cpu": {"size": "small", "lr": 2e-3, "warmup_updates": 300, "max_tokens": 4096, "max_update": 1000,
            "dropout": 0.1, "save_interval_updates": 500, "stop_time_hours": 0},
    "base": {"size": "base", "lr": 5e-4, "warmup_updates": 10000, "max_tokens": 16384, "max_update": 300000,
             "dropout": 0.3, "save_interval_updates": 2000, "stop_time_hours": 0, "fp16": True},
}


def student_arguments(student: str, durations_dir: str | None) -> list:
    """The fairseq arguments that make each student (part of the run's config hash)."""
    if student == "duration":
        return ["--task", "translation_duration", "--durations-dir", durations_dir, "--arch", "duration_nat",
                "--criterion", "duration_nat_loss", "--encoder-learned-pos", "--activation-fn", "gelu"]
    if student == "nat":
        # Gu et al.'s copied source embeddings as decoder inputs: with fairseq's default (<unk> +
        # positions) the cpu preset sat at the unigram plateau (~8 bits/token) for 1,000 updates
        architecture = ["--arch", "nonautoregressive_transformer", "--noise", "full_mask", "--src-embedding-copy"]
        initialization = ["--apply-bert-init"]
    else:
        # fairseq's BERT-style init (N(0, 0.02) everywhere) held CMLM at the unigram plateau: cpu
        # preset, 1,000 updates, valid NLL 8.26 bits, test BLEU 0.07; fairseq's default init: 7.31, 0.46
        architecture = ["--arch", "cmlm_transformer", "--noise", "random_mask"]
        initialization = []
    return ["--task", "translation_lev", "--criterion", "nat_loss", "--ddp-backend", "legacy_ddp", *architecture,
            "--pred-length-offset", "--length-loss-factor", "0.1", *initialization,
            "--encoder-learned-pos", "--decoder-learned-pos", "--activation-fn", "gelu"]


def train_student(student: str, corpus_dir, run_dir, *, preset: str = "cpu", teacher: str | None = None,
                  seed: int = 1, device: str | None = None, overrides: dict | None = None) -> dict:
    """Train (resume, or skip) one student; ``teacher`` (a checkpoint) is needed for ``duration``."""
    if student not in STUDENTS:
        raise InputError(f"unknown student {student!r}; choose one of {', '.join(STUDENTS)}")
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    corpus = Corpus.open(corpus_dir)
    settings = {**PRESETS[preset], **(overrides or {})}
    durations_dir = None
    if student == "duration":
        if not teacher:
            raise InputError("the duration student needs --teacher (durations come from its attention)")
        from nat.durations import extract_durations

        durations_dir = str(extract_durations(teacher, corpus.path))
    device = device or default_device()
    arguments = student_arguments(student, durations_dir)
    config = {"kind": "student", "student": student, "corpus": str(corpus.path.resolve()),
              "corpus_hash": corpus.manifest["config_hash"], "preset": preset, "settings": settings,
              "model": MODEL_SIZES[settings["size"]], "seed": seed, "device": device, "durations": durations_dir,
              "student_arguments": arguments}
    return train_run(run_dir, config, lambda save_dir: [
        *shared_training_arguments(corpus, save_dir, settings, seed, device),
        *arguments])
