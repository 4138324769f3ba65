"""Training the autoregressive Transformer teacher with fairseq.

A preset fixes the training schedule; the model size is a separate knob (the
complexity study sweeps tiny/small/base teachers under one schedule). The run
directory holds ``config.json`` (written first), fairseq's ``checkpoints/`` and
``train.log``, and ``manifest.json`` (written last: the run is complete). Re-running
the same command resumes from ``checkpoints/checkpoint_last.pt``.
"""
from __future__ import annotations

import time
from pathlib import Path

from distill.corpus.directory import Corpus
from distill.engine import run_fairseq
from distill.io import InputError, config_hash, read_json, write_json

MODEL_SIZES = {
    "tiny": {"layers": 1, "embed_dim": 64, "ffn_dim": 128, "heads": 2},
    "small": {"layers": 3, "embed_dim": 256, "ffn_dim": 1024, "heads": 4},
    "base": {"layers": 6, "embed_dim": 512, "ffn_dim": 2048, "heads": 8},   # transformer-base (Vaswani et al.)
    "big": {"layers": 6, "embed_dim": 1024, "ffn_dim": 4096, "heads": 16},  # transformer-big
}

# Schedules. `cpu` is sized for bible-es-en on 2 CPU cores within 45 minutes;
# `base`/`big` are the WMT14 En-De recipes (Ott et al. 2018) for GPUs.
PRESETS = {
    "tiny": {"size": "tiny", "lr": 3e-3, "warmup_updates": 30, "max_tokens": 2048, "max_update": 150,
             "dropout": 0.0, "save_interval_updates": 50, "stop_time_hours": 0},
    "cpu": {"size": "small", "lr": 1.5e-3, "warmup_updates": 1000, "max_tokens": 6144, "max_update": 100000,
            "dropout": 0.2, "save_interval_updates": 500, "stop_time_hours": 0.70},
    "base": {"size": "base", "lr": 7e-4, "warmup_updates": 4000, "max_tokens": 8192, "max_update": 100000,
             "dropout": 0.1, "save_interval_updates": 2000, "stop_time_hours": 0, "fp16": True},
    "big": {"size": "big", "lr": 5e-4, "warmup_updates": 4000, "max_tokens": 3584, "max_update": 100000,
            "dropout": 0.3, "save_interval_updates": 2000, "stop_time_hours": 0, "fp16": True, "update_freq": 16},
}


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def training_arguments(corpus: Corpus, save_dir: Path, settings: dict, seed: int, device: str) -> list[str]:
    """fairseq-train arguments; ``settings["word_kd"]`` = {"teacher", "alpha"} selects word-level KD."""
    size = MODEL_SIZES[settings["size"]]
    word_kd = settings.get("word_kd")
    criterion = (["--criterion", "word_kd", "--teacher-checkpoint", word_kd["teacher"], "--kd-alpha", word_kd["alpha"]]
                 if word_kd else ["--criterion", "label_smoothed_cross_entropy"])
    args = [
        corpus.bin_dir, "--task", "translation", "--source-lang", "src", "--target-lang", "tgt",
        "--arch", "transformer", "--share-all-embeddings",
        "--encoder-layers", size["layers"], "--decoder-layers", size["layers"],
        "--encoder-embed-dim", size["embed_dim"], "--decoder-embed-dim", size["embed_dim"],
        "--encoder-ffn-embed-dim", size["ffn_dim"], "--decoder-ffn-embed-dim", size["ffn_dim"],
        "--encoder-attention-heads", size["heads"], "--decoder-attention-heads", size["heads"],
        "--dropout", settings["dropout"], "--attention-dropout", 0.1 if settings["dropout"] else 0.0,
        "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--clip-norm", "1.0", "--weight-decay", "0.0001",
        "--lr", settings["lr"], "--lr-scheduler", "inverse_sqrt", "--warmup-updates", settings["warmup_updates"],
        "--warmup-init-lr", "1e-07",
        *criterion, "--label-smoothing", "0.1",
        "--max-tokens", settings["max_tokens"], "--max-update", settings["max_update"],
        "--update-freq", settings.get("update_freq", 1),
        "--save-dir", save_dir, "--no-epoch-checkpoints", "--save-interval-updates", settings["save_interval_updates"],
        "--keep-interval-updates", 1, "--seed", seed, "--log-format", "simple", "--log-interval", 50,
        "--num-workers", 0, "--skip-invalid-size-inputs-valid-test",
    ]
    if settings.get("stop_time_hours"):
        args += ["--stop-time-hours", settings["stop_time_hours"]]
    if device == "cpu":
        args += ["--cpu"]
    elif settings.get("fp16"):
        args += ["--fp16"]
    return args


