"""CTranslate2 backend for teacher decoding: the fast path for regeneration at scale.

Regeneration dominates the cost of SeqKD on WMT-sized data, and CTranslate2 runs the same
fairseq Transformer several times faster (int8 on CPU, float16 on GPU). The teacher
checkpoint is converted once with CTranslate2's own fairseq converter (trusted checkpoints
only: the converter unpickles it) into ``<checkpoint dir>/ct2-<checkpoint sha256[:12]>/``,
written to a temporary directory and renamed, so a half-converted model is never used.
The model is stored in float32; ``compute_type`` quantizes it when loading.

:class:`CTranslate2Translator` has the interface of :class:`distill.generation.Translator`
(raw text in, n-best :class:`Hypothesis` lists out in input order, truncation and timing
bookkeeping), so regeneration shards, resumes and records cost the same way with either backend.
Differences from fairseq's beam search: the maximum output length is set per call from the
longest source (``max_len_a * longest + max_len_b``), not per sentence.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from distill.corpus.directory import Corpus
from distill.engine import DISTILL_USER_DIR, cpu_threads
from distill.fairseq_setup import prepare_fairseq
from distill.generation import DecodeSettings, Hypothesis
from distill.io import InputError, sha256_file

COMPUTE_TYPES = ("float32", "int8", "int8_float32", "float16", "int8_float16", "default")


def converted_model(checkpoint: str, corpus: Corpus) -> Path:
    """The CTranslate2 conversion of ``checkpoint`` (converted now if not cached yet)."""
    from ctranslate2.converters import FairseqConverter
    from fairseq import checkpoint_utils

    prepare_fairseq()
    digest = sha256_file(checkpoint)
    target = Path(checkpoint).parent / f"ct2-{digest[:12]}"
    if (target / "seqkd.json").is_file():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    print(f"converting {checkpoint} for CTranslate2 into {target} (loads the pickle: trusted checkpoints only)",
          flush=True)
    model_cfg = checkpoint_utils.load_checkpoint_to_cpu(checkpoint)["cfg"]["model"]
    FairseqConverter(checkpoint, str(corpus.bin_dir), user_dir=DISTILL_USER_DIR,
                     unsafe_deserialization=True).convert(str(partial), force=True)
    (partial / "seqkd.json").write_text(json.dumps({  # written last: marks the conversion complete
        "checkpoint": str(Path(checkpoint).resolve()), "checkpoint_sha256": digest,
        "max_source_positions": model_cfg.max_source_positions}, indent=2) + "\n")
    partial.rename(target)
    return target


def batching(settings: DecodeSettings) -> dict:
    """How sentences are grouped into batches. Part of a distilled corpus's config: with int8,
    padding changes the quantized numbers, so the grouping changes outputs (one batch of 5,000
    bible-es-en-5k sources vs sub-batches of 32: 89 lines differ)."""
    if settings.device == "cpu":
        return {"max_batch_size": 32, "batch_type": "examples"}
    return {"max_batch_size": settings.max_tokens, "batch_type": "tokens"}


class CTranslate2Translator:
    """A converted teacher: raw text in, detokenized n-best lists out, input order kept."""

    def __init__(self, checkpoint: str, corpus: Corpus, settings: DecodeSettings, compute_type: str = "int8",
                 threads: int = 0, one_batch_at_a_time: bool = False):
        """``threads`` 0 = one per core this process may use (CTranslate2's own default is 4).

        On CPU the threads run independent sub-batches of 32 sentences (``inter_threads``), one
        thread each, which is fastest for a corpus (docs/design.md); ``one_batch_at_a_time`` puts
        all threads on one batch instead (``intra_threads``), which is what lowers the latency of a
        single sentence. On GPU one replica decodes batches of ``max_tokens`` tokens.
        """
        import ctranslate2
        import sentencepiece as spm

        if compute_type not in COMPUTE_TYPES:
            raise InputError(f"unknown compute type {compute_type!r}; choose one of {', '.join(COMPUTE_TYPES)}")
        model_dir = converted_model(checkpoint, corpus)
        self.max_source_tokens = json.loads((model_dir / "seqkd.json").read_text())["max_source_positions"]
        threads = threads or cpu_threads()
        on_cpu = settings.device == "cpu"
        replicas = threads if on_cpu and not one_batch_at_a_time else 1
        self.translator = ctranslate2.Translator(str(model_dir), device=settings.device, compute_type=compute_type,
                                                 inter_threads=replicas, intra_threads=threads // replicas)
        self.batching = batching(settings)
        self.settings, self.nbest = settings, settings.nbest
        self.spm = spm.SentencePieceProcessor(model_file=str(corpus.spm_model))
        self.cpu_seconds = 0.0
        self.wall_seconds = 0.0
        self.truncated = 0
        self.truncated_lines: list[int] = []

    def set_length_penalty(self, lenpen: float) -> None:
        """Rank the beam's hypotheses by score / length ** ``lenpen`` from now on."""
        from dataclasses import replace

        self.settings = replace(self.settings, lenpen=lenpen)

    def set_seed(self, seed: int) -> None:
        """Seed sampling (only ``sample`` regeneration draws random numbers)."""
        import ctranslate2

        ctranslate2.set_random_seed(seed)

    def _pieces(self, index: int, text: str) -> list[str]:
        pieces = self.spm.encode(text, out_type=str)
        if len(pieces) + 1 > self.max_source_tokens:  # + </s>, as fairseq counts
            self.truncated += 1
            self.truncated_lines.append(index)
            pieces = pieces[: self.max_source_tokens - 1]
        return pieces

    def translate(self, sources: list[str]) -> list[list[Hypothesis]]:
        """n-best hypotheses for every source line, in input order."""
        self.truncated_lines = []
        batch = [self._pieces(i, text) for i, text in enumerate(sources)]
        if not batch:
            return []
        settings = self.settings
        longest = max(len(pieces) + 1 for pieces in batch)
        sampling = {"sampling_topk": settings.sampling_topk if settings.sampling_topk > 0 else 0} \
            if settings.sampling else {}
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        results = self.translator.translate_batch(
            batch, **self.batching, beam_size=settings.beam, length_penalty=settings.lenpen,
            num_hypotheses=settings.nbest, return_scores=True, max_input_length=0,
            max_decoding_length=int(settings.max_len_a * longest + settings.max_len_b), **sampling)
        self.cpu_seconds += time.process_time() - cpu_start
        self.wall_seconds += time.perf_counter() - wall_start
        return [[Hypothesis(self.spm.decode(tokens), float(score))
                 for tokens, score in zip(result.hypotheses, result.scores)] for result in results]
