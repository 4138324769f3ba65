"""Vanilla NAT with glancing training (``--arch glancing_nat``; GLAT, Qian et al. 2021).

fairseq's ``nonautoregressive_transformer`` (copied source embeddings as decoder inputs,
length prediction), trained in two passes: the first, without gradients, predicts every
target position; the second sees the reference token at ``ratio`` x (wrong positions),
chosen at random (:mod:`nat.glancing`), and is trained on the positions it did not see.
The ratio is annealed linearly from ``--glance-start`` to ``--glance-end`` over
``--glance-updates``. Decoding is exactly the vanilla NAT's.
"""
import torch
from fairseq.models import register_model, register_model_architecture
from fairseq.models.nat.nonautoregressive_transformer import NATransformerDecoder, NATransformerModel, base_architecture
from fairseq.modules.transformer_sentence_encoder import init_bert_params

from ..glancing import annealed_ratio, glance_positions


class GlancingNATDecoder(NATransformerDecoder):
    """The NAT decoder, whose copied inputs can be replaced by reference embeddings (``glanced_tokens``)."""

    glanced_tokens = None  # [batch, tgt] (pad = not glanced), set by the model for one forward pass

    def forward_embedding(self, prev_output_tokens, states=None):
        if states is not None and self.glanced_tokens is not None:
            glanced = self.glanced_tokens.ne(self.padding_idx).unsqueeze(-1)
            states = torch.where(glanced, self.embed_scale * self.embed_tokens(self.glanced_tokens), states)
        return super().forward_embedding(prev_output_tokens, states)


@register_model("glancing_nat")
class GlancingNATModel(NATransformerModel):
    update = 0

    @staticmethod
    def add_args(parser):
        NATransformerModel.add_args(parser)
        parser.add_argument("--glance-start", type=float, metavar="R", help="glancing ratio at update 0")
        parser.add_argument("--glance-end", type=float, metavar="R", help="glancing ratio at --glance-updates")
        parser.add_argument("--glance-updates", type=int, metavar="N", help="updates of linear annealing")

    @classmethod
    def build_decoder(cls, args, tgt_dict, embed_tokens):
        decoder = GlancingNATDecoder(args, tgt_dict, embed_tokens)
        if getattr(args, "apply_bert_init", False):
            decoder.apply(init_bert_params)
        return decoder

    def set_num_updates(self, num_updates):
        super().set_num_updates(num_updates)
        self.update = num_updates

    def forward(self, src_tokens, src_lengths, prev_output_tokens, tgt_tokens, **kwargs):
        ratio = annealed_ratio(self.args.glance_start, self.args.glance_end, self.update, self.args.glance_updates)
        if not self.training or ratio <= 0:
            return super().forward(src_tokens, src_lengths, prev_output_tokens, tgt_tokens, **kwargs)
        encoder_out = self.encoder(src_tokens, src_lengths=src_lengths, **kwargs)
        length_out = self.decoder.forward_length(normalize=False, encoder_out=encoder_out)
        length_tgt = self.decoder.forward_length_prediction(length_out, encoder_out, tgt_tokens)
        valid = tgt_tokens.ne(self.pad)
        with torch.no_grad():
            first = self.decoder(normalize=False, prev_output_tokens=prev_output_tokens, encoder_out=encoder_out)
            chosen = glance_positions(first.argmax(-1).ne(tgt_tokens), valid, ratio)
        self.decoder.glanced_tokens = tgt_tokens.masked_fill(~chosen, self.pad)
        try:
            word_ins_out = self.decoder(normalize=False, prev_output_tokens=prev_output_tokens, encoder_out=encoder_out)
        finally:
            self.decoder.glanced_tokens = None
        return {"word_ins": {"out": word_ins_out, "tgt": tgt_tokens, "mask": valid & ~chosen,
                             "ls": self.args.label_smoothing, "nll_loss": True},
                "length": {"out": length_out, "tgt": length_tgt, "factor": self.decoder.length_loss_factor}}


@register_model_architecture("glancing_nat", "glancing_nat")
def glancing_nat_base(args):
    base_architecture(args)
    for name, default in (("glance_start", 0.5), ("glance_end", 0.3), ("glance_updates", 1000)):
        if getattr(args, name, None) is None:
            setattr(args, name, default)
