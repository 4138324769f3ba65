"""Training the students, each with one call on a raw or distilled corpus.

  ctc       CTC NAT (Libovický & Helcl 2018; ``nat.models.ctc_nat``): upsampled encoder states, no
            length predictor; argmax decoding
  ctc-glat  the same, with glancing training on the best CTC alignment (Gu & Kong 2021)
  nat       vanilla NAT (Gu et al. 2018): fairseq ``nonautoregressive_transformer``, length prediction
  nat-glat  vanilla NAT with glancing training (Qian et al. 2021; ``nat.models.glancing_nat``)
  cmlm      mask-predict (Ghazvininejad et al. 2019): fairseq ``cmlm_transformer``
  duration  FastSpeech-style duration NAT (this project, ``nat.models.duration_nat``); needs
            durations from an AR teacher, computed once per corpus (``nat.durations``)
  ar        autoregressive student (Kim & Rush 2016) with a deep encoder and a one-layer decoder
            (Kasai et al. 2021), decoded greedily and with beam search

Model sizes are the teacher's (:data:`distill.teacher.MODEL_SIZES`); presets are schedules, with
per-student changes where a student's learning curve asks for them (:data:`STUDENT_SCHEDULES`).
"""
from __future__ import annotations

from pathlib import Path

from distill.corpus.directory import Corpus
from distill.engine import train_run
from distill.io import InputError
from distill.precision import choose_precision
from distill.teacher import MODEL_SIZES, default_device, preset_precision, shared_training_arguments
from nat import USER_DIR

STUDENTS = ("ctc", "ctc-glat", "nat", "nat-glat", "cmlm", "duration", "ar")
AUTOREGRESSIVE = ("ar",)
CTC_STUDENTS = ("ctc", "ctc-glat")  # no length prediction; decoded with a tuned blank penalty
DEFAULT_STUDENTS = ("ctc", "ctc-glat", "ar")  # the main job's table; the first is the headline student

PRESETS = {
    # fp32: bf16 gains little for tiny models (distill.teacher.PRESETS)
    "tiny": {"size": "tiny", "lr": 3e-3, "warmup_updates": 50, "max_tokens": 2048, "max_update": 300,
             "dropout": 0.0, "save_interval_updates": 100, "stop_time_hours": 0, "precision": "fp32"},
    "quick": {"size": "tiny", "lr": 3e-3, "warmup_updates": 100, "max_tokens": 4096, "max_update": 600,
              "dropout": 0.0, "save_interval_updates": 100, "stop_time_hours": 0, "precision": "fp32"},
    # a fixed number of updates, so runs are reproducible; checkpoints every 200 updates are
    # the points of the learning curves
    "cpu": {"size": "small", "lr": 2e-3, "warmup_updates": 300, "max_tokens": 4096, "max_update": 1000,
            "dropout": 0.1, "save_interval_updates": 200, "stop_time_hours": 0},
    "base": {"size": "base", "lr": 5e-4, "warmup_updates": 10000, "max_tokens": 16384, "max_update": 300000,
             "dropout": 0.3, "save_interval_updates": 2000, "stop_time_hours": 0, "fp16": True, "epoch_saves": False},
}

# CTC: its curve under the preset was flat from 1,000 updates (docs/results/experiments/ctc-3000-updates); a
# linear decay to 0 and no dropout lifted raw and distilled runs alike (ctc-linear-nodropout), and 1,250 updates
# of it fit the time two runs side by side take in the main job's budget (ctc-linear-1250)
CTC_CPU_SCHEDULE = {"warmup_updates": 400, "lr_scheduler": "linear", "dropout": 0.0, "max_update": 1250}
# per-student departures from a preset
STUDENT_SCHEDULES = {
    # vanilla NAT: at the preset's lr 2e-3 (inverse square root decay) its valid BLEU peaked by 800 updates and
    # fell, and stayed flat to 3,000 updates; half the rate, decayed to 0 at the last update, ends higher on raw
    # and on distilled data (docs/results/experiments/nat-*)
    "cpu": {"ctc": CTC_CPU_SCHEDULE, "ctc-glat": CTC_CPU_SCHEDULE,
            "nat": {"lr": 1e-3, "lr_scheduler": "linear"}},
}

GLANCING = {"start": 0.5, "end": 0.3}  # ratio annealed linearly over the run (Qian et al. 2021)


