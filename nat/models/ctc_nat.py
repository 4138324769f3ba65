"""CTC non-autoregressive Transformer (``--arch ctc_nat``; Libovický & Helcl 2018, Gu & Kong 2021).

Transformer encoder -> every encoder state repeated ``--upsample-ratio`` times (+ learned
positions) -> non-causal Transformer decoder layers with cross-attention -> one token
softmax per position. No length predictor: the CTC loss (``ctc_nat_loss``) marginalizes
over all alignments of the target to the upsampled positions, with ``<s>`` as the blank
(it never occurs in targets). Decoding is argmax per position, then :func:`collapse`.

Glancing (GLAT, Qian et al. 2021) replaces some decoder inputs by embeddings of the tokens
that the best CTC alignment puts there (see :mod:`nat.glancing`); the criterion decides
which, the model only takes them as ``glanced_tokens``.
"""
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.models import BaseFairseqModel, register_model, register_model_architecture
from fairseq.models.transformer import TransformerModel
from fairseq.models.transformer import base_architecture as transformer_base_architecture
from fairseq.modules import LayerNorm, PositionalEmbedding, TransformerDecoderLayer

from .joined_encoder import build_joined_encoder


def collapse(tokens: torch.Tensor, blank: int) -> list[int]:
    """The CTC output of one argmax path: merge repeated tokens, then drop blanks."""
    result, previous = [], None
    for token in tokens.tolist():
        if token != previous and token != blank:
            result.append(token)
        previous = token
    return result


@register_model("ctc_nat")
class CTCNATModel(BaseFairseqModel):
    def __init__(self, args, encoder, dictionary):
        super().__init__()
        self.args = args
        self.encoder = encoder
        self.dictionary = dictionary
        self.blank = dictionary.bos()
        self.ratio = args.upsample_ratio
        dim = args.encoder_embed_dim
        # every upsampled source position has a position embedding, however long the source
        self.decoder_positions = PositionalEmbedding(args.max_source_positions * self.ratio, dim, dictionary.pad(),
                                                     learned=True)
        self.decoder_layers = nn.ModuleList(TransformerDecoderLayer(args) for _ in range(args.decoder_layers))
        self.decoder_norm = LayerNorm(dim) if args.decoder_normalize_before else None
        self.dropout = args.dropout

    @staticmethod
    def add_args(parser):
        TransformerModel.add_args(parser)
        parser.add_argument("--upsample-ratio", type=int, metavar="N",
                            help="decoder positions per source token (CTC needs more positions than target tokens)")

    @classmethod
    def build_model(cls, args, task):
        ctc_nat_base(args)
        encoder, dictionary = build_joined_encoder(args, task, "ctc_nat")
        return cls(args, encoder, dictionary)

    def max_positions(self):
        return (self.args.max_source_positions, self.args.max_target_positions)

    def encode(self, src_tokens, src_lengths):
        return self.encoder(src_tokens, src_lengths=src_lengths)

    def upsampled_padding_mask(self, src_tokens):
        """[batch, src * ratio]: True where the decoder position comes from source padding."""
        return src_tokens.eq(self.dictionary.pad()).repeat_interleave(self.ratio, dim=1)

    def decoder_states(self, encoder_out, src_tokens, glanced_tokens=None):
        """The decoder's output states [batch, src * ratio, dim] and its padding mask.

        ``glanced_tokens`` [batch, src * ratio] (pad = not glanced) replace the upsampled
        encoder states at their positions by their (scaled) embeddings.
        """
        states = encoder_out["encoder_out"][0].transpose(0, 1).repeat_interleave(self.ratio, dim=1)
        padding_mask = self.upsampled_padding_mask(src_tokens)
        if glanced_tokens is not None:
            glanced = glanced_tokens.ne(self.dictionary.pad())
            embedded = self.encoder.embed_scale * self.encoder.embed_tokens(glanced_tokens)
            states = torch.where(glanced.unsqueeze(-1), embedded, states)
        pseudo_tokens = torch.where(padding_mask, self.dictionary.pad(), self.dictionary.pad() + 1)
        x = states + self.decoder_positions(pseudo_tokens)
        x = F.dropout(x, p=self.dropout, training=self.training).transpose(0, 1)
        source_padding = encoder_out["encoder_padding_mask"][0] if encoder_out["encoder_padding_mask"] else None
        for layer in self.decoder_layers:
            x, _, _ = layer(x, encoder_out["encoder_out"][0], source_padding, self_attn_mask=None,
                            self_attn_padding_mask=padding_mask)
        if self.decoder_norm is not None:
            x = self.decoder_norm(x)
        return x.transpose(0, 1), padding_mask

    def output_logits(self, states, vocabulary=None):
        """Token logits of decoder states (the output layer is the shared embedding table); ``vocabulary`` (token
        ids): the logits of those tokens only, in that order (a vocabulary shortlist, :mod:`nat.shortlist`)."""
        weight = self.encoder.embed_tokens.weight
        return F.linear(states, weight if vocabulary is None else weight.index_select(0, vocabulary))

    def decode(self, encoder_out, src_tokens, glanced_tokens=None):
        """Token logits [batch, src * ratio, vocab] and the decoder padding mask (:meth:`decoder_states`)."""
        states, padding_mask = self.decoder_states(encoder_out, src_tokens, glanced_tokens)
        return self.output_logits(states), padding_mask

    def forward(self, src_tokens, src_lengths, prev_output_tokens=None, glanced_tokens=None, **unused):
        logits, padding_mask = self.decode(self.encode(src_tokens, src_lengths), src_tokens, glanced_tokens)
        return {"logits": logits, "output_padding_mask": padding_mask}


