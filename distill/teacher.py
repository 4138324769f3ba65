"""Training the autoregressive Transformer teacher with fairseq.

A preset fixes the training schedule; the model size is a separate knob (the
complexity study sweeps tiny/small/base teachers under one schedule). The run
directory holds ``config.json`` (written first), fairseq's ``checkpoints/`` and
``train.log``, and ``manifest.json`` (written last: the run is complete). Re-running
the same command resumes from ``checkpoints/checkpoint_last.pt``.
"""
from __future__ import annotations

from pathlib import Path

from distill.corpus.directory import Corpus
from distill.engine import RunConfig, read_run_manifest, train_run
from distill.io import InputError
from distill.precision import choose_precision

MODEL_SIZES = {
    "tiny": {"layers": 1, "embed_dim": 64, "ffn_dim": 128, "heads": 2},
    "small": {"layers": 2, "embed_dim": 128, "ffn_dim": 512, "heads": 4},
    "medium": {"layers": 2, "embed_dim": 256, "ffn_dim": 1024, "heads": 4},
    "base": {"layers": 6, "embed_dim": 512, "ffn_dim": 2048, "heads": 8},   # transformer-base (Vaswani et al.)
    "big": {"layers": 6, "embed_dim": 1024, "ffn_dim": 4096, "heads": 16},  # transformer-big
}

# Schedules. `cpu` is sized for bible-es-en on 2 CPU cores within 45 minutes. Measured on
# those 2 cores (fairseq-train, 4,096-token batches, 8k vocabulary): small 5.4k target
# tokens/s (~15 epochs in 42 min), medium 2.6k, 3-layer d=256 1.7k (~4 epochs: too few);
# on this data many epochs of a small model beat few epochs of a larger one.
# `base`/`big` are the WMT14 En-De recipes (Ott et al. 2018) for GPUs.
PRESETS = {
    # the two presets of tiny models train in fp32: bf16 gains little at that size (docs/results/bench, training)
    "tiny": {"size": "tiny", "lr": 3e-3, "warmup_updates": 30, "max_tokens": 2048, "max_update": 150,
             "dropout": 0.0, "save_interval_updates": 50, "stop_time_hours": 0, "precision": "fp32",
             "epoch_saves": False},  # as the tiny students' (nat.students.PRESETS)
    # QUICK=1 reproduction (synthetic, 10,000 pairs): a pipeline check in minutes
    "quick": {"size": "tiny", "lr": 3e-3, "warmup_updates": 100, "max_tokens": 4096, "max_update": 400,
              "dropout": 0.0, "save_interval_updates": 200, "stop_time_hours": 0, "precision": "fp32"},
    # 4,000 updates (~15 epochs) take 42-47 min there. No time cap: one that stopped a loaded machine 140 updates
    # early cost its teacher 1.2 BLEU (30.40 against 31.60), and the study's cells need one teacher wherever they run
    "cpu": {"size": "small", "lr": 2e-3, "warmup_updates": 800, "max_tokens": 4096, "max_update": 4000,
            "dropout": 0.1, "save_interval_updates": 500, "stop_time_hours": 0},
    "base": {"size": "base", "lr": 7e-4, "warmup_updates": 4000, "max_tokens": 8192, "max_update": 100000,
             "dropout": 0.1, "save_interval_updates": 2000, "stop_time_hours": 0, "fp16": True},
    "big": {"size": "big", "lr": 5e-4, "warmup_updates": 4000, "max_tokens": 3584, "max_update": 100000,
            "dropout": 0.3, "save_interval_updates": 2000, "stop_time_hours": 0, "fp16": True, "update_freq": 16},
}


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _lr_schedule(settings: dict) -> list:
    """fairseq's inverse square root schedule, or (``lr_scheduler: linear``) linear warm-up and then a
    linear decay to 0 at ``max_update``, which fits a run of a fixed, short length."""
    scheduler = settings.get("lr_scheduler", "inverse_sqrt")
    if scheduler == "inverse_sqrt":
        return ["--lr-scheduler", "inverse_sqrt", "--warmup-updates", settings["warmup_updates"], "--warmup-init-lr",
                "1e-07"]
    if scheduler != "linear":
        raise InputError(f"lr_scheduler {scheduler!r}: expected inverse_sqrt or linear")
    return ["--lr-scheduler", "polynomial_decay", "--warmup-updates", settings["warmup_updates"],
            "--total-num-update", settings["max_update"], "--end-learning-rate", 0.0, "--power", 1.0]


