"""The generators that decode the students (the teacher's rescoring of a length beam included) and the
pieces they share; :mod:`nat.registry` builds each kind's generator from these, :mod:`nat.decoding` loads
the runs.

Noisy parallel decoding (Gu et al. 2018): decode several target lengths in parallel and let the AR teacher
pick the candidate it scores best (mean log-probability under teacher forcing). For vanilla NAT and CMLM
this plugs into fairseq's IterativeRefinementGenerator (its own reranker assumes an old encoder-output type
and fails on current fairseq models, so the generator of :func:`refinement_generator_class` replaces just
that method); the duration NAT has its own generator with the same interface.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F


def run_blank_penalty(run_dir) -> float:
    """The run's tuned blank penalty (``blank_penalty.json``), else 0."""
    path = Path(run_dir) / "blank_penalty.json"
    if not path.is_file():
        return 0.0
    from distill.io import read_json

    return float(read_json(path)["blank_penalty"])


def teacher_scores(teacher, src_tokens, src_lengths, candidates: list[torch.Tensor], owners: torch.Tensor,
                   pad: int, eos: int) -> torch.Tensor:
    """Mean log-probability of each candidate (tokens ending in </s>) under the AR teacher.

    ``owners[k]`` is the row of ``src_tokens`` that candidate k translates.
    """
    width = max(len(c) for c in candidates)
    target = src_tokens.new_full((len(candidates), width), pad)
    for k, tokens in enumerate(candidates):
        target[k, : len(tokens)] = tokens
    previous = torch.cat([target.new_full((len(candidates), 1), eos), target[:, :-1]], dim=1)
    previous = previous.masked_fill(previous.eq(eos) & (torch.arange(width, device=target.device) > 0), pad)
    encoder_out = teacher.encoder(src_tokens, src_lengths=src_lengths)
    encoder_out = teacher.encoder.reorder_encoder_out(encoder_out, owners.to(src_tokens.device))
    lprobs = teacher.get_normalized_probs(teacher.decoder(previous, encoder_out), log_probs=True)
    picked = lprobs.gather(2, target.unsqueeze(-1)).squeeze(-1)
    mask = target.ne(pad)
    return picked.masked_fill(~mask, 0).sum(1) / mask.sum(1).clamp(min=1)


def _ending_with_eos(tokens: torch.Tensor, eos: int) -> torch.Tensor:
    """Cut after the first </s>, or append one."""
    hits = (tokens == eos).nonzero()
    if len(hits):
        return tokens[: int(hits[0]) + 1]
    return torch.cat([tokens, tokens.new_tensor([eos])])


def refinement_generator_class():
    from fairseq.iterative_refinement_generator import IterativeRefinementGenerator

    class RescoringRefinementGenerator(IterativeRefinementGenerator):
        def rerank(self, reranker, finalized, encoder_input, beam_size):
            src_tokens, src_lengths = encoder_input
            candidates = [_ending_with_eos(f[0]["tokens"][1:], self.eos) for f in finalized]  # drop <s>
            owners = torch.arange(len(finalized)) // beam_size
            scores = teacher_scores(reranker, src_tokens, src_lengths, candidates, owners, self.pad, self.eos)
            for hypos, score in zip(finalized, scores):
                hypos[0]["score"] = score
            return finalized

    return RescoringRefinementGenerator


def allocate_durations(expected: torch.Tensor, totals: torch.Tensor, padding_mask: torch.Tensor | None = None):
    """Integer durations proportional to ``expected`` [batch, src] summing exactly to ``totals`` [batch].

    Largest-remainder rounding in float64 (tiny predictions must not overflow); a row with
    (almost) nothing predicted spreads its length evenly over its non-padding positions.
    """
    result = torch.zeros(expected.shape, dtype=torch.long, device=expected.device)
    for row in range(expected.size(0)):
        weights = expected[row].double().clamp(min=0)
        if padding_mask is not None:
            weights = weights.masked_fill(padding_mask[row], 0)
        if float(weights.sum()) <= 1e-9:
            weights = torch.ones_like(weights) if padding_mask is None else (~padding_mask[row]).double()
        scaled = weights * (float(totals[row]) / float(weights.sum()))
        floor = scaled.floor()
        remaining = int(totals[row]) - int(floor.sum())
        if remaining > 0:
            floor[torch.argsort(scaled - floor, descending=True)[:remaining]] += 1
        result[row] = floor.long()
    return result


