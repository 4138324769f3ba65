"""In-process translation with fairseq's SequenceGenerator (beam search / sampling).

Used by teacher evaluation and by corpus regeneration. Models are loaded once; input is
raw text, sentencepiece is applied here, output is detokenized text in input order.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from distill.corpus.directory import Corpus
from distill.engine import load_ensemble


@dataclass
class DecodeSettings:
    beam: int = 5
    nbest: int = 1
    sampling: bool = False
    sampling_topk: int = -1
    max_len_a: float = 1.2
    max_len_b: int = 10
    max_tokens: int = 6000
    device: str = "cpu"
    # beam scores are divided by length ** lenpen (fairseq's --lenpen, CTranslate2's length_penalty): above 1
    # favours longer outputs (distill.lenpen tunes it on the valid split)
    lenpen: float = 1.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Hypothesis:
    text: str
    score: float  # mean log-probability per token (fairseq's normalized score)


class Translator:
    """Loaded model(s) + fairseq generator: raw text in, detokenized n-best lists out, input order kept.

    Build with :meth:`autoregressive` for teachers; :mod:`nat.decoding` builds it for students. ``bf16``: the
    models run under ``torch.autocast(device, torch.bfloat16)`` (float32 weights, bfloat16 matrix products).
    """

    def __init__(self, models, task, generator, spm_model, *, max_tokens: int = 6000, device: str = "cpu",
                 nbest: int = 1, lean: bool = False, bf16: bool = False):
        import sentencepiece as spm
        import torch
        from fairseq import utils

        self.models, self.task, self.generator = models, task, generator
        self.max_tokens, self.device, self.nbest, self.lean, self.bf16 = max_tokens, device, nbest, lean, bf16
        self.spm = spm.SentencePieceProcessor(model_file=str(spm_model))
        self.max_positions = utils.resolve_max_positions(task.max_positions(), *[m.max_positions() for m in models])
        positions = self.max_positions[0] if isinstance(self.max_positions, tuple) else self.max_positions
        # what the task's inference dataset adds to a source (translation_lev prepends <s>) must fit too
        probe = task.build_dataset_for_inference([torch.LongTensor([task.source_dictionary.eos()])], [1])
        self.max_source_tokens = positions - (len(probe[0]["source"]) - 1)
        dictionary = task.target_dictionary
        self.strip = {dictionary.bos(), dictionary.eos(), dictionary.pad()}
        self.cpu_seconds = 0.0
        self.wall_seconds = 0.0
        self.truncated = 0
        self.truncated_lines: list[int] = []  # indices (in the last translate() call) of truncated inputs

    @classmethod
    def autoregressive(cls, checkpoints: list[str], corpus: Corpus, settings: DecodeSettings) -> Translator:
        """A teacher (or an ensemble of teachers sharing a vocabulary) with beam search or sampling."""
        models, cfg, task = load_ensemble(checkpoints, str(corpus.bin_dir))
        from fairseq.models import FairseqEncoderDecoderModel
        from fairseq.models.nat import FairseqNATModel

        from distill.io import InputError

        for path, model in zip(checkpoints, models):
            if not isinstance(model, FairseqEncoderDecoderModel) or isinstance(model, FairseqNATModel):
                raise InputError(f"{path}: holds a {type(model).__name__}, expected an autoregressive teacher")
        if settings.device == "cuda":
            models = [model.cuda() for model in models]
        generation = cfg.generation
        generation.beam, generation.nbest = settings.beam, settings.nbest
        generation.sampling, generation.sampling_topk = settings.sampling, settings.sampling_topk
        generation.max_len_a, generation.max_len_b = settings.max_len_a, settings.max_len_b
        generation.lenpen = settings.lenpen
        return cls(models, task, task.build_generator(models, generation), corpus.spm_model,
                   max_tokens=settings.max_tokens, device=settings.device, nbest=settings.nbest)

    def set_length_penalty(self, lenpen: float) -> None:
        """Rank the beam's hypotheses by score / length ** ``lenpen`` from now on (a teacher's beam search)."""
        if not hasattr(self.generator, "len_penalty"):
            raise TypeError(f"{type(self.generator).__name__} has no length penalty (not a beam search)")
        self.generator.len_penalty = lenpen

    def set_seed(self, seed: int) -> None:
        """Seed sampling (only ``sample`` regeneration draws random numbers)."""
        from fairseq import utils

        utils.set_torch_seed(seed)

    def _encode(self, index: int, text: str):
        import torch

        pieces = " ".join(self.spm.encode(text, out_type=str))
        tokens = self.task.source_dictionary.encode_line(pieces, add_if_not_exist=False, append_eos=True).long()
        if len(tokens) > self.max_source_tokens:
            self.truncated += 1
            self.truncated_lines.append(index)
            tokens = torch.cat([tokens[: self.max_source_tokens - 1], tokens[-1:]])
        return tokens

    def detokenize(self, tokens) -> str:
        pieces = [self.task.target_dictionary[t] for t in tokens.tolist() if t not in self.strip]
        return self.spm.decode(pieces)

    def translate_lines(self, lines: list[str]) -> tuple[list[str], list[int]]:
        """The best translation of every line, in order (a blank line gives a blank one, undecoded),
        and the indices of the lines truncated to fit the model's source positions."""
        non_empty = [i for i, line in enumerate(lines) if line.strip()]
        hypotheses = self.translate([lines[i] for i in non_empty]) if non_empty else []
        output = [""] * len(lines)
        for index, nbest in zip(non_empty, hypotheses):
            output[index] = nbest[0].text
        return output, [non_empty[i] for i in self.truncated_lines] if non_empty else []

    def _lean_batches(self, dataset):
        """Batches of the task's own inference items, shortest sources first, up to ``max_tokens`` (padded)
        each: what fairseq's batch iterator gives a generator that reads only the source, without its cost."""
        sizes = dataset.src_sizes
        order = sorted(range(len(dataset)), key=lambda i: sizes[i])
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and (end - start + 1) * (sizes[order[end]] + 1) <= self.max_tokens:
                end += 1
            yield dataset.collater([dataset[i] for i in order[start:end]])
            start = end

    def target_lengths(self, targets: list[str]) -> list[int]:
        """Each target line's length as the decoder counts it: its pieces and </s>."""
        return [len(self.spm.encode(line)) + 1 for line in targets]

    def translate(self, sources: list[str], target_lengths: list[int] | None = None) -> list[list[Hypothesis]]:
        """n-best hypotheses for every source line, in input order. ``target_lengths`` (:meth:`target_lengths`
        of the references): each batch carries its sentences' lengths as ``sample["target_lengths"]``, for a
        generator that decodes at the given lengths (a NAT at the oracle length)."""
        import torch
        from fairseq import utils

        if target_lengths is not None and len(target_lengths) != len(sources):
            raise ValueError(f"{len(target_lengths)} target lengths for {len(sources)} sources")
        lengths = None if target_lengths is None else torch.tensor(target_lengths)
        self.truncated_lines = []
        tokens = [self._encode(i, text) for i, text in enumerate(sources)]
        dataset = self.task.build_dataset_for_inference(tokens, [len(t) for t in tokens])
        # fairseq's inference datasets always pad sources on the left; decode with the side the model was
        # trained with (a NAT's copy of source embeddings reads left padding as tokens: fairseq#1316)
        dataset.left_pad_source = getattr(self.task.cfg, "left_pad_source", True)
        if self.lean:
            batches = self._lean_batches(dataset)
        else:
            batches = self.task.get_batch_iterator(
                dataset=dataset, max_tokens=self.max_tokens, max_positions=self.max_positions,
                ignore_invalid_inputs=False, num_workers=0,
            ).next_epoch_itr(shuffle=False)
        results: list[list[Hypothesis] | None] = [None] * len(sources)
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        with torch.inference_mode(), torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.bf16):
            for sample in batches:
                if lengths is not None:
                    sample["target_lengths"] = lengths[sample["id"].cpu()]
                if self.device == "cuda":
                    sample = utils.move_to_cuda(sample)
                outputs = (self.generator.generate(self.models, sample) if self.lean
                           else self.task.inference_step(self.generator, self.models, sample))
                for index, sample_id in enumerate(sample["id"].tolist()):
                    results[sample_id] = [Hypothesis(self.detokenize(h["tokens"].cpu()), float(h["score"]))
                                          for h in outputs[index][: self.nbest]]
        if self.device == "cuda":
            torch.cuda.synchronize()
        self.cpu_seconds += time.process_time() - cpu_start
        self.wall_seconds += time.perf_counter() - wall_start
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            raise RuntimeError(f"fairseq returned no hypothesis for input lines {missing[:5]}")
        return results