def shared_training_arguments(corpus: Corpus, save_dir: Path, settings: dict, seed: int, device: str,
                              keep_epoch_checkpoints: bool = False, precision: str = "fp32") -> list:
    """fairseq-train arguments common to teachers and students: model size, optimizer, schedule, I/O
    (the loss, label smoothing included, is each model's own); ``precision`` "fp16" adds fairseq's
    ``--fp16`` (bf16 is the launcher's, :mod:`distill.fairseq_tool`). ``keep_epoch_checkpoints``: fairseq
    saves a step that ends an epoch only as checkpoint<epoch>.pt, never as checkpoint_<epoch>_<updates>.pt,
    so learning curves need those too."""
    size = MODEL_SIZES[settings["size"]]
    args = [
        corpus.bin_dir, "--source-lang", "src", "--target-lang", "tgt", "--share-all-embeddings",
        "--encoder-layers", settings.get("encoder_layers") or size["layers"],
        "--decoder-layers", settings.get("decoder_layers") or size["layers"],
        "--encoder-embed-dim", size["embed_dim"], "--decoder-embed-dim", size["embed_dim"],
        "--encoder-ffn-embed-dim", size["ffn_dim"], "--decoder-ffn-embed-dim", size["ffn_dim"],
        "--encoder-attention-heads", size["heads"], "--decoder-attention-heads", size["heads"],
        "--dropout", settings["dropout"], "--attention-dropout", 0.1 if settings["dropout"] else 0.0,
        "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--clip-norm", "1.0", "--weight-decay", "0.0001",
        "--lr", settings["lr"], *_lr_schedule(settings),
        "--max-tokens", settings["max_tokens"], "--max-update", settings["max_update"],
        "--update-freq", settings.get("update_freq", 1),
        "--save-dir", save_dir, *(["--no-epoch-checkpoints"] if not keep_epoch_checkpoints else []),
        "--save-interval-updates", settings["save_interval_updates"],
        "--keep-interval-updates", settings.get("keep_interval_updates", 1), "--seed", seed, "--log-format", "simple",
        "--log-interval", 50,
        "--num-workers", 0, "--skip-invalid-size-inputs-valid-test",
    ]
    if not settings.get("epoch_saves", True):
        # a small corpus at a large batch size is an epoch every few updates: save and validate only every
        # save_interval_updates (an interval step that ends an epoch is kept under its interval name where
        # every interval checkpoint is kept: distill.fairseq_setup)
        args += ["--save-interval", 1_000_000, "--validate-interval", 1_000_000]
    if settings.get("stop_time_hours"):
        args += ["--stop-time-hours", settings["stop_time_hours"]]
    if device == "cpu":
        args += ["--cpu"]
    if precision == "fp16":
        args += ["--fp16"]
    return args


def training_arguments(corpus: Corpus, save_dir: Path, settings: dict, seed: int, device: str,
                       precision: str = "fp32") -> list:
    """The AR teacher's fairseq-train arguments; ``settings["word_kd"]`` = {"teacher", "alpha"} selects
    word-level KD."""
    word_kd = settings.get("word_kd")
    criterion = (["--criterion", "word_kd", "--teacher-checkpoint", word_kd["teacher"], "--kd-alpha", word_kd["alpha"]]
                 if word_kd else ["--criterion", "label_smoothed_cross_entropy"])
    # shrink: the first launch starts from the shrunk teacher, optimizer and data position reset (fairseq's
    # --finetune-from-model); a resumed run continues from its own checkpoint_last.pt
    start = ["--finetune-from-model", shrink_start(save_dir)] if settings.get("shrink") else []
    return [*shared_training_arguments(corpus, save_dir, settings, seed, device, precision=precision),
            "--task", "translation", "--arch", "transformer", *criterion, "--label-smoothing", "0.1", *start]


def shrink_start(save_dir: Path) -> Path:
    """Where a shrunk student's starting checkpoint is written (:func:`distill.shrink.shrink_checkpoint`)."""
    return Path(save_dir).parent / "shrink-start.pt"


def check_shrink(teacher_checkpoint: str, settings: dict) -> None:
    """A shrunk student must have its teacher's shape but for fewer decoder layers (one line if not)."""
    from distill.fairseq_setup import prepare_fairseq

    prepare_fairseq()
    from fairseq import checkpoint_utils

    model = checkpoint_utils.load_checkpoint_to_cpu(teacher_checkpoint)["cfg"]["model"]
    size = MODEL_SIZES[settings["size"]]
    wanted = {"encoder_layers": settings.get("encoder_layers") or size["layers"],
              "encoder_embed_dim": size["embed_dim"], "encoder_ffn_embed_dim": size["ffn_dim"],
              "encoder_attention_heads": size["heads"]}
    differs = [f"{name} {getattr(model, name)} vs {value}" for name, value in wanted.items()
               if getattr(model, name) != value]
    if differs:
        raise InputError(f"--shrink-from {teacher_checkpoint}: the student copies its teacher's encoder and "
                         f"embeddings, so it needs the teacher's shape ({'; '.join(differs)}: teacher vs student); "
                         "pass the teacher's --size and --encoder-layers")


