"""Shrink and fine-tune (Shleifer & Rush 2020, "Pre-trained Summarization Distillation"): a student whose
decoder keeps some of its teacher's layers, started from the teacher's weights.

The student copies the teacher's embeddings, encoder and a subset of its decoder layers, "maximally spaced":
for the teacher depths their code has a table for (6: Marian, 12: BART, 16: Pegasus; transformers'
seq2seq-distillation ``LAYERS_TO_COPY``), that table's choice (12 -> 3 keeps layers 0, 6 and 11); for other
depths the first and the last layer with the rest spread evenly between them. It is then fine-tuned
on raw or distilled data like any run (fairseq's ``--restore-file`` with its optimizer, scheduler and data
position reset). :func:`shrink_checkpoint` writes that starting checkpoint; the student's
``--decoder-layers`` must be the number of layers kept.
"""
from __future__ import annotations

import re
from pathlib import Path

from distill.io import InputError

DECODER_LAYER = re.compile(r"^decoder\.layers\.(\d+)\.(.*)$")


# Shleifer & Rush's choices (teacher depth -> student depth -> the teacher layers kept)
PUBLISHED_CHOICES = {
    6: {1: [0], 2: [0, 5], 3: [0, 2, 5], 4: [0, 1, 3, 5]},
    12: {1: [0], 2: [0, 6], 3: [0, 6, 11], 4: [0, 4, 8, 11], 6: [0, 2, 4, 7, 9, 11], 9: [0, 1, 2, 4, 5, 7, 9, 10, 11]},
    16: {1: [0], 2: [0, 15], 3: [0, 8, 15], 4: [0, 5, 10, 15], 6: [0, 3, 6, 9, 12, 15], 8: [0, 2, 4, 6, 8, 10, 12, 15],
         9: [0, 1, 3, 5, 7, 9, 11, 13, 15], 12: [0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 13, 15]},
}


def spaced_layers(teacher_layers: int, student_layers: int) -> list[int]:
    """The teacher's decoder layers a student of ``student_layers`` keeps (module docstring)."""
    if not 1 <= student_layers <= teacher_layers:
        raise InputError(f"a student of {student_layers} decoder layers cannot be cut from a teacher of "
                         f"{teacher_layers}; choose 1 to {teacher_layers}")
    if student_layers in PUBLISHED_CHOICES.get(teacher_layers, {}):
        return list(PUBLISHED_CHOICES[teacher_layers][student_layers])
    if student_layers == 1:
        return [0]
    step = (teacher_layers - 1) / (student_layers - 1)
    return [int(i * step + 0.5) for i in range(student_layers)]


def shrink_state(model_state: dict, keep: list[int]) -> dict:
    """The teacher's state dict with decoder layer ``keep[i]`` renamed to layer ``i`` and the other layers left
    out; every other tensor (embeddings, encoder, output projection, layer norms) is the teacher's."""
    renamed = {old: new for new, old in enumerate(keep)}
    state = {}
    for name, tensor in model_state.items():
        match = DECODER_LAYER.match(name)
        if match is None:
            state[name] = tensor
        elif int(match.group(1)) in renamed:
            state[f"decoder.layers.{renamed[int(match.group(1))]}.{match.group(2)}"] = tensor
    return state


def shrink_checkpoint(teacher_checkpoint, student_layers: int, out) -> dict:
    """Write the shrunk student's starting checkpoint to ``out``; returns what it kept (for the run's record)."""
    import torch

    from distill.fairseq_setup import prepare_fairseq
    from distill.io import atomic_open

    prepare_fairseq()
    checkpoint = torch.load(teacher_checkpoint, map_location="cpu", weights_only=False)  # trusted: our teacher
    layers = checkpoint["cfg"]["model"].decoder_layers
    keep = spaced_layers(layers, student_layers)
    checkpoint["model"] = shrink_state(checkpoint["model"], keep)
    checkpoint["cfg"]["model"].decoder_layers = student_layers
    # the optimizer's state does not fit the new shape (and --finetune-from-model resets it); its history stays:
    # fairseq's loader reads it (a checkpoint without it is upgraded from a "best_loss" it no longer has)
    checkpoint.pop("last_optimizer_state", None)
    out = Path(out)
    with atomic_open(out, "wb", encoding=None) as handle:
        torch.save(checkpoint, handle)
    return {"teacher_checkpoint": str(teacher_checkpoint), "teacher_decoder_layers": layers,
            "kept_decoder_layers": keep}