def train_teacher(corpus_dir, run_dir, *, preset: str = "cpu", size: str | None = None, seed: int = 1,
                  device: str | None = None, overrides: dict | None = None) -> dict:
    """Train (or resume, or skip if finished) an AR model; returns the run manifest.

    The same function trains AR students: pass ``overrides={"word_kd": {"teacher": CKPT, "alpha": 0.5}}``
    for word-level KD from a teacher checkpoint.
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
    run_dir = Path(run_dir)
    config = {"kind": "teacher", "corpus": str(corpus.path.resolve()), "corpus_hash": corpus.manifest["config_hash"],
              "preset": preset, "settings": settings, "model": MODEL_SIZES[settings["size"]], "seed": seed,
              "device": device}
    key = config_hash(config)
    manifest_path = run_dir / "manifest.json"
    if manifest_path.is_file():
        manifest = read_json(manifest_path)
        if manifest.get("config_hash") == key:
            print(f"{run_dir}: teacher already trained ({key}); skipping", flush=True)
            return manifest
        raise InputError(f"{run_dir}: holds a different run; choose another --out or delete it")
    config_path = run_dir / "config.json"
    if config_path.is_file() and read_json(config_path).get("config_hash") != key:
        raise InputError(f"{config_path}: an unfinished run with another config; choose another --out or delete it")
    write_json(config_path, {**config, "config_hash": key})

    save_dir = run_dir / "checkpoints"
    started = time.time()
    run_fairseq("train", training_arguments(corpus, save_dir, settings, seed, device), run_dir / "train.log")
    best = save_dir / "checkpoint_best.pt"
    if not best.is_file():
        raise RuntimeError(f"{save_dir}: fairseq finished without writing checkpoint_best.pt (see {run_dir / 'train.log'})")
    manifest = {**config, "config_hash": key, "checkpoint": str(best.resolve()),
                "train_wall_seconds_last_invocation": round(time.time() - started, 1),
                "train_log": "train.log"}
    write_json(manifest_path, manifest)
    return manifest


def evaluate_teacher(run_dir, corpus_dir=None, *, split: str = "test", beam: int = 5, device: str | None = None) -> dict:
    """Translate a split with the best checkpoint; BLEU/chrF against each and all references."""
    from distill.generation import DecodeSettings, Translator
    from distill.io import write_lines
    from distill.scoring import format_scores, score_translations

    run_dir = Path(run_dir)
    manifest = read_json(run_dir / "manifest.json")
    corpus = Corpus.open(corpus_dir or manifest["corpus"])
    translator = Translator([manifest["checkpoint"]], corpus,
                            DecodeSettings(beam=beam, device=device or default_device()))
    sources = corpus.lines(split, "src")
    hypotheses = [nbest[0].text for nbest in translator.translate(sources)]
    stem = f"{corpus.path.name}.{split}.beam{beam}"
    write_lines(run_dir / "eval" / f"{stem}.hyp", hypotheses)
    result = {"corpus": str(corpus.path.resolve()), "split": split, "beam": beam, "sentences": len(sources),
              "decode_wall_seconds": round(translator.wall_seconds, 2),
              "scores": score_translations(hypotheses, corpus.references(split))}
    write_json(run_dir / "eval" / f"{stem}.json", result)
    print(f"teacher {run_dir} on {corpus.path.name}/{split} (beam {beam}):\n{format_scores(result['scores'])}", flush=True)
    return result
