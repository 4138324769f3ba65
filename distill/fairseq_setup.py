"""Importing fairseq for this project: quietly, and able to read its own checkpoints.

fairseq checkpoints are pickles: load only checkpoints you trust. torch >= 2.6 defaults to
``torch.load(weights_only=True)``, which rejects every fairseq checkpoint (they pickle an
argparse.Namespace / omegaconf config). :func:`prepare_fairseq` is the one place that changes
it, and only for fairseq's own checkpoint loader (``fairseq.checkpoint_utils``): every other
``torch.load`` in the process keeps the safe default. A checkpoint from an untrusted source can
run arbitrary code when loaded; this project only loads paths you name on the command line.

Importing fairseq's models also runs wav2vec2_classification's ``logging.basicConfig(level=DEBUG)``,
which floods every later output of the program (matplotlib font lookups, ...); it is undone here.

fairseq saves a step that ends an epoch only under epoch names (``checkpoint<epoch>.pt``), never as
``checkpoint_<epoch>_<updates>.pt``, even when it falls on ``--save-interval-updates``. A run that keeps every
interval checkpoint (``--keep-interval-updates -1``: the points of a student's learning curve) and saves no
epoch checkpoints (``--save-interval`` past its epochs: a preset without epoch saves) would lose those points;
:func:`prepare_fairseq` makes fairseq keep them too (:func:`_saving_checkpoints`), and log
the training process's CPU time at every save.

fairseq imports every one of its task and criterion modules when it is imported. Three of them, for work this
project never does (audio classification; sentence prediction and its adapters), import scikit-learn, which
imports scipy.stats: about 2 of the 6 s that ``import fairseq`` takes on the 2-core machines, paid by every process
that imports fairseq (each training, each ``seqkd-*`` command, each benchmark worker). :func:`prepare_fairseq` and
the launcher (:mod:`distill.fairseq_tool`) defer them (:func:`defer_unused_fairseq_modules`) before fairseq is
imported: each is run, registrations and all, only when something reads a name from it.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import logging
import os
import sys
import types

import torch

# fairseq's modules that import scikit-learn, for tasks and criteria this project does not use
DEFERRED_FAIRSEQ_MODULES = ("fairseq.tasks.audio_classification", "fairseq.criterions.sentence_prediction",
                            "fairseq.criterions.sentence_prediction_adapters")


class _Deferred(types.ModuleType):
    """A module imported but not run: the first name read from it runs the module (as its import would have) and
    is read from it; the module then stands in ``sys.modules`` in this one's place."""

    def __getattr__(self, name):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def defer_unused_fairseq_modules() -> None:
    """Before fairseq is first imported in this process: let :data:`DEFERRED_FAIRSEQ_MODULES` be imported without
    being run, so that fairseq's import does not import scikit-learn (their task and criteria are missing from
    fairseq's registries until one of them is read from). Nothing once fairseq is imported."""
    if "fairseq" in sys.modules or (fairseq := importlib.util.find_spec("fairseq")) is None:
        return
    root = fairseq.submodule_search_locations[0]
    for name in DEFERRED_FAIRSEQ_MODULES:
        package = os.path.join(root, *name.split(".")[1:-1])  # found without importing fairseq's packages
        spec = importlib.machinery.PathFinder.find_spec(name, [package])
        if spec is None:  # a fairseq without it
            continue
        module = _Deferred(name)
        module.__spec__, module.__file__, module.__loader__ = spec, spec.origin, spec.loader
        sys.modules[name] = module


class _TorchWithTrustedLoad(types.ModuleType):
    """Stands in for ``torch`` inside fairseq.checkpoint_utils; only ``load`` differs."""

    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def load(f, *args, **kwargs):
        kwargs.setdefault("weights_only", False)
        return torch.load(f, *args, **kwargs)


def prepare_fairseq() -> None:
    """Import fairseq (its models included) leaving the root logger's level as it was, and let its
    checkpoint loader read fairseq checkpoints. Idempotent."""
    defer_unused_fairseq_modules()
    root_level = logging.getLogger().level
    logging.getLogger("fairseq.tasks.text_to_speech").setLevel(logging.WARNING)  # "install tensorboardX" noise
    from fairseq import checkpoint_utils  # imports every fairseq model

    logging.getLogger().setLevel(root_level)
    if not isinstance(checkpoint_utils.torch, _TorchWithTrustedLoad):
        checkpoint_utils.torch = _TorchWithTrustedLoad("torch")
    if not getattr(checkpoint_utils.save_checkpoint, "wrapped_here", False):
        checkpoint_utils.save_checkpoint = _saving_checkpoints(checkpoint_utils.save_checkpoint)


# logged at every checkpoint save (distill.engine.training_cpu_clock reads it)
CPU_SECONDS = "CPU seconds {seconds:.1f} at {updates} updates (this training process, its threads together)"


def _saving_checkpoints(save_checkpoint):
    """fairseq's ``save_checkpoint(cfg, trainer, epoch_itr, val_loss)``, then, at a step on the update interval
    that ends an epoch of a run that keeps every interval checkpoint and saves none under the epoch's name,
    ``checkpoint_last.pt`` copied to ``checkpoint_<epoch>_<updates>.pt`` with fairseq's own "Saved checkpoint"
    log line (which :mod:`nat.curves` reads); and at every save, the process's CPU time so far
    (:data:`CPU_SECONDS`: a measure of a run's compute that other work on the machine does not inflate, as it
    does wall time). Replaces the module's function, whose own name lookups (its ``best`` attribute) then reach
    this one, as fairseq_cli.train's do."""
    import os
    import time

    from fairseq.checkpoint_utils import logger
    from fairseq.file_io import PathManager

    def saving(cfg, trainer, epoch_itr, val_loss):
        saved = save_checkpoint(cfg, trainer, epoch_itr, val_loss)
        if cfg.no_save or not trainer.should_save_checkpoint_on_current_rank:
            return saved
        epoch, updates = epoch_itr.epoch, trainer.get_num_updates()
        named_by_epoch = not cfg.no_epoch_checkpoints and epoch % cfg.save_interval == 0
        if (epoch_itr.end_of_epoch() and cfg.save_interval_updates > 0 and updates % cfg.save_interval_updates == 0
                and cfg.keep_interval_updates < 0 and not named_by_epoch and not cfg.no_last_checkpoints):
            suffix = trainer.checkpoint_suffix
            last = os.path.join(cfg.save_dir, f"checkpoint_last{suffix}.pt")
            interval = os.path.join(cfg.save_dir, f"checkpoint_{epoch}_{updates}{suffix}.pt")
            if PathManager.isfile(last):
                assert PathManager.copy(last, interval, overwrite=True), f"Failed to copy {last} to {interval}"
                logger.info(f"Saved checkpoint {interval} (epoch {epoch} @ {updates} updates, score {val_loss}) "
                            f"(copied from {last}: an interval step that ends an epoch)")
        logger.info(CPU_SECONDS.format(seconds=time.process_time(), updates=updates))
        return saved

    saving.wrapped_here = True
    return saving
