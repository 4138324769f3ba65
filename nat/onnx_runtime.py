"""A ctc or dat student exported to ONNX and run by ONNX Runtime, in float32 or with ONNX Runtime's dynamic
int8 quantization of its matrix products: the same tensor function as :class:`nat.models.ctc_nat.CTCLogits`
(source tokens in, token logits and the decoder padding mask out) or :class:`nat.models.dag_nat.DAGGraph`
(the links too), so the generators and the lean path are unchanged. Users ask for exactly this: a NAT run
outside fairseq and Python's operator overhead (fairseq#1943, #2515).

The export uses PyTorch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``): the
``torch.export`` path fails on fairseq's encoder (a TorchExportError with the pinned torch), and the TorchScript path
records the same graph that :func:`nat.models.ctc_nat.trace_ctc` traces, from the same example batch (it holds
padding: fairseq's encoder zeroes padded states only when a batch has some, and a trace keeps the branch its
example took). Batch size and source length stay dynamic.
"""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from distill.io import InputError

INPUTS = ("src_tokens", "src_lengths")


def exported_function(model, states: bool = False) -> tuple[torch.nn.Module, tuple[str, ...]]:
    """The tensor function of a student that ONNX holds, and the names of its outputs (``states``: a ctc student up
    to its output layer, for decoding with a vocabulary shortlist, :mod:`nat.shortlist`)."""
    from nat.models.ctc_nat import CTCLogits, CTCStates
    from nat.models.dag_nat import DAGGraph, DATModel

    if isinstance(model, DATModel):
        if states:
            raise InputError("a vocabulary shortlist is for the ctc students; a dat student scores every token")
        return DAGGraph(model), ("logits", "links", "padding_mask")
    if states:
        return CTCStates(model), ("states", "padding_mask")
    return CTCLogits(model), ("logits", "padding_mask")


def example_batch(model) -> tuple[torch.Tensor, torch.Tensor]:
    """A two-sentence batch with padding (see the module docstring)."""
    dictionary = model.dictionary
    word, pad, eos = dictionary.nspecial, dictionary.pad(), dictionary.eos()
    tokens = torch.tensor([[word, word + 1, word + 2, eos], [word, eos, pad, pad]])
    return tokens, torch.tensor([4, 2])


def export_onnx(model, path, int8: bool = False, states: bool = False) -> Path:
    """Write the ctc or dat student ``model`` to ``path`` as ONNX (``int8``: then quantized dynamically, weights
    int8, activations quantized per batch; ``states``: see :func:`exported_function`); returns the path."""
    function, outputs = exported_function(model.cpu(), states)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    axes = {"src_tokens": {0: "batch", 1: "source"}, "src_lengths": {0: "batch"},
            **{name: {0: "batch", 1: "positions", **({2: "positions"} if name == "links" else {})}
               for name in outputs}}
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        plain = Path(scratch) / "model.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings (shape asserts, recorded as constants), deprecation
            torch.onnx.export(function.eval(), example_batch(model), str(plain), dynamo=False,
                              input_names=list(INPUTS), output_names=list(outputs), dynamic_axes=axes,
                              opset_version=17)
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantized = Path(scratch) / "model.int8.onnx"
            quantize_dynamic(str(plain), str(quantized), weight_type=QuantType.QInt8)
            plain = quantized
        plain.replace(path)  # whole, or not at all
    return path


class OnnxFunction:
    """An exported student run by ONNX Runtime on the CPU, called like the function it was exported from
    (:func:`exported_function`): torch tensors in and out (the padding mask as bool). ``threads``: ONNX Runtime's
    intra-op threads (default: torch's)."""

    def __init__(self, path, threads: int | None = None, profile: bool = False):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        if profile:  # ONNX Runtime's own profiler: every node's time, read by operator_times()
            options.enable_profiling = True
            options.profile_file_prefix = str(Path(tempfile.gettempdir()) / "seqkd-onnxruntime")
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]  # src_lengths is pruned: the encoder ignores it
        self.outputs = [o.name for o in self.session.get_outputs()]

    def __call__(self, src_tokens: torch.Tensor, src_lengths: torch.Tensor):
        feed = {"src_tokens": src_tokens.cpu().numpy(), "src_lengths": src_lengths.cpu().numpy()}
        values = self.session.run(self.outputs, {name: feed[name] for name in self.inputs})
        return tuple(torch.from_numpy(np.asarray(value, dtype=bool) if name == "padding_mask" else value)
                     for name, value in zip(self.outputs, values))


    def operator_times(self) -> dict[str, float]:
        """With ``profile``: seconds spent in each operator type (MatMul, MatMulInteger, Softmax, ...) since the
        session started, from ONNX Runtime's profile (which is then written and read back, and removed)."""
        import json

        path = Path(self.session.end_profiling())
        events = json.loads(path.read_text())
        path.unlink()
        times: dict[str, float] = {}
        for event in events:
            if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
                operator = event.get("args", {}).get("op_name", "?")
                times[operator] = times.get(operator, 0.0) + event["dur"] / 1e6  # microseconds
        return times


def onnx_function(model, int8: bool = False, device: str = "cpu", states: bool = False) -> OnnxFunction:
    """``model`` exported (to a temporary file, read once) and loaded in ONNX Runtime."""
    if device != "cpu":
        raise InputError("--runtime onnxruntime runs on the CPU (its CPU execution provider); use --device cpu")
    with tempfile.TemporaryDirectory() as scratch:
        return OnnxFunction(export_onnx(model, Path(scratch) / "model.onnx", int8=int8, states=states))