def student_arguments(student: str, durations_dir: str | None, max_update: int) -> list:
    """The fairseq arguments that make each student (part of the run's config hash)."""
    glancing = ["--glance-start", GLANCING["start"], "--glance-end", GLANCING["end"], "--glance-updates", max_update]
    if student in CTC_STUDENTS:
        # fairseq's bool flags flip their default: --left-pad-source alone means right-padded sources,
        # which CTC needs (time starts at position 0)
        return ["--task", "translation", "--left-pad-source", "--arch", "ctc_nat", "--criterion",
                "ctc_nat_loss", "--encoder-learned-pos", "--activation-fn", "gelu",
                *(glancing if student == "ctc-glat" else [])]
    if student == "ar":  # Kasai et al.: the encoder keeps the preset's depth, the decoder has one layer
        return ["--task", "translation", "--arch", "transformer", "--criterion", "label_smoothed_cross_entropy",
                "--label-smoothing", "0.1", "--decoder-layers", 1]
    if student == "duration":
        return ["--task", "translation_duration", "--durations-dir", durations_dir, "--arch", "duration_nat",
                "--criterion", "duration_nat_loss", "--label-smoothing", "0.1", "--encoder-learned-pos",
                "--activation-fn", "gelu"]
    if student in ("nat", "nat-glat"):
        # Gu et al.'s copied source embeddings as decoder inputs: with fairseq's default (<unk> +
        # positions) the cpu preset sat at the unigram plateau (~8 bits/token) for 1,000 updates
        architecture = (["--arch", "glancing_nat", *glancing] if student == "nat-glat"
                        else ["--arch", "nonautoregressive_transformer"]) + ["--noise", "full_mask", "--src-embedding-copy"]
        initialization = ["--apply-bert-init"]
    else:
        # fairseq's BERT-style init (N(0, 0.02) everywhere) held CMLM at the unigram plateau: cpu
        # preset, 1,000 updates, valid NLL 8.26 bits, test BLEU 0.07; fairseq's default init: 7.31, 0.46
        architecture = ["--arch", "cmlm_transformer", "--noise", "random_mask"]
        initialization = []
    # right-padded sources (the flag flips fairseq's default, as above): fairseq's copy of source embeddings
    # into the decoder (--src-embedding-copy) indexes sources from position 0, so with left padding it
    # copied padding into every sentence shorter than its batch's longest (fairseq#1316)
    return ["--task", "translation_lev", "--left-pad-source", "--criterion", "nat_loss", "--label-smoothing", "0.1",
            "--ddp-backend", "legacy_ddp", *architecture,
            "--pred-length-offset", "--length-loss-factor", "0.1", *initialization,
            "--encoder-learned-pos", "--decoder-learned-pos", "--activation-fn", "gelu"]


def train_student(student: str, corpus_dir, run_dir, *, preset: str = "cpu", teacher: str | None = None,
                  seed: int = 1, device: str | None = None, overrides: dict | None = None,
                  threads: int | None = None, precision: str | None = None) -> dict:
    """Train (resume, or skip) one student; ``teacher`` (a checkpoint) is needed for ``duration``;
    ``threads``: torch's CPU threads for the run (not part of its identity); ``precision``: fp32, bf16
    or fp16 (default: :func:`distill.precision.choose_precision`; part of its identity)."""
    if student not in STUDENTS:
        raise InputError(f"unknown student {student!r}; choose one of {', '.join(STUDENTS)}")
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    corpus = Corpus.open(corpus_dir)
    settings = student_settings(student, preset, overrides)
    durations_dir = None
    if student == "duration":
        if not teacher:
            raise InputError("the duration student needs --teacher (durations come from its attention)")
        from nat.durations import extract_durations

        durations_dir = str(extract_durations(teacher, corpus.path))
    device = device or default_device()
    chosen = choose_precision(precision, device, preset_precision(settings))
    # the run's identity names the durations by their key (teacher and corpus hashes), not their path
    durations_key = Path(durations_dir).name if durations_dir else None
    config = {"kind": "student", "student": student, "corpus_hash": corpus.manifest["config_hash"], "preset": preset,
              "settings": settings, "model": MODEL_SIZES[settings["size"]], "seed": seed, "device": device,
              "durations": durations_key,
              "student_arguments": student_arguments(student, durations_key, settings["max_update"])}
    locations = {"corpus": str(corpus.path.resolve()), **({"durations_dir": durations_dir} if durations_dir else {})}
    # the last checkpoint, not fairseq's best by validation loss: on multi-target data the loss against
    # the one sampled reference rises while the student learns to commit to one target language
    return train_run(run_dir, config, lambda save_dir: student_training_arguments(
        student, corpus, save_dir, settings, seed, device, chosen.name, durations_dir),
        final_checkpoint="checkpoint_last.pt", user_dir=USER_DIR, locations=locations, threads=threads,
        precision=chosen)


def student_settings(student: str, preset: str, overrides: dict | None = None) -> dict:
    """A student's schedule: the preset, the student's own departures from it, the command line's overrides."""
    return {**PRESETS[preset], **STUDENT_SCHEDULES.get(preset, {}).get(student, {}), **(overrides or {}),
            "keep_interval_updates": -1}  # every interval checkpoint is a point of the learning curve


def student_training_arguments(student: str, corpus: Corpus, save_dir, settings: dict, seed: int, device: str,
                               precision: str = "fp32", durations_dir: str | None = None) -> list:
    """A student's whole fairseq-train argument list (run with ``--user-dir`` :data:`nat.USER_DIR`)."""
    return [*shared_training_arguments(corpus, save_dir, settings, seed, device, keep_epoch_checkpoints=True,
                                       precision=precision),
            *student_arguments(student, durations_dir, settings["max_update"])]
