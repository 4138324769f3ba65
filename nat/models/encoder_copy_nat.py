"""Vanilla NAT whose decoder inputs are copies of the encoder's output states (``--arch encoder_copy_nat``).

Gu et al. (2018) feed the NAT decoder copies of the source *embeddings* (fairseq's ``--src-embedding-copy``:
each target position takes the embedding of the source position it is uniformly mapped to), so the decoder
starts from context-free word vectors and must do all of the translating in its own layers. Copying the
encoder's *output states* instead (as the CTC student's upsampled states do, and as Wei et al. 2019's
imitation-learning NAT and many later NATs do) gives it contextual vectors to start from. Everything else,
including the uniform mapping of target to source positions and the length prediction, is fairseq's
``nonautoregressive_transformer``.
"""
from fairseq.models import register_model, register_model_architecture
from fairseq.models.nat.fairseq_nat_model import FairseqNATEncoder
from fairseq.models.nat.nonautoregressive_transformer import NATransformerModel, base_architecture
from fairseq.modules.transformer_sentence_encoder import init_bert_params


class StatesAsEmbeddingEncoder(FairseqNATEncoder):
    """The NAT encoder, handing its output states to the decoder's copy in place of the source embeddings."""

    def forward(self, *args, **kwargs):
        out = super().forward(*args, **kwargs)
        return {**out, "encoder_embedding": [out["encoder_out"][0].transpose(0, 1)]}  # T x B x C -> B x T x C


@register_model("encoder_copy_nat")
class EncoderCopyNATModel(NATransformerModel):
    @classmethod
    def build_encoder(cls, args, src_dict, embed_tokens):
        encoder = StatesAsEmbeddingEncoder(args, src_dict, embed_tokens)
        if getattr(args, "apply_bert_init", False):
            encoder.apply(init_bert_params)
        return encoder


@register_model_architecture("encoder_copy_nat", "encoder_copy_nat")
def encoder_copy_nat_base(args):
    base_architecture(args)
