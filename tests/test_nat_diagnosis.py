"""The vanilla-NAT diagnosis (analysis/nat_diagnosis.py) on hand-made outputs with known rates and lengths."""
import pytest

from analysis.nat_diagnosis import markdown, nat_diagnosis, nat_variants
from distill.io import write_lines


def _evaluation(tmp_path, name, lines, bleu):
    """An evaluation as compare and evaluate write it: the .hyp and the JSON beside it."""
    from distill.io import write_json

    write_lines(tmp_path / f"{name}.hyp", lines)
    write_json(tmp_path / f"{name}.json", {"scores": {"tgt": {"bleu": bleu}}})
    return tmp_path / f"{name}.hyp", tmp_path / f"{name}.json"


def test_the_diagnosis_counts_repetitions_and_length_of_each_output(tiny_synthetic, tmp_path):
    reference = tiny_synthetic.lines("test", "tgt")
    words = sum(len(line.split()) for line in reference)
    stutter = [f"{line.split()[0]} {line}" for line in reference]  # every line's first word written twice
    records = []
    for system, data, lines, bleu in (("teacher", "raw", reference, 90.0), ("nat", "raw", stutter, 40.0),
                                      ("nat", "distilled", reference, 60.0)):
        hypotheses, _ = _evaluation(tmp_path, f"{system}-{data}", lines, bleu)
        records.append({"system": system, "data": data, "seed": None if system == "teacher" else 1,
                        "scores": {"tgt": {"bleu": bleu}}, "hypotheses": str(hypotheses),
                        **({"p_value_vs_raw": 0.001} if data == "distilled" else {})})
    oracle = {("nat", "raw", 1): _evaluation(tmp_path, "raw-oracle", stutter, 45.0)[1],
              ("nat", "distilled", 1): _evaluation(tmp_path, "distilled-oracle", reference, 61.0)[1]}
    compare = {"raw": str(tiny_synthetic.path), "references": ["tgt"], "results": records,
               "bleu_signatures": {"tgt": "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"}}
    result = nat_diagnosis(compare, oracle)

    reference_rate = sum(a == b for line in reference for a, b in zip(line.split(), line.split()[1:])) / words
    assert result["reference_repetition"] == pytest.approx(reference_rate, abs=1e-4)
    assert result["teacher"] == {"bleu": 90.0, "length_ratio": 1.0, "repetition": round(reference_rate, 4)}
    raw, distilled = result["rows"]
    assert raw["system"] == {"student": "nat", "data": "raw", "decoding": None}
    assert (raw["bleu"], raw["bleu_oracle_length"], raw["p_value_vs_raw"], raw["p_oracle_vs_raw"]) == (
        40.0, 45.0, None, None)
    # one more word per line, and that word repeats the next: (repeats + lines) / (words + lines)
    assert raw["length_ratio"] == pytest.approx((words + len(reference)) / words, abs=1e-4)
    assert raw["repetition"] == pytest.approx((reference_rate * words + len(reference)) / (words + len(reference)),
                                              abs=1e-4)
    assert distilled["length_ratio"] == 1.0 and distilled["p_value_vs_raw"] == 0.001
    assert distilled["p_oracle_vs_raw"] < 0.01  # the references themselves against the stuttered copies
    text = markdown(result)
    assert "| nat, distilled | 1 | 60.00 | 0.001 | 61.00 |" in text
    assert text.count("\n|") == 4  # header rule, teacher, two runs


def test_the_variants_differ_from_nat_in_their_arguments_only():
    variants = nat_variants()
    nat = variants["nat"].arguments(None, 1000)
    assert "--apply-bert-init" in nat
    assert "--apply-bert-init" not in variants["nat-default-init"].arguments(None, 1000)
    assert variants["nat-dec4"].arguments(None, 1000) == [*nat, "--decoder-layers", 4]
    assert all(kind.name == name for name, kind in variants.items())
    copy = variants["nat-encoder-copy"].arguments(None, 1000)
    assert copy[copy.index("--arch") + 1] == "encoder_copy_nat" and "--apply-bert-init" not in copy


def test_the_encoder_copy_nat_hands_its_output_states_to_the_decoder():
    import argparse
    import types

    import torch
    from fairseq.data import Dictionary

    import nat  # noqa: F401  (registers the architecture)
    from nat.models.encoder_copy_nat import EncoderCopyNATModel, encoder_copy_nat_base

    dictionary = Dictionary()
    for word in "a b c d e".split():
        dictionary.add_symbol(word)
    args = argparse.Namespace(encoder_layers=1, decoder_layers=1, encoder_embed_dim=16, decoder_embed_dim=16,
                              encoder_ffn_embed_dim=32, decoder_ffn_embed_dim=32, encoder_attention_heads=2,
                              decoder_attention_heads=2, share_all_embeddings=True, src_embedding_copy=True,
                              pred_length_offset=True, length_loss_factor=0.1, dropout=0.0)
    encoder_copy_nat_base(args)
    model = EncoderCopyNATModel.build_model(args, types.SimpleNamespace(source_dictionary=dictionary,
                                                                         target_dictionary=dictionary))
    model.eval()
    tokens = torch.tensor([[4, 5, 6, 7, 2]])
    out = model.encoder(tokens, src_lengths=torch.tensor([5]))
    assert torch.equal(out["encoder_embedding"][0], out["encoder_out"][0].transpose(0, 1))
    embedded = model.encoder.embed_scale * model.encoder.embed_tokens(tokens)
    assert not torch.allclose(out["encoder_embedding"][0], embedded)  # not the source embeddings any more
