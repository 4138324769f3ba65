"""Decoding trained students (and the teacher) from raw text, with length beam + AR rescoring.

Noisy parallel decoding (Gu et al. 2018): decode several target lengths in parallel and
let the AR teacher pick the candidate it scores best (mean log-probability under
teacher forcing). For vanilla NAT and CMLM this plugs into fairseq's
IterativeRefinementGenerator (its own reranker assumes an old encoder-output type and
fails on current fairseq models, so :class:`RescoringRefinementGenerator` replaces just
that method); the duration NAT has its own generator with the same interface.
Vanilla NAT always decodes with 0 refinement iterations (fairseq#1231): a NAT run
ignores ``iterations``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from distill.corpus.directory import Corpus
from distill.engine import load_ensemble, read_run_manifest
from distill.generation import DecodeSettings, Translator
from distill.io import InputError
from nat.registry import student_kind


@dataclass
class StudentSettings:
    iterations: int = 10  # CMLM refinement steps; vanilla NAT always uses 0
    length_beam: int = 1
    max_tokens: int = 6000
    device: str = "cpu"
    blank_penalty: float | None = None  # CTC students; None: the run's tuned one (blank_penalty.json), else 0
    lean: bool = False  # one-pass students: batches built directly and a one-pass generator (same outputs)
    runtime: str = "eager"  # ctc students: "torchscript" traces the model once when it is loaded


RUNTIMES = ("eager", "torchscript")


BLANK_PENALTIES = tuple(step / 4 for step in range(11))  # 0, 0.25, ..., 2.5 (log-probability)


def tune_blank_penalty(run_dir, corpus, translator_for_penalty) -> dict:
    """The CTC blank penalty with the best validation BLEU (primary reference) on ``corpus``.

    ``translator_for_penalty(penalty)`` decodes with that penalty. The grid and its scores
    are cached in ``RUN/blank_penalty.json`` and used by every later decoding of the run.
    """
    from distill.io import read_json, write_json
    from distill.scoring import primary_reference_score

    path = Path(run_dir) / "blank_penalty.json"
    key = {"corpus_hash": corpus.manifest["config_hash"], "grid": list(BLANK_PENALTIES),
           "checkpoint": read_run_manifest(run_dir)["config_hash"]}
    if path.is_file():
        cached = read_json(path)
        if {k: cached.get(k) for k in key} == key:
            return cached
    scores = {}
    for penalty in BLANK_PENALTIES:
        name, score = primary_reference_score(translator_for_penalty(penalty), corpus, "valid")
        scores[penalty] = score["bleu"]
    best = max(BLANK_PENALTIES, key=lambda penalty: (scores[penalty], -penalty))  # ties: the smaller one
    result = {**key, "reference": name, "valid_bleu": [[p, scores[p]] for p in BLANK_PENALTIES],
              "blank_penalty": best}
    write_json(path, result)
    return result


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


class OnePassNATGenerator:
    """Vanilla NAT (and ``nat-glat``) without fairseq's IterativeRefinementGenerator: predicted lengths,
    one decoder pass, argmax; the same outputs as that generator with 0 iterations and no length beam."""

    def __init__(self, dictionary):
        self.pad = dictionary.pad()

    @torch.no_grad()
    def generate(self, models, sample, **unused):
        model = models[0]
        src_tokens, src_lengths = sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"]
        encoder_out = model.forward_encoder([src_tokens, src_lengths])
        start = model.initialize_output_tokens(encoder_out, src_tokens)
        decoded = model.forward_decoder(start._replace(step=0, max_step=1), encoder_out)
        results = []
        for tokens, scores in zip(decoded.output_tokens, decoded.output_scores):
            keep = tokens.ne(self.pad)
            results.append([{"tokens": tokens[keep], "score": scores[keep].mean(), "positional_scores": scores[keep],
                             "alignment": None}])
        return results


class DurationGenerator:
    """Inference for the duration NAT: predicted durations, a beam of total lengths, optional AR rescoring."""

    def __init__(self, dictionary, length_beam: int = 1, rescore: bool = False):
        self.pad, self.eos = dictionary.pad(), dictionary.eos()
        self.length_beam, self.rescore = length_beam, rescore

    @torch.no_grad()
    def generate(self, models, sample, **unused):
        model = models[0]
        teacher = models[-1] if self.rescore else None
        src_tokens, src_lengths = sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"]
        states, padding_mask = model.encode(src_tokens, src_lengths)
        expected = torch.expm1(model.predict_log_durations(states, padding_mask)).clamp(min=0)
        expected = expected.masked_fill(padding_mask, 0)
        base = expected.sum(1).round().clamp(min=1)
        offsets = [k - (self.length_beam - 1) // 2 for k in range(self.length_beam)]
        candidates, scores, owners = [], [], []
        for offset in offsets:
            totals = (base + offset).clamp(min=1)
            durations = allocate_durations(expected, totals, padding_mask)
            logits, output_mask = model.decode(states, durations)
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


def load_translator(run_dir, *, corpus_dir=None, settings: StudentSettings | None = None,
                    teacher: str | None = None, beam: int = 5, checkpoint: str | None = None) -> Translator:
    """A ready Translator for any run directory: the AR teacher, an AR student or a NAT student.

    ``teacher`` (a checkpoint) rescores the length beam of a student; ``beam`` is the beam size of
    autoregressive runs; ``checkpoint`` replaces the run's best one (e.g. a learning-curve point).
    """
    settings = settings or StudentSettings()
    manifest = read_run_manifest(run_dir)
    checkpoint = checkpoint or manifest["checkpoint"]
    corpus = Corpus.open(corpus_dir or manifest["corpus"])
    kind = None if manifest["kind"] == "teacher" else student_kind(manifest["student"])
    if kind is None or kind.autoregressive:
        return Translator.autoregressive([checkpoint], corpus, DecodeSettings(
            beam=beam, max_tokens=settings.max_tokens, device=settings.device))
    if settings.runtime not in RUNTIMES:
        raise InputError(f"unknown runtime {settings.runtime!r}; choose one of {', '.join(RUNTIMES)}")
    kind.check_decoding(run_dir, settings)
    models, cfg, task = load_ensemble([checkpoint], str(corpus.bin_dir))
    if type(models[0]).__name__ != kind.model_class:
        raise InputError(f"{checkpoint}: holds a {type(models[0]).__name__}, expected a {kind.name} student")
    rescore = bool(teacher) and settings.length_beam > 1
    lean = settings.lean and kind.one_pass and settings.length_beam == 1
    if rescore:
        from fairseq import checkpoint_utils

        models += checkpoint_utils.load_model_ensemble([teacher], task=task)[0]
        models[-1].eval()
    if settings.device == "cuda":
        models = [m.cuda() for m in models]
    generator = kind.generator(models, task, settings, run_dir, rescore, lean)
    return Translator(models, task, generator, corpus.spm_model, max_tokens=settings.max_tokens,
                      device=settings.device, lean=lean)
