"""The arithmetic a training runs in: float32, bfloat16 autocast, or (CUDA) fairseq's fp16.

  fp32  every operation in float32 (fairseq's default).
  bf16  ``torch.autocast(device, torch.bfloat16)`` around every criterion call, training and
        validation alike (the model's forward and the loss); the parameters, their gradients and
        the optimizer's state stay float32 (the master weights), and there is no loss scaling:
        bfloat16 has float32's exponent range. Installed by this project's launcher
        (:mod:`distill.fairseq_tool`): fairseq's own ``--bf16`` sets ``--tpu`` and asks torch_xla
        for a device (fairseq/options.py), and its ``--amp`` is CUDA's GradScaler.
  fp16  CUDA only: fairseq's ``--fp16`` (half-precision weights, fp32 master copy, loss scaling),
        what the GPU presets (``base``, ``big``) have always used.

The default is decided once per process from what torch reports of the CPU: bf16 where it runs
bfloat16 matrix products in hardware (AMX or AVX512-BF16), fp32 elsewhere (emulated bfloat16 is
slower than float32); on CUDA, the preset's fp16 or fp32. A preset can fix its own (the `tiny`
and `quick` presets: fp32, as their 1-layer, d=64 models gain little from bf16), and
``--precision`` on the command line overrides both. The precision is part of every run's
identity (its config hash): a bf16 run never reuses or overwrites an fp32 one. Inference
(evaluation, decoding, regeneration, the duration extraction) stays float32: docs/design.md says why.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from distill.fairseq_train import AUTOCAST_DTYPES
from distill.io import InputError

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Precision:
    """A training's arithmetic (:data:`PRECISIONS`) and why it was chosen (the log line)."""

    name: str
    reason: str

    @property
    def autocast(self) -> bool:
        """Whether the launcher (:mod:`distill.fairseq_tool`) wraps the criterion in autocast."""
        return self.name in AUTOCAST_DTYPES

    def log_line(self, run: str) -> str:
        return f"{run}: precision {self.name} ({self.reason})"


@functools.cache
def cpu_bf16_feature() -> str | None:
    """The CPU feature through which torch runs bfloat16 matrix products in hardware ("AMX" or
    "AVX512-BF16"), or None: asked of torch once per process."""
    import torch

    probes = (("AMX", "_is_amx_tile_supported"), ("AVX512-BF16", "_is_avx512_bf16_supported"))
    for feature, probe in probes:
        try:
            if getattr(torch.cpu, probe)():
                return feature
        except (AttributeError, RuntimeError):  # an older torch, or a CPU torch cannot ask
            continue
    return None


def cpu_model() -> str | None:
    """The CPU's model name as Linux reports it (``platform.processor()`` is often empty or just the ISA):
    reports and benchmarks name it, since float arithmetic, and so trained weights, can differ between CPUs."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def choose_precision(requested: str | None, device: str, preset_precision: str | None = None) -> Precision:
    """The precision of a training on ``device`` ("cpu" or "cuda"): ``requested`` (``--precision``)
    if given, else the preset's if it fits the device (fp16 only on CUDA), else bf16 on a CPU with
    hardware bfloat16 and fp32 otherwise."""
    if requested is not None:
        if requested not in PRECISIONS:
            raise InputError(f"--precision {requested!r}: choose one of {', '.join(PRECISIONS)}")
        if requested == "fp16" and device != "cuda":
            raise InputError("--precision fp16 is fairseq's CUDA mixed precision; on a CPU use bf16 or fp32")
        if requested == "bf16" and device == "cpu" and cpu_bf16_feature() is None:
            return Precision("bf16", "--precision bf16; this CPU has no hardware bfloat16, so it is emulated "
                                     "and likely slower than fp32")
        return Precision(requested, f"--precision {requested}")
    if device == "cuda":
        if preset_precision in ("fp16", "bf16"):
            return Precision(preset_precision, "the preset's; --precision to change")
        return Precision("fp32", "the default on CUDA for a preset without fp16; --precision to change")
    if preset_precision in ("fp32", "bf16"):  # a preset's fp16 is for CUDA
        why = " (its tiny models gain little from bf16)" if preset_precision == "fp32" else ""
        return Precision(preset_precision, f"the preset's{why}; --precision to change")
    feature = cpu_bf16_feature()
    if feature is None:
        return Precision("fp32", "this CPU has neither AMX nor AVX512-BF16 (as torch reports it), and emulated "
                                 "bfloat16 is slower; --precision bf16 to force it")
    return Precision("bf16", f"default on a CPU with {feature}: bfloat16 autocast, float32 weights; "
                             f"--precision fp32 to change")


def add_precision_option(parser) -> None:
    """``--precision`` for every command that trains."""
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="training arithmetic: bf16 (autocast, fp32 weights; the default on a CPU with AMX or "
                             "AVX512-BF16, except for the tiny and quick presets), fp32 (the default elsewhere), fp16 "
                             "(CUDA, fairseq's; the GPU presets' default); part of the run's identity")
