"""Running fairseq: its command-line tools as subprocesses, its models in-process.

Every fairseq invocation goes through here so that it always gets ``--user-dir nat``
(our plugin, which also lets torch >= 2.6 load fairseq checkpoints; trusted files only).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from typing import Callable
from pathlib import Path

from importlib.util import find_spec

# located, not imported: importing the plugin imports fairseq, which is slow
NAT_USER_DIR = str(Path(find_spec("nat").origin).resolve().parent)


def fairseq_command(tool: str, args: list[str]) -> list[str]:
    """``python -m fairseq_cli.<tool> --user-dir nat ARGS`` for the current interpreter."""
    return [sys.executable, "-m", f"fairseq_cli.{tool}", "--user-dir", NAT_USER_DIR, *map(str, args)]


def run_fairseq(tool: str, args: list[str], log_path: str | os.PathLike, echo: bool = True) -> None:
    """Run a fairseq tool, appending its output to ``log_path`` (and echoing progress lines)."""
    command = fairseq_command(tool, args)
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "a", encoding="utf-8", buffering=1) as log:  # line-buffered: tail -f works
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for line in process.stdout:
            log.write(line)
            if echo and ("| INFO | train |" in line or "| valid |" in line or "done training" in line):
                print(line.rstrip()[-160:], flush=True)
        code = process.wait()
    if code != 0:
        tail = [line for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip()][-3:]
        raise RuntimeError(f"fairseq-{tool} failed with exit status {code} (log: {log_path}): {' | '.join(tail)}")


def train_run(run_dir, config: dict, build_arguments: Callable[[Path], list],
              final_checkpoint: str = "checkpoint_best.pt") -> dict:
    """Train a fairseq model in ``run_dir``, resume an unfinished run, or skip a finished one.

    ``config.json`` is written first (with its hash), ``manifest.json`` last; fairseq
    itself resumes from ``checkpoints/checkpoint_last.pt``. ``build_arguments(save_dir)``
    returns the fairseq-train arguments; ``final_checkpoint`` is the one the manifest names
    (fairseq's best by validation loss, or the last). Returns the run manifest.
    """
    from distill.io import InputError, config_hash, read_json, write_json

    run_dir = Path(run_dir)
    key = config_hash(config)
    manifest_path = run_dir / "manifest.json"
    if manifest_path.is_file():
        manifest = read_run_manifest(run_dir)
        if manifest.get("config_hash") == key:
            print(f"{run_dir}: already trained ({key}); skipping", flush=True)
            return manifest
        raise InputError(f"{run_dir}: holds a different run; choose another --out or delete it")
    config_path = run_dir / "config.json"
    if config_path.is_file() and read_json(config_path).get("config_hash") != key:
        raise InputError(f"{config_path}: an unfinished run with another config; choose another --out or delete it")
    write_json(config_path, {**config, "config_hash": key})

    save_dir = run_dir / "checkpoints"
    started = time.time()
    run_fairseq("train", build_arguments(save_dir), run_dir / "train.log")
    best = save_dir / final_checkpoint
    if not best.is_file():
        raise RuntimeError(f"{save_dir}: fairseq finished without writing {final_checkpoint} (see {run_dir / 'train.log'})")
    manifest = {**config, "config_hash": key, "checkpoint": str(best.relative_to(run_dir)),
                "train_wall_seconds": fairseq_training_wall_seconds(run_dir / "train.log"),
                "train_wall_seconds_last_invocation": round(time.time() - started, 1), "train_log": "train.log"}
    write_json(manifest_path, manifest)
    return read_run_manifest(run_dir)


def fairseq_training_wall_seconds(train_log: Path) -> float | None:
    """The whole run's training time, resumed invocations included: fairseq's ``wall`` meter is
    saved in every checkpoint and restored on resume, so its last epoch line is the run's total
    (time lost after the last checkpoint of an interrupted invocation is not counted)."""
    walls = re.findall(r"\| train \| epoch .*\| wall (\d+(?:\.\d+)?)\s*$", train_log.read_text(encoding="utf-8"),
                       flags=re.MULTILINE)
    return float(walls[-1]) if walls else None


def read_run_manifest(run_dir) -> dict:
    """The manifest of a finished training run, its checkpoint as an absolute path (the file stores
    it relative to the run, so run directories can be moved); a one-line error if unfinished or absent."""
    from distill.io import InputError, read_json

    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        raise InputError(f"{path}: missing; is {run_dir} a finished training run?")
    manifest = read_json(path)
    return {**manifest, "checkpoint": str((Path(run_dir) / manifest["checkpoint"]).resolve())}


def checkpoint_of(run_or_checkpoint: str) -> str:
    """A run directory stands for its best checkpoint; a file is itself."""
    path = Path(run_or_checkpoint)
    return read_run_manifest(path)["checkpoint"] if path.is_dir() else str(path)


def load_ensemble(checkpoints: list[str], data_dir: str, overrides: dict | None = None):
    """Load fairseq models (one or an ensemble) and their task, for in-process decoding."""
    import logging
    import warnings

    logging.getLogger("fairseq").setLevel(logging.WARNING)  # in-process use: keep the user's terminal readable
    warnings.filterwarnings("ignore", message=".*pin_memory.*")
    warnings.filterwarnings("ignore", message=".*key_padding_mask.*")
    from fairseq import checkpoint_utils, utils

    from distill.io import InputError

    for path in checkpoints:
        if not Path(path).is_file():
            raise InputError(f"{path}: checkpoint not found")
    utils.import_user_module(type("UserDir", (), {"user_dir": NAT_USER_DIR})())
    try:
        models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
            checkpoints, arg_overrides={"data": str(data_dir), **(overrides or {})})
    except Exception as err:  # fairseq raises bare Exceptions/pickle errors on bad files
        raise InputError(f"{checkpoints[0]}: cannot load checkpoint ({type(err).__name__}: "
                         f"{str(err).splitlines()[0][:200] if str(err) else ''}); is it a complete fairseq checkpoint?") from None
    for model in models:
        model.eval()
    return models, cfg, task
