"""A one-pass student exported to ONNX and run by ONNX Runtime, in float32 or with ONNX Runtime's dynamic int8
quantization of its matrix products. Each graph is a tensor function the generators already call, so they are
unchanged: a ctc or dat student is one graph (:class:`nat.models.ctc_nat.CTCLogits`,
:class:`nat.models.dag_nat.DAGGraph`: source tokens in, logits (and links) and the padding mask out); a student
that decodes at a length it predicts first is two, because the decoder's input shape depends on that length
(``nat``, ``nat-glat``: :class:`nat.generators.NATEncoding` then :class:`nat.generators.NATDecoding`; ``duration``:
:class:`nat.models.duration_nat.DurationEncoding` then :class:`~nat.models.duration_nat.DurationDecoding`), with
the lengths (or durations) picked between them in Python, as the eager path does. Users ask for exactly this: a
NAT run outside fairseq and Python's operator overhead (fairseq#1943, #2515).

The export uses PyTorch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``): the
``torch.export`` path fails on fairseq's encoder (a TorchExportError with the pinned torch), and the TorchScript path
records the same graph that :func:`nat.models.ctc_nat.trace_ctc` traces, from example inputs that hold padding
(fairseq's encoder zeroes padded states only when a batch has some, and a trace keeps the branch its example
took). Batch size and every length stay dynamic. A graph's input names, in its function's order, are kept in the
file's metadata (``seqkd.inputs``): ONNX Runtime drops an input the graph does not read (``src_lengths``).
"""
from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from distill.io import InputError

INPUTS = ("src_tokens", "src_lengths")
INPUTS_KEY = "seqkd.inputs"


@dataclass(frozen=True)
class Graph:
    """One tensor function of a student that ONNX holds: its name (``model`` when it is the student's only
    graph), the function, example inputs to trace it on, and its inputs' and outputs' names and dynamic axes."""

    name: str
    function: torch.nn.Module
    example: tuple
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    axes: dict


_BATCH, _SOURCE, _POSITIONS = {0: "batch"}, {0: "batch", 1: "source"}, {0: "batch", 1: "positions"}


def example_batch(model) -> tuple[torch.Tensor, torch.Tensor]:
    """A two-sentence batch with padding (see the module docstring)."""
    dictionary = model.dictionary if hasattr(model, "dictionary") else model.encoder.dictionary
    word, pad, eos = dictionary.nspecial, dictionary.pad(), dictionary.eos()
    tokens = torch.tensor([[word, word + 1, word + 2, eos], [word, eos, pad, pad]])
    return tokens, torch.tensor([4, 2])


def student_graphs(model, states: bool = False) -> list[Graph]:
    """The graphs of a one-pass student, in the order decoding calls them (``states``: a ctc student up to its
    output layer, for decoding with a vocabulary shortlist, :mod:`nat.shortlist`)."""
    from fairseq.models.nat import NATransformerModel

    from nat.generators import NATDecoding, NATEncoding
    from nat.models.ctc_nat import CTCLogits, CTCNATModel, CTCStates
    from nat.models.dag_nat import DAGGraph, DATModel
    from nat.models.duration_nat import DurationDecoding, DurationEncoding, DurationNATModel

    if states and (isinstance(model, DATModel) or not isinstance(model, CTCNATModel)):
        raise InputError("a vocabulary shortlist is for the ctc students; the other students score every token")
    source = example_batch(model)
    source_axes = {"src_tokens": _SOURCE, "src_lengths": _BATCH}
    if isinstance(model, DATModel):
        return [Graph("model", DAGGraph(model), source, INPUTS, ("logits", "links", "padding_mask"),
                      {**source_axes, "logits": _POSITIONS, "links": {0: "batch", 1: "positions", 2: "positions"},
                       "padding_mask": _POSITIONS})]
    if isinstance(model, CTCNATModel):
        first = "states" if states else "logits"
        return [Graph("model", (CTCStates if states else CTCLogits)(model), source, INPUTS, (first, "padding_mask"),
                      {**source_axes, first: _POSITIONS, "padding_mask": _POSITIONS})]
    if isinstance(model, NATransformerModel):
        encode = NATEncoding(model)
        with torch.no_grad():
            encoded = encode.eval()(*source)
        dictionary = model.decoder.dictionary
        bos, unk, eos, pad = dictionary.bos(), dictionary.unk(), dictionary.eos(), dictionary.pad()
        start = torch.tensor([[bos, unk, unk, unk, eos], [bos, unk, eos, pad, pad]])  # with padding, as the source
        middle = ("encoder_states", "source_embedding", "source_padding_mask")
        middle_axes = {"encoder_states": {0: "source", 1: "batch"}, "source_embedding": _SOURCE,
                       "source_padding_mask": _SOURCE}
        return [Graph("encoder", encode, source, INPUTS, (*middle, "lengths"),
                      {**source_axes, **middle_axes, "lengths": _BATCH}),
                Graph("decoder", NATDecoding(model), (*encoded[:3], start), (*middle, "prev_output_tokens"),
                      ("scores", "tokens"), {**middle_axes, "prev_output_tokens": _POSITIONS, "scores": _POSITIONS,
                                             "tokens": _POSITIONS})]
    if isinstance(model, DurationNATModel):
        encode = DurationEncoding(model)
        with torch.no_grad():
            states, _, _ = encode.eval()(*source)
        index = torch.tensor([[0, 0, 1, 2, 3, 3], [0, 1, 1, 0, 0, 0]])  # padded, as the source
        padding = torch.tensor([[False] * 6, [False] * 3 + [True] * 3])
        middle_axes = {"states": _SOURCE, "padding_mask": _SOURCE}
        return [Graph("encoder", encode, source, INPUTS, ("states", "padding_mask", "log_durations"),
                      {**source_axes, **middle_axes, "log_durations": _SOURCE}),
                Graph("decoder", DurationDecoding(model), (states, index, padding),
                      ("states", "index", "output_padding_mask"), ("logits",),
                      {"states": _SOURCE, "index": _POSITIONS, "output_padding_mask": _POSITIONS,
                       "logits": _POSITIONS})]
    raise InputError(f"a {type(model).__name__}: ONNX export covers the one-pass students "
                     "(ctc, ctc-glat, nat, nat-glat, duration, dat)")


