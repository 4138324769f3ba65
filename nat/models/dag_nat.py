"""Directed acyclic Transformer (``--arch dag_nat``; Huang et al. 2022, "Directed Acyclic Transformer for
Non-Autoregressive Machine Translation").

The decoder is ``ctc_nat``'s: every encoder state repeated ``--upsample-ratio`` times (+ learned positions),
non-causal layers with cross-attention, a token softmax per position (here: per vertex). On top, each vertex
``v`` scores every later vertex ``u`` by ``q_v . k_u / sqrt(dim)`` (one learned query and key projection of the
decoder states); a softmax over the later vertices of the sentence gives the links ``P(u | v)``
(:func:`nat.dag.masked_links`). The loss (``dag_nat_loss``) sums over every path of the graph that writes the
target; decoding follows one path (:class:`DAGGenerator`, :func:`nat.dag.dag_paths`). The links are computed in
float32 whatever the training precision: they are summed over many paths.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.models import register_model, register_model_architecture

from ..dag import DAG_DECODINGS, VITERBI_BETA, dag_paths, masked_links
from .ctc_nat import CTCNATModel, ctc_nat_base
from .joined_encoder import build_joined_encoder


@register_model("dag_nat")
class DATModel(CTCNATModel):
    def __init__(self, args, encoder, dictionary):
        super().__init__(args, encoder, dictionary)
        dim = args.encoder_embed_dim
        self.link_query = nn.Linear(dim, dim)
        self.link_key = nn.Linear(dim, dim)

    @classmethod
    def build_model(cls, args, task):
        dag_nat_base(args)
        encoder, dictionary = build_joined_encoder(args, task, "dag_nat")
        return cls(args, encoder, dictionary)

    def links(self, states, padding_mask):
        """Link log-probabilities [batch, vertices, vertices] of decoder states (float32)."""
        with torch.autocast(device_type=states.device.type, enabled=False):
            states = states.float()
            scores = self.link_query(states) @ self.link_key(states).transpose(1, 2) / states.size(-1) ** 0.5
            return masked_links(scores, (~padding_mask).sum(1))

    def decode_graph(self, encoder_out, src_tokens, glanced_tokens=None):
        """Token logits [batch, vertices, vocab], link log-probabilities [batch, vertices, vertices] and the
        padding mask of the vertices."""
        states, padding_mask = self.decoder_states(encoder_out, src_tokens, glanced_tokens)
        return self.output_logits(states), self.links(states, padding_mask), padding_mask

    def forward(self, src_tokens, src_lengths, prev_output_tokens=None, glanced_tokens=None, **unused):
        logits, links, padding_mask = self.decode_graph(self.encode(src_tokens, src_lengths), src_tokens,
                                                        glanced_tokens)
        return {"logits": logits, "links": links, "output_padding_mask": padding_mask}


class DAGGraph(nn.Module):
    """A DAG student as one tensor function, source tokens in, token logits, links and the vertices' padding mask
    out: what decoding calls, and what ONNX exports (:mod:`nat.onnx_runtime`)."""

    def __init__(self, model: DATModel):
        super().__init__()
        self.model = model

    def forward(self, src_tokens, src_lengths):
        return self.model.decode_graph(self.model.encode(src_tokens, src_lengths), src_tokens)


class DAGGenerator:
    """Inference for the DA-Transformer in one pass: each vertex writes its argmax token, ``strategy``
    (:data:`nat.dag.DAG_DECODINGS`) picks the path; ``<s>``, ``</s>`` and padding on it are dropped and one
    ``</s>`` ends the output. ``graph``: the model's :class:`DAGGraph`, or the same function in ONNX Runtime."""

    graphs = ("graph",)  # the attributes holding its tensor functions, in calling order (nat.onnx_runtime)

    def __init__(self, dictionary, graph, strategy: str = DAG_DECODINGS[0], beta: float = VITERBI_BETA):
        if strategy not in DAG_DECODINGS:
            raise ValueError(f"unknown DAG decoding {strategy!r}; choose one of {', '.join(DAG_DECODINGS)}")
        self.eos, self.specials = dictionary.eos(), {dictionary.bos(), dictionary.eos(), dictionary.pad()}
        self.graph, self.strategy, self.beta = graph, strategy, beta

    @torch.no_grad()
    def generate(self, models, sample, **unused):
        src_tokens = sample["net_input"]["src_tokens"]
        logits, links, padding_mask = self.graph(src_tokens, sample["net_input"]["src_lengths"])
        best = F.log_softmax(logits.float(), dim=-1).max(-1)
        paths = dag_paths(best.values, links, (~padding_mask).sum(1), self.strategy, self.beta)
        results = []
        for row, path in enumerate(paths):
            written = best.indices[row, path].tolist()
            tokens = [token for token in written if token not in self.specials] + [self.eos]
            results.append([{"tokens": src_tokens.new_tensor(tokens), "score": best.values[row, path].mean(),
                             "positional_scores": None, "alignment": None}])
        return results


@register_model_architecture("dag_nat", "dag_nat")
def dag_nat_base(args):
    if getattr(args, "upsample_ratio", None) is None:
        args.upsample_ratio = 4  # the paper's 8, halved for a CPU (twice ctc's vertices)
    ctc_nat_base(args)
