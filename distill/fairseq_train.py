"""fairseq-train in bfloat16 autocast: ``python -m distill.fairseq_train --precision bf16 ARGS``.

ARGS are fairseq-train's, passed on unchanged; :mod:`distill.engine` launches every bf16 training
this way (every rank of a multi-process one too), and ``train.log`` shows the command. The one
change to fairseq, made in this process only and without touching its installed files: every
criterion call, ``criterion(model, sample)`` in the tasks' ``train_step`` and ``valid_step``, runs
under ``torch.autocast(device, torch.bfloat16)``. That covers the model's forward and the loss
(word-level KD's teacher forward included); the backward pass follows the dtypes autocast
recorded, and the parameters, gradients and Adam state stay float32 (:mod:`distill.precision`).
Wrapping the criterion, not a task's ``train_step``, reaches every task: fairseq's
``translation_lev`` overrides ``train_step`` without calling the base class.
"""
from __future__ import annotations

import argparse
import logging
import sys

AUTOCAST_DTYPES = {"bf16": "bfloat16"}


def install_autocast(device_type: str, dtype_name: str = "bfloat16") -> None:
    """Make every fairseq criterion call run under ``torch.autocast(device_type, dtype)``. Idempotent."""
    import torch
    from fairseq.criterions import FairseqCriterion

    if getattr(FairseqCriterion.__call__, "autocast", None) == (device_type, dtype_name):
        return
    dtype = getattr(torch, dtype_name)
    call = torch.nn.Module.__call__

    def __call__(self, *args, **kwargs):
        with torch.autocast(device_type, dtype=dtype):
            return call(self, *args, **kwargs)

    __call__.autocast = (device_type, dtype_name)
    FairseqCriterion.__call__ = __call__


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m distill.fairseq_train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precision", required=True, choices=sorted(AUTOCAST_DTYPES))
    ours, fairseq_args = parser.parse_known_args(argv[:2])  # only the leading option is ours
    fairseq_args += argv[2:]
    from fairseq_cli.train import cli_main  # first: it sets up logging before fairseq is imported, as fairseq-train does

    from distill.fairseq_setup import prepare_fairseq

    prepare_fairseq()
    device_type = "cpu" if "--cpu" in fairseq_args else "cuda"
    install_autocast(device_type, AUTOCAST_DTYPES[ours.precision])
    logging.getLogger("distill.fairseq_train").info(
        f"{ours.precision}: torch.autocast({device_type!r}, {AUTOCAST_DTYPES[ours.precision]}) around forward and "
        f"loss; float32 weights and optimizer state")
    sys.argv = ["fairseq-train", *fairseq_args]
    cli_main()


if __name__ == "__main__":
    main()
