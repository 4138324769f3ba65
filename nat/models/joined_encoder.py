"""The Transformer encoder that this project's own NATs (``duration_nat``, ``ctc_nat``) build on:
one embedding table shared by source, target and output layer (a joined dictionary)."""
import torch.nn as nn
from fairseq.models.transformer import TransformerEncoder


def build_joined_encoder(args, task, arch: str):
    """(encoder, dictionary); fills in 1,024 source/target positions where ``args`` has none."""
    for name in ("max_source_positions", "max_target_positions"):
        if getattr(args, name, None) is None:
            setattr(args, name, 1024)
    dictionary = task.source_dictionary
    if dictionary != task.target_dictionary:
        raise ValueError(f"{arch} needs a joined dictionary (prepare the corpus with --joined-dictionary)")
    embed_tokens = nn.Embedding(len(dictionary), args.encoder_embed_dim, dictionary.pad())
    nn.init.normal_(embed_tokens.weight, mean=0, std=args.encoder_embed_dim ** -0.5)
    nn.init.constant_(embed_tokens.weight[dictionary.pad()], 0)
    return TransformerEncoder(args, dictionary, embed_tokens), dictionary