class CTCLogits(nn.Module):
    """A CTC student as one tensor function, source tokens in, token logits and the decoder padding
    mask out: what decoding calls, and what TorchScript traces."""

    def __init__(self, model: CTCNATModel):
        super().__init__()
        self.model = model

    def forward(self, src_tokens, src_lengths):
        return self.model.decode(self.model.encode(src_tokens, src_lengths), src_tokens)


class CTCStates(nn.Module):
    """A CTC student up to its output layer, source tokens in, decoder states and padding mask out: what decoding
    with a vocabulary shortlist calls (:mod:`nat.shortlist`), which projects the states onto a few rows only."""

    def __init__(self, model: CTCNATModel):
        super().__init__()
        self.model = model

    def forward(self, src_tokens, src_lengths):
        return self.model.decoder_states(self.model.encode(src_tokens, src_lengths), src_tokens)


def trace_ctc(model: CTCNATModel, states: bool = False) -> torch.jit.ScriptModule:
    """The CTC student traced and frozen by TorchScript, so no Python runs between its operators (``states``: up to
    the output layer, :class:`CTCStates`; else :class:`CTCLogits`).

    The example batch holds padding: fairseq's encoder zeroes padded states only when a batch has
    some, and a trace keeps the branch its example took (on a batch without padding it multiplies by one).
    """
    dictionary = model.dictionary
    word, pad, eos = dictionary.nspecial, dictionary.pad(), dictionary.eos()
    device = next(model.parameters()).device
    example = torch.tensor([[word, word + 1, word + 2, eos], [word, eos, pad, pad]], device=device)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape asserts, recorded as constants
        warnings.simplefilter("ignore", DeprecationWarning)  # PyTorch points to torch.export; see docs/usage.md
        function = (CTCStates if states else CTCLogits)(model).eval()
        traced = torch.jit.trace(function, (example, torch.tensor([4, 2], device=device)), check_trace=False)
    return torch.jit.freeze(traced)


class CTCGenerator:
    """Inference for the CTC NAT: argmax per position, collapse repeats, drop blanks, append </s>.

    ``blank_penalty`` is subtracted from the blank's log-probability before the argmax: an
    undertrained CTC model prefers blanks and writes too short outputs (:mod:`nat.decoding`
    tunes the penalty on the validation set).

    ``shortlist`` (a :class:`nat.shortlist.Shortlist`): ``logits`` is then a states function (:class:`CTCStates`
    or its trace) and the output layer runs over each batch's shortlist only; the blank is in every shortlist.
    """

    graphs = ("logits",)  # the attributes holding its tensor functions, in calling order (nat.onnx_runtime)

    def __init__(self, dictionary, logits: CTCLogits | torch.jit.ScriptModule, blank_penalty: float = 0.0,
                 shortlist=None):
        self.eos = dictionary.eos()
        self.blank_penalty = blank_penalty
        self.logits = logits  # the model's CTCLogits, or its trace_ctc (the same logits, no Python between operators)
        self.shortlist = shortlist

    def scores(self, model, src_tokens, src_lengths):
        """Log-probabilities [batch, positions, V] with the blank penalty applied, the padding mask, and the token
        id of each of the V columns (None: the whole vocabulary)."""
        vocabulary = None
        if self.shortlist is None:
            logits, padding_mask = self.logits(src_tokens, src_lengths)
        else:
            states, padding_mask = self.logits(src_tokens, src_lengths)
            vocabulary, outside = self.shortlist.vocabulary(src_tokens)
            logits = model.output_logits(states, vocabulary)
            if outside is not None:
                logits = logits.masked_fill(outside.unsqueeze(1), float("-inf"))
        lprobs = F.log_softmax(logits.float(), dim=-1)
        blank = model.blank if vocabulary is None else int(torch.searchsorted(vocabulary, model.blank))
        lprobs[..., blank] -= self.blank_penalty
        return lprobs, padding_mask, vocabulary

    @torch.no_grad()
    def generate(self, models, sample, **unused):
        model = models[0]
        src_tokens = sample["net_input"]["src_tokens"]
        lprobs, padding_mask, vocabulary = self.scores(model, src_tokens, sample["net_input"]["src_lengths"])
        best = lprobs.max(-1)
        indices = best.indices if vocabulary is None else vocabulary[best.indices]
        results = []
        for row in range(src_tokens.size(0)):
            keep = ~padding_mask[row]
            tokens = collapse(indices[row][keep], model.blank) + [self.eos]
            results.append([{"tokens": src_tokens.new_tensor(tokens), "score": best.values[row][keep].mean(),
                             "positional_scores": None, "alignment": None}])
        return results


@register_model_architecture("ctc_nat", "ctc_nat")
def ctc_nat_base(args):
    args.share_all_embeddings = True
    transformer_base_architecture(args)
    if getattr(args, "upsample_ratio", None) is None:
        args.upsample_ratio = 2