def preset_precision(settings: dict) -> str | None:
    """The precision a preset asks for (the GPU presets: fp16), if any."""
    return settings.get("precision") or ("fp16" if settings.get("fp16") else None)


def train_teacher(corpus_dir, run_dir, *, preset: str = "cpu", size: str | None = None, seed: int = 1,
                  device: str | None = None, overrides: dict | None = None, processes: int = 1,
                  precision: str | None = None) -> dict:
    """Train (or resume, or skip if finished) an AR model; returns the run manifest.
    ``precision``: fp32, bf16 or fp16 (default: :func:`distill.precision.choose_precision`).

    The same function trains AR students: pass ``overrides={"word_kd": {"teacher": CKPT, "alpha": 0.5}}``
    for word-level KD from a teacher checkpoint, ``{"encoder_layers": E, "decoder_layers": D}`` for other
    depths than the size's, and ``{"shrink": {"teacher": CKPT}}`` with fewer decoder layers to start from the
    teacher's weights (Shleifer & Rush's shrink and fine-tune, :mod:`distill.shrink`). ``processes`` > 1 trains
    on CPU with one process per rank (each update then sees ``processes`` batches, so it is another run).
    """
    corpus = Corpus.open(corpus_dir)
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    settings = {**PRESETS[preset], **(overrides or {})}
    if size:
        if size not in MODEL_SIZES:
            raise InputError(f"unknown size {size!r}; choose one of {', '.join(MODEL_SIZES)}")
        settings["size"] = size
    device = device or default_device()
    if processes < 1:
        raise InputError(f"--processes {processes}: expected 1 or more")
    if processes > 1:
        if device != "cpu":
            raise InputError("--processes is for CPU training; on GPUs fairseq uses every visible GPU by itself")
        settings["processes"] = processes
    chosen = choose_precision(precision, device, preset_precision(settings))
    model = {**MODEL_SIZES[settings["size"]],  # the layers only when they differ from the size's (no new identity)
             **{name: settings[name] for name in ("encoder_layers", "decoder_layers") if settings.get(name)}}
    if settings.get("shrink"):
        check_shrink(settings["shrink"]["teacher"], settings)
    config = RunConfig(kind="teacher", corpus_hash=corpus.manifest["config_hash"], preset=preset, settings=settings,
                       model=model, seed=seed, device=device, precision=chosen.name)

    def arguments(save_dir: Path) -> list:
        if settings.get("shrink") and not shrink_start(save_dir).is_file():
            from distill.shrink import shrink_checkpoint

            kept = shrink_checkpoint(settings["shrink"]["teacher"], model.get("decoder_layers", model["layers"]),
                                     shrink_start(save_dir))
            print(f"{run_dir}: starts from {kept['teacher_checkpoint']}, its embeddings, encoder and decoder layers "
                  f"{kept['kept_decoder_layers']} of {kept['teacher_decoder_layers']}", flush=True)
        return training_arguments(corpus, save_dir, settings, seed, device, chosen.name)

    return train_run(run_dir, config, arguments, processes=processes, locations={"corpus": str(corpus.path.resolve())},
                     precision_reason=chosen.reason)


def teacher_evaluation_stem(corpus: Corpus, split: str, beam: int) -> str:
    """The file stem of a teacher's evaluation in ``<run>/eval/`` (reused by ``seqkd-nat compare``)."""
    return f"{corpus.path.name}.{split}.beam{beam}"


def evaluate_teacher(run_dir, corpus_dir=None, *, split: str = "test", beam: int = 5,
                     device: str | None = None) -> dict:
    """Translate a split with the best checkpoint; BLEU/chrF against each and all references (the run's own
    evaluation when it has made this one: :func:`distill.scoring.run_evaluation`)."""
    from distill.generation import DecodeSettings, Translator
    from distill.scoring import format_scores, run_evaluation

    run_dir = Path(run_dir)
    manifest = read_run_manifest(run_dir)
    corpus = Corpus.open(corpus_dir or manifest["corpus"])
    stem = teacher_evaluation_stem(corpus, split, beam)
    result = run_evaluation(run_dir, lambda: Translator.autoregressive(
        [manifest["checkpoint"]], corpus, DecodeSettings(beam=beam, device=device or default_device())),
        corpus, split, run_dir / "eval", stem, details={"beam": beam})
    print(f"teacher {run_dir} on {corpus.path.name}/{split} (beam {beam}):\n{format_scores(result['scores'])}",
          flush=True)
    return result