class NATEncoding(torch.nn.Module):
    """A vanilla NAT's first graph (fairseq's ``nonautoregressive_transformer``, and ``glancing_nat``): source tokens
    in; the encoder's states [src, batch, dim], its source embeddings [batch, src, dim] (the decoder copies them),
    the source padding mask and the predicted target lengths (with <s> and </s>) out."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, src_tokens, src_lengths):
        encoder_out = self.model.forward_encoder([src_tokens, src_lengths])
        decoder = self.model.decoder
        lengths = decoder.forward_length_prediction(decoder.forward_length(normalize=True, encoder_out=encoder_out),
                                                    encoder_out=encoder_out)
        return (encoder_out["encoder_out"][0], encoder_out["encoder_embedding"][0],
                encoder_out["encoder_padding_mask"][0], lengths)


class NATDecoding(torch.nn.Module):
    """A vanilla NAT's second graph: :class:`NATEncoding`'s first three outputs and the decoder's input tokens in;
    each position's best log-probability and token out (fairseq's ``forward_decoder`` at step 0)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, encoder_states, source_embedding, source_padding_mask, prev_output_tokens):
        encoder_out = {"encoder_out": [encoder_states], "encoder_embedding": [source_embedding],
                       "encoder_padding_mask": [source_padding_mask]}
        return self.model.decoder(normalize=True, prev_output_tokens=prev_output_tokens, encoder_out=encoder_out,
                                  step=0).max(-1)


class OnePassNATGenerator:
    """Vanilla NAT (and ``nat-glat``) without fairseq's IterativeRefinementGenerator: predicted lengths,
    one decoder pass, argmax; the same outputs as that generator with 0 iterations and no length beam.
    ``encode`` and ``decode``: the model's :class:`NATEncoding` and :class:`NATDecoding`, or the same functions
    in ONNX Runtime (:mod:`nat.onnx_runtime`).

    ``oracle_length``: decode each sentence at the length its batch gives (``sample["target_lengths"]``:
    the reference's pieces and </s>, :meth:`distill.generation.Translator.target_lengths`) instead of the
    predicted one: BLEU at the oracle length, which tells a poor length prediction from a poor decoder."""

    graphs = ("encode", "decode")  # the attributes holding its tensor functions, in calling order (nat.onnx_runtime)

    def __init__(self, dictionary, encode, decode, oracle_length: bool = False):
        self.pad, self.bos, self.eos, self.unk = dictionary.pad(), dictionary.bos(), dictionary.eos(), dictionary.unk()
        self.encode, self.decode = encode, decode
        self.oracle_length = oracle_length

    def start_tokens(self, lengths: torch.Tensor, like: torch.Tensor):
        """The decoder's input at the given lengths (</s> included; <s> is added), as fairseq's
        ``initialize_output_tokens`` builds it from predicted ones: <s> <unk> ... <unk> </s> <pad> ..."""
        total = (lengths.to(like.device) + 1).clamp(min=2)  # with <s>
        positions = torch.arange(int(total.max()), device=like.device)
        tokens = like.new_full((len(total), int(total.max())), self.pad)
        tokens.masked_fill_(positions[None, :] < total[:, None], self.unk)
        tokens[:, 0] = self.bos
        tokens.scatter_(1, total[:, None] - 1, self.eos)
        return tokens

    @torch.no_grad()
    def generate(self, models, sample, **unused):
        src_tokens, src_lengths = sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"]
        encoder_states, source_embedding, source_padding_mask, predicted = self.encode(src_tokens, src_lengths)
        if self.oracle_length:  # the given lengths, not the predicted ones
            if "target_lengths" not in sample:
                raise ValueError("oracle_length: the batch has no target_lengths (Translator.translate's argument)")
            tokens = self.start_tokens(sample["target_lengths"], src_tokens)
        else:
            tokens = self.start_tokens(predicted - 1, src_tokens)  # fairseq's lengths count <s>
        scores, written = self.decode(encoder_states, source_embedding, source_padding_mask, tokens)
        results = []
        for row_tokens, row_scores, row_written in zip(tokens, scores, written):
            keep = row_tokens.ne(self.pad) & row_written.ne(self.pad)  # as fairseq: a written <pad> is dropped too
            results.append([{"tokens": row_written[keep], "score": row_scores[keep].mean(),
                             "positional_scores": row_scores[keep], "alignment": None}])
        return results


