"""fairseq checkpoints are pickles: load only checkpoints you trust.

torch >= 2.6 defaults to ``torch.load(weights_only=True)``, which rejects every fairseq
checkpoint (they pickle an argparse.Namespace / omegaconf config). This module is the
one place that changes it, and only for fairseq's own checkpoint loader
(``fairseq.checkpoint_utils``): every other ``torch.load`` in the process keeps the safe
default. Importing the ``nat`` plugin (``--user-dir nat``, or any command of this
project) applies it. A checkpoint from an untrusted source can run arbitrary code
when loaded; this project only loads paths you name on the command line.
"""
from __future__ import annotations

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


def trust_fairseq_checkpoints() -> None:
    from fairseq import checkpoint_utils

    if not isinstance(checkpoint_utils.torch, _TorchWithTrustedLoad):
        checkpoint_utils.torch = _TorchWithTrustedLoad("torch")
