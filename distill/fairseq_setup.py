"""Importing fairseq for this project: quietly, and able to read its own checkpoints.

fairseq checkpoints are pickles: load only checkpoints you trust. torch >= 2.6 defaults to
``torch.load(weights_only=True)``, which rejects every fairseq checkpoint (they pickle an
argparse.Namespace / omegaconf config). :func:`prepare_fairseq` is the one place that changes
it, and only for fairseq's own checkpoint loader (``fairseq.checkpoint_utils``): every other
``torch.load`` in the process keeps the safe default. A checkpoint from an untrusted source can
run arbitrary code when loaded; this project only loads paths you name on the command line.

Importing fairseq's models also runs wav2vec2_classification's ``logging.basicConfig(level=DEBUG)``,
which floods every later output of the program (matplotlib font lookups, ...); it is undone here.
"""
from __future__ import annotations

import logging
import types

import torch


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
    root_level = logging.getLogger().level
    logging.getLogger("fairseq.tasks.text_to_speech").setLevel(logging.WARNING)  # "install tensorboardX" noise
    from fairseq import checkpoint_utils  # imports every fairseq model

    logging.getLogger().setLevel(root_level)
    if not isinstance(checkpoint_utils.torch, _TorchWithTrustedLoad):
        checkpoint_utils.torch = _TorchWithTrustedLoad("torch")