def graph_paths(path, graphs: list[Graph]) -> list[Path]:
    """Where :func:`export_onnx` writes each graph: ``path`` for a one-graph student, else ``path`` with the
    graph's name before ``.onnx`` (``model.onnx`` -> ``model.encoder.onnx``, ``model.decoder.onnx``)."""
    path = Path(path)
    if len(graphs) == 1:
        return [path]
    return [path.with_name(f"{path.stem}.{graph.name}{path.suffix}") for graph in graphs]


def export_onnx(model, path, int8: bool = False, states: bool = False) -> list[Path]:
    """Write the one-pass student ``model`` as ONNX, one file per graph (:func:`graph_paths`; ``int8``: then
    quantized dynamically, weights int8, activations quantized per batch; ``states``: see
    :func:`student_graphs`); returns the paths, in the order decoding calls the graphs."""
    import onnx

    graphs = student_graphs(model.cpu().eval(), states)
    paths = graph_paths(path, graphs)
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=paths[0].parent) as scratch:
        written = []
        for graph in graphs:
            plain = Path(scratch) / f"{graph.name}.onnx"
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings (shape asserts, recorded as constants), deprecation
                torch.onnx.export(graph.function.eval(), graph.example, str(plain), dynamo=False,
                                  input_names=list(graph.inputs), output_names=list(graph.outputs),
                                  dynamic_axes=graph.axes, opset_version=17)
            if int8:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                quantized = Path(scratch) / f"{graph.name}.int8.onnx"
                quantize_dynamic(str(plain), str(quantized), weight_type=QuantType.QInt8)
                plain = quantized
            exported = onnx.load(str(plain))
            onnx.helper.set_model_props(exported, {INPUTS_KEY: ",".join(graph.inputs)})
            onnx.save(exported, str(plain))
            written.append(plain)
        for plain, target in zip(written, paths):  # each file whole, or not at all
            plain.replace(target)
    return paths


def describe_graph(path) -> str:
    """One line: the file, its size and its inputs and outputs with their shapes (dynamic axes by name)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def shapes(values) -> str:
        return ", ".join(f"{value.name} [{', '.join(str(dim) for dim in value.shape)}]" for value in values)

    return (f"{path}: {Path(path).stat().st_size / 2**20:.1f} MiB; inputs {shapes(session.get_inputs())}; "
            f"outputs {shapes(session.get_outputs())}")


class OnnxFunction:
    """An exported student run by ONNX Runtime on the CPU, called like the function it was exported from
    (:attr:`Graph.function`): torch tensors in and out, one tensor or a tuple. ``threads``: ONNX Runtime's
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
        declared = self.session.get_modelmeta().custom_metadata_map.get(INPUTS_KEY)
        if declared is None:
            raise InputError(f"{path}: no {INPUTS_KEY} in its metadata; export it with seqkd-nat export")
        self.declared = tuple(declared.split(","))  # the function's arguments, in order
        self.inputs = {i.name for i in self.session.get_inputs()}  # without those the graph does not read
        self.outputs = [o.name for o in self.session.get_outputs()]

    def __call__(self, *tensors: torch.Tensor):
        if len(tensors) != len(self.declared):
            raise TypeError(f"expected {len(self.declared)} tensors ({', '.join(self.declared)}), got {len(tensors)}")
        feed = {name: tensor.cpu().numpy() for name, tensor in zip(self.declared, tensors) if name in self.inputs}
        values = self.session.run(self.outputs, feed)
        outputs = tuple(torch.from_numpy(np.asarray(value)) for value in values)
        return outputs[0] if len(outputs) == 1 else outputs

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


def onnx_functions(model, int8: bool = False, device: str = "cpu", states: bool = False) -> list[OnnxFunction]:
    """``model``'s graphs exported (to temporary files, read once) and loaded in ONNX Runtime, in the order
    decoding calls them (:func:`student_graphs`)."""
    if device != "cpu":
        raise InputError("--runtime onnxruntime runs on the CPU (its CPU execution provider); use --device cpu")
    with tempfile.TemporaryDirectory() as scratch:
        return [OnnxFunction(path) for path in export_onnx(model, Path(scratch) / "model.onnx", int8=int8,
                                                            states=states)]
