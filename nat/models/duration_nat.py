"""FastSpeech-style duration NAT for text (``--arch duration_nat``).

Transformer encoder -> duration predictor (conv + ReLU + LayerNorm, MSE on log(d+1))
-> length regulator (each encoder state repeated d_i times) -> non-causal Transformer
decoder over the expanded sequence -> one token softmax per position. Training uses
the teacher-derived durations (:mod:`nat.durations`); inference uses predicted ones,
optionally over a beam of total lengths (see :mod:`nat.decoding`).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.models import BaseFairseqModel, register_model, register_model_architecture
from fairseq.models.transformer import TransformerModel
from fairseq.models.transformer import base_architecture as transformer_base_architecture
from fairseq.modules import LayerNorm, PositionalEmbedding, TransformerEncoderLayer

from .joined_encoder import build_joined_encoder


class DurationPredictor(nn.Module):
    def __init__(self, dim: int, hidden: int, layers: int, kernel: int, dropout: float):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(dim if i == 0 else hidden, hidden, kernel, padding=kernel // 2)
                                   for i in range(layers))
        self.norms = nn.ModuleList(LayerNorm(hidden) for _ in range(layers))
        self.dropout = dropout
        self.out = nn.Linear(hidden, 1)

    def forward(self, states: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """states [batch, src, dim] -> predicted log(d+1) [batch, src] (0 at padding)."""
        padding = padding_mask.unsqueeze(-1)
        x = states.masked_fill(padding, 0.0)
        for conv, norm in zip(self.convs, self.norms):
            x = conv(x.transpose(1, 2)).transpose(1, 2)
            # zero the padding again: the next convolution would read it beside the sentence's ends
            x = F.dropout(norm(F.relu(x)), p=self.dropout, training=self.training).masked_fill(padding, 0.0)
        return self.out(x).squeeze(-1).masked_fill(padding_mask, 0.0)


def regulate_length(durations: torch.Tensor):
    """Where FastSpeech's length regulator reads each output position from: integer durations [batch, src] ->
    the source position each output position repeats [batch, max_total] (0 at padding), and the padding mask.

    Source ``s`` covers the positions from the sum of the durations before it to its own end, so an output
    position's source is the number of sources ending at or before it; tensor operators only (no loop over the
    batch), so ONNX holds it at any shape (:mod:`nat.onnx_runtime`).
    """
    totals = durations.sum(dim=1)
    width = max(int(totals.max()), 1)
    positions = torch.arange(width, device=durations.device)
    padding_mask = positions.unsqueeze(0) >= totals.unsqueeze(1)
    ends = durations.cumsum(dim=1)
    index = (ends.unsqueeze(1) <= positions.view(1, -1, 1)).sum(-1).masked_fill(padding_mask, 0)
    return index, padding_mask


def expand_states(states: torch.Tensor, index: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
    """States [batch, src, dim] repeated as :func:`regulate_length` says: [batch, max_total, dim], 0 at padding."""
    gathered = states.gather(1, index.unsqueeze(-1).expand(-1, -1, states.size(2)))
    return gathered.masked_fill(padding_mask.unsqueeze(-1), 0.0)


@register_model("duration_nat")
class DurationNATModel(BaseFairseqModel):
    def __init__(self, args, encoder, dictionary):
        super().__init__()
        self.args = args
        self.encoder = encoder
        self.dictionary = dictionary
        dim = args.encoder_embed_dim
        self.duration_predictor = DurationPredictor(dim, args.duration_predictor_hidden, args.duration_predictor_layers,
                                                    args.duration_predictor_kernel, args.dropout)
        self.decoder_positions = PositionalEmbedding(args.max_target_positions, dim, dictionary.pad(), learned=False)
        self.decoder_layers = nn.ModuleList(TransformerEncoderLayer(args) for _ in range(args.decoder_layers))
        self.decoder_norm = LayerNorm(dim) if args.encoder_normalize_before else None
        self.dropout = args.dropout

    @staticmethod
    def add_args(parser):
        TransformerModel.add_args(parser)
        parser.add_argument("--duration-predictor-layers", type=int, metavar="N")
        parser.add_argument("--duration-predictor-hidden", type=int, metavar="N")
        parser.add_argument("--duration-predictor-kernel", type=int, metavar="N")

    @classmethod
    def build_model(cls, args, task):
        duration_nat_base(args)
        encoder, dictionary = build_joined_encoder(args, task, "duration_nat")
        return cls(args, encoder, dictionary)

    def max_positions(self):
        return (self.args.max_source_positions, self.args.max_target_positions)

    def encode(self, src_tokens, src_lengths):
        encoder_out = self.encoder(src_tokens, src_lengths=src_lengths)
        states = encoder_out["encoder_out"][0].transpose(0, 1)  # [batch, src, dim]
        padding_mask = src_tokens.eq(self.dictionary.pad())
        return states, padding_mask

    def predict_log_durations(self, states, padding_mask):
        return self.duration_predictor(states, padding_mask)

    def decode(self, states, durations):
        """Token logits [batch, tgt, vocab] for integer durations [batch, src], and the padding mask."""
        index, padding_mask = regulate_length(durations)
        return self.decode_regulated(states, index, padding_mask), padding_mask

    def decode_regulated(self, states, index, padding_mask):
        """Token logits [batch, tgt, vocab] of the output positions that read source states ``index`` [batch, tgt]
        (:func:`regulate_length`)."""
        x = expand_states(states, index, padding_mask)
        pseudo_tokens = torch.where(padding_mask, self.dictionary.pad(), self.dictionary.pad() + 1)
        x = x + self.decoder_positions(pseudo_tokens)
        x = F.dropout(x, p=self.dropout, training=self.training).transpose(0, 1)
        for layer in self.decoder_layers:
            x = layer(x, encoder_padding_mask=padding_mask)
        if self.decoder_norm is not None:
            x = self.decoder_norm(x)
        return F.linear(x.transpose(0, 1), self.encoder.embed_tokens.weight)

    def forward(self, src_tokens, src_lengths, prev_output_tokens=None, durations=None, **unused):
        """Training forward: gold durations drive the length regulator."""
        states, padding_mask = self.encode(src_tokens, src_lengths)
        log_durations = self.predict_log_durations(states, padding_mask)
        logits, output_mask = self.decode(states, durations.masked_fill(padding_mask, 0))
        return {"logits": logits, "output_padding_mask": output_mask,
                "log_durations": log_durations, "source_padding_mask": padding_mask}


class DurationEncoding(nn.Module):
    """The duration student's first graph: source tokens in; encoder states [batch, src, dim], their padding mask
    and the predicted log(d+1) per source token out (decoding then picks integer durations, in Python)."""

    def __init__(self, model: DurationNATModel):
        super().__init__()
        self.model = model

    def forward(self, src_tokens, src_lengths):
        states, padding_mask = self.model.encode(src_tokens, src_lengths)
        return states, padding_mask, self.model.predict_log_durations(states, padding_mask)


class DurationDecoding(nn.Module):
    """The duration student's second graph: encoder states, the regulated positions' sources and padding mask
    (:func:`regulate_length`) in; token logits out."""

    def __init__(self, model: DurationNATModel):
        super().__init__()
        self.model = model

    def forward(self, states, index, padding_mask):
        return self.model.decode_regulated(states, index, padding_mask)


@register_model_architecture("duration_nat", "duration_nat")
def duration_nat_base(args):
    args.share_all_embeddings = True
    transformer_base_architecture(args)
    args.duration_predictor_layers = getattr(args, "duration_predictor_layers", 2)
    args.duration_predictor_hidden = getattr(args, "duration_predictor_hidden", args.encoder_embed_dim)
    args.duration_predictor_kernel = getattr(args, "duration_predictor_kernel", 3)
