"""Running fairseq: its command-line tools as subprocesses, its models in-process.

Every fairseq invocation goes through here: training gets the fairseq plugin it needs
(``--user-dir``: the teacher side's :mod:`distill.seqkd_distill_plugin`, or the students'
:mod:`nat`), in-process loading goes through :func:`load_ensemble`.
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from distill.fairseq_train import AUTOCAST_DTYPES
from distill.precision import Precision

# the teacher side's fairseq plugin (checkpoint loading under torch >= 2.6, word-level KD)
DISTILL_USER_DIR = str(Path(__file__).resolve().parent / "seqkd_distill_plugin")


def fairseq_command(tool: str, args: list[str], user_dir: str | None = None, precision: str = "fp32") -> list[str]:
    """``python -m distill.fairseq_tool TOOL [--precision P] [--user-dir DIR] ARGS`` for the current interpreter:
    fairseq-TOOL through this project's launcher (:mod:`distill.fairseq_tool`), a training in a ``precision`` of
    autocast (bf16) with forward and loss under that autocast (fairseq's own fp16 is a flag among ARGS)."""
    autocast = precision in AUTOCAST_DTYPES
    if autocast and tool != "train":
        raise ValueError(f"precision {precision} is for training, not fairseq-{tool}")
    return [sys.executable, "-m", "distill.fairseq_tool", tool, *(["--precision", precision] if autocast else []),
            *(["--user-dir", user_dir] if user_dir else []), *map(str, args)]


def cpu_threads() -> int:
    """The CPU threads this process may use: ``OMP_NUM_THREADS`` where it is set (torch's own rule; the QUICK job
    sets 1), else the cores of its affinity (``taskset``, a container's CPU set, a test worker pinned to a core)."""
    budget = os.environ.get("OMP_NUM_THREADS", "")
    return int(budget) if budget.isdigit() and int(budget) > 0 else len(os.sched_getaffinity(0))


def threads_each(sharing: int) -> int:
    """CPU threads for each of ``sharing`` processes training at once (at least 1), so that together they do
    not oversubscribe :func:`cpu_threads`."""
    return max(1, cpu_threads() // sharing)


def run_fairseq(tool: str, args: list[str], log_path: str | os.PathLike, echo: bool = True,
                processes: int = 1, user_dir: str | None = None, threads: int | None = None,
                precision: str = "fp32") -> None:
    """Run a fairseq tool, appending its output to ``log_path`` (and echoing progress lines, named
    by the log's directory); ``user_dir``: the fairseq plugin it needs; ``threads``: torch's CPU
    threads (default: torch's own choice), e.g. 1 for each of two runs trained side by side;
    ``precision``: see :func:`fairseq_command`.

    ``processes`` > 1 (training on CPU): one process per rank on this machine, joined through
    fairseq's distributed path (gloo, ``legacy_ddp``, TCP on 127.0.0.1), the same code path as
    multi-node training; rank 0 logs to ``log_path``, rank R to ``train.rank<R>.log`` beside it.
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    ranks = [list(args)]
    env = dict(os.environ, PYTHONUNBUFFERED="1", **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    if processes > 1:
        init_method = f"tcp://127.0.0.1:{_free_port()}"
        ranks = [[*args, "--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp", "--distributed-no-spawn",
                  "--distributed-init-method", init_method, "--distributed-world-size", processes,
                  "--distributed-rank", rank] for rank in range(processes)]
        env["OMP_NUM_THREADS"] = str(threads_each(processes))
    commands = [fairseq_command(tool, rank_args, user_dir, precision) for rank_args in ranks]
    logs = [log_path, *(log_path.with_name(f"{log_path.stem}.rank{rank}.log") for rank in range(1, len(commands)))]
    others = []
    with contextlib.ExitStack() as stack:
        for command, path in zip(commands[1:], logs[1:]):
            rank_log = stack.enter_context(open(path, "a"))
            rank_log.write("$ " + " ".join(command) + "\n")
            rank_log.flush()
            others.append(subprocess.Popen(command, stdout=rank_log, stderr=subprocess.STDOUT, env=env))
        try:
            with open(log_path, "a", encoding="utf-8", buffering=1) as log:  # line-buffered: tail -f works
                log.write("$ " + " ".join(commands[0]) + "\n")
                log.flush()
                process = subprocess.Popen(commands[0], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                           env=env)
                for line in process.stdout:
                    log.write(line)
                    if echo and ("| INFO | train |" in line or "| valid |" in line or "done training" in line):
                        print(f"{log_path.parent.name}: {line.rstrip()[-140:]}", flush=True)
                first = process.wait()
                if first != 0:  # the other ranks would wait for it until gloo's timeout
                    for other in others:
                        other.kill()
                codes = [first, *(other.wait() for other in others)]
        finally:
            for other in others:  # e.g. on Ctrl-C: leave no rank behind
                if other.poll() is None:
                    other.kill()
    failed = [(rank, code) for rank, code in enumerate(codes) if code != 0]
    if failed:
        rank, code = failed[0]
        tail = [line for line in logs[rank].read_text(encoding="utf-8").splitlines() if line.strip()][-3:]
        raise RuntimeError(f"fairseq-{tool} failed with exit status {code} (log: {logs[rank]}): {' | '.join(tail)}")


# What a training run's config means. A run whose config has another version (or none: made before versions)
# is another run: train it again. Bump this when a field is added, dropped or changes meaning.
RUN_CONFIG_VERSION = 1


@dataclass(frozen=True)
class RunConfig:
    """What a training run is; its hash (:attr:`identity`) is the run's identity. Its inputs enter by their own
    identities (``corpus_hash``, ``durations``), never by path, so moving them retrains nothing.

    ``kind``: teacher or student; ``preset``: the preset it started from; ``settings``: its schedule (the preset,
    the kind's departures, the command line's overrides); ``model``: the size's dimensions; ``precision``: fp32,
    bf16 or fp16 (:mod:`distill.precision`); ``student``, ``durations``, ``student_arguments``: a student's kind,
    the key of its teacher durations and the fairseq arguments of its kind.
    """

    kind: str
    corpus_hash: str
    preset: str
    settings: dict
    model: dict
    seed: int
    device: str
    precision: str
    student: str | None = None
    durations: str | None = None
    student_arguments: list | None = None
    version: int = RUN_CONFIG_VERSION

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def identity(self) -> str:
        from distill.io import config_hash

        return config_hash(self.to_json())


def _differences(recorded: dict, config: RunConfig) -> str:
    """`` (precision: fp32 there, bf16 here; seed: ...)``: the top-level settings in which a run on
    disk differs from the one asked for, for the error that refuses to reuse it."""
    wanted = config.to_json()
    keys = [key for key in wanted if recorded.get(key) != wanted[key]]
    shown = [f"{key}: {recorded.get(key)} there, {wanted[key]} here"
             if key in ("precision", "seed", "preset", "student", "device", "version") else key for key in keys]
    return f" ({'; '.join(shown)})" if shown else ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def train_run(run_dir, config: RunConfig, build_arguments: Callable[[Path], list],
              final_checkpoint: str = "checkpoint_best.pt", processes: int = 1,
              user_dir: str = DISTILL_USER_DIR, locations: dict | None = None, threads: int | None = None,
              precision_reason: str = "given") -> dict:
    """Train a fairseq model in ``run_dir``, resume an unfinished run, or skip a finished one.

    ``config`` says what the run is (:class:`RunConfig`; its hash is the run's identity); ``locations`` say
    where its inputs are now (e.g. ``{"corpus": PATH}``): recorded in the manifest and updated when they move,
    never hashed, so moving a corpus retrains nothing. ``config.json`` is written first, ``manifest.json``
    last; fairseq itself resumes from ``checkpoints/checkpoint_last.pt``. ``build_arguments(save_dir)``
    returns the fairseq-train arguments; ``final_checkpoint`` is the one the manifest names (fairseq's best
    by validation loss, or the last); ``processes``, ``user_dir``, ``threads``: see :func:`run_fairseq`;
    ``precision_reason``: why ``config.precision`` was chosen (:class:`~distill.precision.Precision`; printed
    and written to ``train.log``). Returns the manifest.
    """
    from distill.io import InputError, read_json, write_json

    run_dir = Path(run_dir)
    locations = locations or {}
    precision = Precision(config.precision, precision_reason)
    key = config.identity
    manifest_path = run_dir / "manifest.json"
    if manifest_path.is_file():
        manifest = read_json(manifest_path)
        if manifest.get("config_hash") != key:
            raise InputError(f"{run_dir}: holds a different run{_differences(manifest, config)}; "
                             f"choose another --out or delete it")
        if any(manifest.get(name) != value for name, value in locations.items()):
            write_json(manifest_path, {**manifest, **locations})  # its inputs moved: point to where they are now
        print(f"{run_dir}: already trained ({manifest['config_hash']}); skipping", flush=True)
        return read_run_manifest(run_dir)
    config_path = run_dir / "config.json"
    if config_path.is_file() and (unfinished := read_json(config_path)).get("config_hash") != key:
        raise InputError(f"{config_path}: an unfinished run with another config{_differences(unfinished, config)}; "
                         f"choose another --out or delete it")
    write_json(config_path, {**config.to_json(), **locations, "config_hash": key})

    save_dir = run_dir / "checkpoints"
    started = time.time()
    chosen = precision.log_line(run_dir.name)
    print(chosen, flush=True)
    with open(run_dir / "train.log", "a", encoding="utf-8") as log:
        log.write(f"# {chosen}\n")
    run_fairseq("train", build_arguments(save_dir), run_dir / "train.log", processes=processes,
                user_dir=user_dir, threads=threads, precision=precision.name)
    best = save_dir / final_checkpoint
    if not best.is_file():
        raise RuntimeError(f"{save_dir}: fairseq finished without writing {final_checkpoint} (see "
                           f"{run_dir / 'train.log'})")
    cpu = training_cpu_clock(run_dir / "train.log")
    manifest = {**config.to_json(), **locations, "config_hash": key, "checkpoint": str(best.relative_to(run_dir)),
                "train_wall_seconds": training_seconds(run_dir / "train.log"),
                "train_cpu_seconds": cpu[-1][1] if cpu else None,
                "train_wall_seconds_last_invocation": round(time.time() - started, 1), "train_log": "train.log"}
    write_json(manifest_path, manifest)
    return read_run_manifest(run_dir)


# fairseq's log lines begin with their time; the progress lines name the update count
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \| ")
LOGGED_UPDATES = re.compile(r"num_updates[= ](\d+)")


def _invocations(train_log) -> list[list[tuple[int | None, datetime]]]:
    """(update count or None, time) of every timed line of a fairseq training log, one list per
    invocation: each starts at the ``$ fairseq-train`` line that :func:`run_fairseq` writes."""
    invocations = [[]]
    for line in Path(train_log).read_text(encoding="utf-8").splitlines():
        if line.startswith("$ "):
            invocations.append([])
        elif stamp := LOG_TIME.match(line):
            updates = LOGGED_UPDATES.search(line)
            invocations[-1].append((int(updates.group(1)) if updates else None,
                                    datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S")))
    return [lines for lines in invocations if lines]


def training_clock(train_log) -> list[tuple[int | None, float]]:
    """(update count or None, seconds of training so far) for every timed line of a fairseq training
    log, the time of earlier invocations included; each invocation counts from its own first line.

    fairseq's own ``wall`` meter cannot be used: after a resume it reads 0 for the rest of the run
    (the meter restored from the checkpoint is never started again).
    """
    clock, earlier = [], 0.0
    for lines in _invocations(train_log):
        first = lines[0][1]
        clock += [(updates, earlier + (moment - first).total_seconds()) for updates, moment in lines]
        earlier = clock[-1][1]
    return clock


# distill.fairseq_setup.CPU_SECONDS, as it appears in the log
LOGGED_CPU = re.compile(r"\| CPU seconds (\d+(?:\.\d+)?) at (\d+) updates")


def training_cpu_clock(train_log) -> list[tuple[int, float]]:
    """(update count, CPU seconds of training so far) at every checkpoint save of a fairseq training log that
    logged its process's CPU time (:mod:`distill.fairseq_setup`; older logs have none: []). Each invocation
    counts from its own start and adds what the invocations before it had at their last save: the work a
    killed invocation did after its last save is lost, and is not counted. Of a multi-process run, rank 0's."""
    clock, earlier, current = [], 0.0, 0.0
    for line in Path(train_log).read_text(encoding="utf-8").splitlines():
        if line.startswith("$ "):
            earlier, current = earlier + current, 0.0
        elif found := LOGGED_CPU.search(line):
            current = float(found.group(1))
            clock.append((int(found.group(2)), round(earlier + current, 1)))
    return clock


def busy_seconds(train_logs) -> float:
    """How long several runs kept the machine training: the length of the union of their
    invocations' time spans, so runs trained side by side count once (their sum would not)."""
    spans = sorted((lines[0][1], lines[-1][1]) for log in train_logs for lines in _invocations(log))
    total, covered_until = 0.0, None
    for start, end in spans:
        if covered_until is None or end > covered_until:
            total += (end - max(start, covered_until or start)).total_seconds()
            covered_until = end
    return total


def training_seconds(train_log) -> float | None:
    """The run's training time over all its invocations (None: the log has no timed line)."""
    clock = training_clock(train_log)
    return clock[-1][1] if clock else None


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
    """Load fairseq models (one or an ensemble) and their task, for in-process decoding (a student's
    plugin is registered by importing :mod:`nat`, which its loaders do)."""
    import logging
    import warnings

    from distill.fairseq_setup import prepare_fairseq

    prepare_fairseq()
    logging.getLogger("fairseq").setLevel(logging.WARNING)  # in-process use: keep the user's terminal readable
    warnings.filterwarnings("ignore", message=".*pin_memory.*")
    warnings.filterwarnings("ignore", message=".*key_padding_mask.*")
    from fairseq import checkpoint_utils

    from distill.io import InputError

    for path in checkpoints:
        if not Path(path).is_file():
            raise InputError(f"{path}: checkpoint not found")
    try:
        models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
            checkpoints, arg_overrides={"data": str(data_dir), **(overrides or {})})
    except Exception as err:  # fairseq raises bare Exceptions/pickle errors on bad files
        raise InputError(f"{checkpoints[0]}: cannot load checkpoint ({type(err).__name__}: "
                         f"{str(err).splitlines()[0][:200] if str(err) else ''}); "
                         "is it a complete fairseq checkpoint?") from None
    for model in models:
        model.eval()
    return models, cfg, task