class DurationGenerator:
    """Inference for the duration NAT: predicted durations, a beam of total lengths, optional AR rescoring.
    ``encode`` and ``decode``: the model's :class:`nat.models.duration_nat.DurationEncoding` and
    :class:`~nat.models.duration_nat.DurationDecoding`, or the same functions in ONNX Runtime."""

    graphs = ("encode", "decode")  # the attributes holding its tensor functions, in calling order (nat.onnx_runtime)

    def __init__(self, dictionary, encode, decode, length_beam: int = 1, rescore: bool = False):
        self.pad, self.eos = dictionary.pad(), dictionary.eos()
        self.encode, self.decode = encode, decode
        self.length_beam, self.rescore = length_beam, rescore

    @torch.no_grad()
    def generate(self, models, sample, **unused):
        from nat.models.duration_nat import regulate_length

        teacher = models[-1] if self.rescore else None
        src_tokens, src_lengths = sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"]
        states, padding_mask, log_durations = self.encode(src_tokens, src_lengths)
        expected = torch.expm1(log_durations).clamp(min=0)
        expected = expected.masked_fill(padding_mask, 0)
        base = expected.sum(1).round().clamp(min=1)
        offsets = [k - (self.length_beam - 1) // 2 for k in range(self.length_beam)]
        candidates, scores, owners = [], [], []
        for offset in offsets:
            totals = (base + offset).clamp(min=1)
            durations = allocate_durations(expected, totals, padding_mask)
            index, output_mask = regulate_length(durations)
            logits = self.decode(states, index, output_mask)
            best = F.log_softmax(logits.float(), dim=-1).max(-1)
            for row in range(src_tokens.size(0)):
                keep = ~output_mask[row]
                candidates.append(_ending_with_eos(best.indices[row][keep], self.eos))
                scores.append(best.values[row][keep].mean())
                owners.append(row)
        owners = torch.tensor(owners)
        scores = torch.stack(scores)
        if teacher is not None and self.length_beam > 1:
            scores = teacher_scores(teacher, src_tokens, src_lengths, candidates, owners, self.pad, self.eos)
        results = []
        for row in range(src_tokens.size(0)):
            mine = (owners == row).nonzero().squeeze(1)
            pick = int(mine[scores[mine].argmax()])
            results.append([{"tokens": candidates[pick], "score": scores[pick], "positional_scores": None,
                             "alignment": None}])
        return results


def clamp_predicted_lengths(model, length_beam: int) -> None:
    """Keep fairseq's predicted target lengths within the decoder's positions (this model only).

    With ``--pred-length-offset`` a length is the source length plus up to 127, so a source near
    the position limit asked for positions the decoder does not have (an IndexError inside
    torch.embedding that lost the whole file); the length beam adds up to ``length_beam // 2``.
    """
    limit = model.decoder.max_positions() - length_beam // 2
    predict = model.decoder.forward_length_prediction
    model.decoder.forward_length_prediction = lambda *args, **kwargs: predict(*args, **kwargs).clamp(max=limit)
