"""fairseq-train in bfloat16 autocast, as the launcher runs it: ``python -m distill.fairseq_tool train
--precision bf16 ARGS`` (:mod:`distill.fairseq_tool`).

ARGS are fairseq-train's, passed on unchanged; :mod:`distill.engine` launches every bf16 training
this way (every rank of a multi-process one too), and ``train.log`` shows the command. The one
change to fairseq, made in this process only and without touching its installed files: every
criterion call, ``criterion(model, sample)`` in the tasks' ``train_step`` and ``valid_step``, runs
under ``torch.autocast(device, torch.bfloat16)``, with the attention core kept in float32 on a CPU
(see :func:`install_autocast`). That covers the model's forward and the loss
(word-level KD's teacher forward included); the backward pass follows the dtypes autocast
recorded, and the parameters, gradients and Adam state stay float32 (:mod:`distill.precision`).
Wrapping the criterion, not a task's ``train_step``, reaches every task: fairseq's
``translation_lev`` overrides ``train_step`` without calling the base class.
"""
from __future__ import annotations

AUTOCAST_DTYPES = {"bf16": "bfloat16"}


def install_autocast(device_type: str, dtype_name: str = "bfloat16") -> None:
    """Make every fairseq criterion call run under ``torch.autocast(device_type, dtype)``, and, on a CPU,
    the attention core (``scaled_dot_product_attention``) in float32 inside it. Idempotent."""
    import torch
    import torch.nn.functional as F
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
    if device_type == "cpu":
        # torch.nn.functional.multi_head_attention_forward looks the name up at each call, so this reaches
        # fairseq's attention; in bfloat16 the CPU flash-attention backward was 4x slower than in float32
        # (86 -> 360 ms a ctc step), which cost the ctc student its whole gain (docs/design.md)
        F.scaled_dot_product_attention = _float32_attention(F.scaled_dot_product_attention)


def _float32_attention(attention):
    """``scaled_dot_product_attention`` that runs in float32 where CPU autocast is on (its output cast
    back to the query's dtype), and unchanged elsewhere."""
    import torch

    def scaled_dot_product_attention(query, key, value, attn_mask=None, *args, **kwargs):
        if not torch.is_autocast_enabled("cpu"):
            return attention(query, key, value, attn_mask, *args, **kwargs)
        if attn_mask is not None and attn_mask.is_floating_point():
            attn_mask = attn_mask.float()
        with torch.autocast("cpu", enabled=False):
            return attention(query.float(), key.float(), value.float(), attn_mask, *args, **kwargs).to(query.dtype)

    return scaled_dot_product_attention
