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

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Hypothesis:
    text: str
    score: float  # mean log-probability per token (fairseq's normalized score)


class Translator:
    """One teacher (or an ensemble of teachers sharing a vocabulary) ready to decode."""

    def __init__(self, checkpoints: list[str], corpus: Corpus, settings: DecodeSettings):
        import sentencepiece as spm
        import torch
        from fairseq import utils

        self.settings = settings
        self.models, cfg, self.task = load_ensemble(checkpoints, str(corpus.bin_dir))
        if settings.device == "cuda":
            self.models = [model.cuda() for model in self.models]
        generation = cfg.generation
        generation.beam, generation.nbest = settings.beam, settings.nbest
        generation.sampling, generation.sampling_topk = settings.sampling, settings.sampling_topk
        generation.max_len_a, generation.max_len_b = settings.max_len_a, settings.max_len_b
        self.generator = self.task.build_generator(self.models, generation)
        self.spm = spm.SentencePieceProcessor(model_file=str(corpus.spm_model))
        self.max_positions = utils.resolve_max_positions(self.task.max_positions(),
                                                         *[m.max_positions() for m in self.models])
        self.max_source_tokens = self.max_positions[0] if isinstance(self.max_positions, tuple) else self.max_positions
        self._torch = torch
        self.cpu_seconds = 0.0
        self.wall_seconds = 0.0
        self.truncated = 0

    def _encode(self, text: str):
        pieces = " ".join(self.spm.encode(text, out_type=str))
        tokens = self.task.source_dictionary.encode_line(pieces, add_if_not_exist=False, append_eos=True).long()
        if len(tokens) > self.max_source_tokens:
            self.truncated += 1
            tokens = self._torch.cat([tokens[: self.max_source_tokens - 1], tokens[-1:]])
        return tokens

    def translate(self, sources: list[str]) -> list[list[Hypothesis]]:
        """n-best hypotheses for every source line, in input order."""
        from fairseq import utils

        tokens = [self._encode(text) for text in sources]
        dataset = self.task.build_dataset_for_inference(tokens, [len(t) for t in tokens])
        batches = self.task.get_batch_iterator(
            dataset=dataset, max_tokens=self.settings.max_tokens, max_positions=self.max_positions,
            ignore_invalid_inputs=False, num_workers=0,
        ).next_epoch_itr(shuffle=False)
        results: list[list[Hypothesis] | None] = [None] * len(sources)
        target_dictionary = self.task.target_dictionary
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        with self._torch.inference_mode():
            for sample in batches:
                if self.settings.device == "cuda":
                    sample = utils.move_to_cuda(sample)
                outputs = self.task.inference_step(self.generator, self.models, sample)
                for index, sample_id in enumerate(sample["id"].tolist()):
                    results[sample_id] = [
                        Hypothesis(self.spm.decode(target_dictionary.string(h["tokens"].int().cpu()).split()),
                                   float(h["score"]))
                        for h in outputs[index][: self.settings.nbest]
                    ]
        if self.settings.device == "cuda":
            self._torch.cuda.synchronize()
        self.cpu_seconds += time.process_time() - cpu_start
        self.wall_seconds += time.perf_counter() - wall_start
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            raise RuntimeError(f"fairseq returned no hypothesis for input lines {missing[:5]}")
        return results
