"""A fairseq command-line tool, as this project runs it: ``python -m distill.fairseq_tool TOOL [--precision bf16]
ARGS``, for fairseq-TOOL ARGS (``train``, ``preprocess``).

ARGS are fairseq's, passed on unchanged; :mod:`distill.engine` launches every fairseq tool this way (every rank of
a multi-process training too), and its log shows the command. Two things differ from ``fairseq-TOOL`` itself,
both in this process only: fairseq's modules for work this project never does are imported without being run
(:func:`distill.fairseq_setup.defer_unused_fairseq_modules`: 2 s of each process's start), and ``train
--precision bf16`` runs every criterion call under bfloat16 autocast (:mod:`distill.fairseq_train`).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from distill.fairseq_train import AUTOCAST_DTYPES

TOOLS = ("train", "preprocess")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m distill.fairseq_tool", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tool", choices=TOOLS)
    parser.add_argument("--precision", choices=sorted(AUTOCAST_DTYPES), help="train only: autocast precision")
    leading = 3 if argv[1:2] == ["--precision"] else 1  # only the leading options are ours
    ours = parser.parse_args(argv[:leading])
    fairseq_args = argv[leading:]
    if ours.precision and ours.tool != "train":
        parser.error(f"--precision is for training, not fairseq-{ours.tool}")
    from distill.fairseq_setup import defer_unused_fairseq_modules

    defer_unused_fairseq_modules()
    # then fairseq_cli's module: it sets up logging before fairseq is imported, as fairseq-TOOL does; the
    # --user-dir plugins, imported when it parses ARGS, run distill.fairseq_setup.prepare_fairseq
    cli_main = importlib.import_module(f"fairseq_cli.{ours.tool}").cli_main
    if ours.precision:
        from distill.fairseq_train import install_autocast

        device_type = "cpu" if "--cpu" in fairseq_args else "cuda"
        install_autocast(device_type, AUTOCAST_DTYPES[ours.precision])
        logging.getLogger("distill.fairseq_tool").info(
            f"{ours.precision}: torch.autocast({device_type!r}, {AUTOCAST_DTYPES[ours.precision]}) around forward "
            f"and loss; float32 weights and optimizer state")
    sys.argv = [f"fairseq-{ours.tool}", *fairseq_args]
    cli_main()


if __name__ == "__main__":
    main()
