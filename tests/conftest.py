"""Shared fixtures: small corpora built once per test session (once per worker under ``pytest -n``)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest
from filelock import FileLock

from distill.corpus.synthetic import SyntheticConfig, prepare_synthetic


def pytest_configure(config):
    """Under pytest-xdist (``make test`` runs ``pytest -n auto``), pin each worker to a core of its own
    before anything imports torch: every thread count in the code follows the process's affinity
    (torch's OpenMP pool, ``distill.engine.threads_each``, CTranslate2's threads), so the workers'
    trainings share the machine without oversubscribing it, which on 2 cores costs up to 10x
    (docs/design.md, "Student runs side by side")."""
    worker = getattr(config, "workerinput", {}).get("workerid")  # "gw0", "gw1", ...: set in xdist workers only
    if worker is None:
        return
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[int(worker.removeprefix("gw")) % len(cores)]})



# the longest modules first, so that under `pytest -n` no long one starts last and keeps one worker busy alone at
# the end: the QUICK job (~12 min on one core), then the ones that run a job end to end or prepare the real corpus.
# `make test` sends each module to one worker in this order (--dist loadscope --no-loadscope-reorder; loadgroup's
# xdist_group marks are ignored under pytest 9.2, pytest-xdist#1386), so a module's fixtures are built once.
LONGEST_FIRST = ("test_quick.py", "test_reproduce.py", "test_bible.py", "test_bench.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


def shared_dir(tmp_path_factory, name: str) -> Path:
    """``name`` under one directory for the whole run: under `pytest -n` every worker's base temporary directory is
    ``pytest-N/popen-gwK``, so their parent is shared (pytest-xdist's documented pattern for session fixtures built
    once); without xdist it is the run's own base directory (the parent then holds earlier runs)."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared" / name


def built_once(path: Path, build):
    """``build(path)`` by the first worker that asks, under a lock; the others wait and call it again, which every
    stage here answers from its finished directory ("already trained; skipping"). A fixture student is trained once
    per run, not once per worker (each training costs 20-60 s of one core)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        return build(path)


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory):
    """A small K=1 synthetic corpus: fast to train on, fully prepared (spm + fairseq bin)."""
    config = SyntheticConfig(source_types=30, min_len=3, max_len=6, candidates=2, word_entropy=0.0,
                             reorder=0.0, modes=1, train_size=600, valid_size=40, test_size=40, seed=3)
    return built_once(shared_dir(tmp_path_factory, "corpora/tiny-syn"),
                      lambda path: prepare_synthetic(path, config, vocab_size=120))


@pytest.fixture(scope="session")
def tiny_teacher(tiny_synthetic, tmp_path_factory):
    """A `tiny`-preset teacher trained on ``tiny_synthetic`` (about 30 s on 2 cores)."""
    from distill.teacher import train_teacher

    run = shared_dir(tmp_path_factory, "runs/teacher")
    manifest = built_once(run, lambda path: train_teacher(tiny_synthetic.path, path, preset="tiny", device="cpu"))
    return run, manifest


@pytest.fixture(scope="session")
def tiny_distilled(tiny_synthetic, tiny_teacher, tmp_path_factory):
    """The tiny teacher's SeqKD corpus of ``tiny_synthetic``, decoded by CTranslate2 in float32 (seconds)."""
    from distill.regenerate import RegenerationRequest, regenerate

    return built_once(shared_dir(tmp_path_factory, "distilled/seqkd"), lambda path: regenerate(RegenerationRequest(
        teachers=[tiny_teacher[1]["checkpoint"]], corpus=str(tiny_synthetic.path), out=str(path), device="cpu",
        backend="ctranslate2", compute_type="float32", shard_size=700)))


class TrainedOnDemand(Mapping):
    """student kind -> (run directory, manifest), each run trained the first time a test asks for it, so a
    test (or a selection of tests) trains only the students it reads."""

    def __init__(self, names, train):
        self._names, self._train, self._runs = tuple(names), train, {}

    def __getitem__(self, name):
        if name not in self._names:
            raise KeyError(name)
        if name not in self._runs:
            self._runs[name] = self._train(name)
        return self._runs[name]

    def __iter__(self):
        return iter(self._names)

    def __len__(self):
        return len(self._names)


@pytest.fixture(scope="session")
def tiny_students(tiny_synthetic, tiny_teacher, tmp_path_factory):
    """Every built-in student, `tiny` preset, trained on ``tiny_synthetic`` when first read (20-60 s each), once
    per run however many workers read it."""
    from nat.registry import student_names
    from nat.students import train_student

    def train(student):
        run = shared_dir(tmp_path_factory, f"students/{student}")
        return run, built_once(run, lambda path: train_student(student, tiny_synthetic.path, path, preset="tiny",
                                                               teacher=tiny_teacher[1]["checkpoint"], device="cpu"))

    return TrainedOnDemand(student_names(), train)
