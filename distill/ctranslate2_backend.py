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
import time
from dataclasses import dataclass
from pathlib import Path

from distill.corpus.directory import Corpus
from distill.engine import DISTILL_USER_DIR, cpu_threads
from distill.fairseq_setup import prepare_fairseq
from distill.generation import DecodeSettings, Hypothesis
from distill.io import InputError, private_work_directory, publish_directory, sha256_file

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
    partial = private_work_directory(target)
    print(f"converting {checkpoint} for CTranslate2 into {target} (loads the pickle: trusted checkpoints only)",
          flush=True)
    model_cfg = checkpoint_utils.load_checkpoint_to_cpu(checkpoint)["cfg"]["model"]
    FairseqConverter(checkpoint, str(corpus.bin_dir), user_dir=DISTILL_USER_DIR,
                     unsafe_deserialization=True).convert(str(partial), force=True)
    (partial / "seqkd.json").write_text(json.dumps({  # written last: marks the conversion complete
        "checkpoint": str(Path(checkpoint).resolve()), "checkpoint_sha256": digest,
        "max_source_positions": model_cfg.max_source_positions}, indent=2) + "\n")
    publish_directory(partial, target, "seqkd.json")
    return target


def batching(settings: DecodeSettings) -> dict:
    """How sentences are grouped into batches. Part of a distilled corpus's config: with int8,
    padding changes the quantized numbers, so the grouping changes outputs (one batch of 5,000
    bible-es-en-5k sources vs sub-batches of 32: 89 lines differ)."""
    if settings.device == "cpu":
        return {"max_batch_size": 32, "batch_type": "examples"}
    return {"max_batch_size": settings.max_tokens, "batch_type": "tokens"}


# an external teacher's tokenizers, looked for in its directory: Marian/OPUS-MT name them source.spm and target.spm
SOURCE_TOKENIZERS = ("source.spm", "spm.model", "sentencepiece.bpe.model", "sentencepiece.model")
TARGET_TOKENIZERS = ("target.spm", "spm.model", "sentencepiece.bpe.model", "sentencepiece.model")
EXTERNAL_MAX_SOURCE_TOKENS = 1024  # CTranslate2's own default limit (max_input_length) for an external model


def is_ctranslate2_model(path) -> bool:
    """A CTranslate2 model directory (what its converters write: model.bin and config.json)."""
    path = Path(path)
    return path.is_dir() and (path / "model.bin").is_file() and (path / "config.json").is_file()


@dataclass(frozen=True)
class ExternalTeacher:
    """A teacher trained elsewhere, converted to CTranslate2 (``ct2-transformers-converter`` from a Marian or
    NLLB model, ``ct2-fairseq-converter``, ...), with the sentencepiece models of its source and target side and,
    for a multilingual model, the target-language token that starts every output (NLLB: ``eng_Latn``)."""

    model: Path
    source_spm: Path
    target_spm: Path
    target_prefix: str | None = None

    @classmethod
    def open(cls, directory, source_spm=None, target_spm=None, target_prefix: str | None = None) -> ExternalTeacher:
        """Check everything before any decoding: one line naming what is missing or does not fit."""
        directory = Path(directory)
        if not is_ctranslate2_model(directory):
            raise InputError(f"{directory}: neither a training run (no manifest.json) nor a CTranslate2 model (no "
                             "model.bin and config.json); give a run, a checkpoint or a converted model")

        def tokenizer(given, names, side):
            if given:
                if not Path(given).is_file():
                    raise InputError(f"{given}: {side} tokenizer not found")
                return Path(given)
            found = next((directory / name for name in names if (directory / name).is_file()), None)
            if found is None:
                raise InputError(f"{directory}: no {side} sentencepiece model ({', '.join(names)}); copy the model's "
                                 f"tokenizer there or give --teacher-{side}-spm")
            return found

        teacher = cls(directory, tokenizer(source_spm, SOURCE_TOKENIZERS, "source"),
                      tokenizer(target_spm, TARGET_TOKENIZERS, "target"), target_prefix)
        teacher.check_vocabulary()
        return teacher

    def vocabulary(self, side: str) -> set[str]:
        """The model's own vocabulary of one side (the converter's files: JSON lists or one token per line)."""
        for name in (f"{side}_vocabulary.json", "shared_vocabulary.json", f"{side}_vocabulary.txt",
                     "shared_vocabulary.txt"):
            path = self.model / name
            if path.is_file():
                text = path.read_text(encoding="utf-8")
                return set(json.loads(text)) if name.endswith(".json") else set(text.splitlines())
        raise InputError(f"{self.model}: no vocabulary file ({side}_vocabulary.json or shared_vocabulary.json)")

    def check_vocabulary(self) -> None:
        """The tokenizers must write the model's tokens, and the target prefix must be one of them."""
        import sentencepiece as spm

        for side, path in (("source", self.source_spm), ("target", self.target_spm)):
            pieces = spm.SentencePieceProcessor(model_file=str(path))
            known = {pieces.id_to_piece(i) for i in range(pieces.get_piece_size())}
            # the model's tokens are what its tokenizer writes (less special and language tokens): a model
            # vocabulary built from the corpus holds only the pieces it saw, so not every piece is in it
            tokens = [token for token in self.vocabulary(side) if not (token.startswith("<") and token.endswith(">"))]
            shared = sum(token in known for token in tokens) / max(len(tokens), 1)
            if shared < 0.9:
                raise InputError(f"{path}: writes only {shared:.0%} of {self.model}'s {side} tokens; this tokenizer "
                                 "does not belong to the model")
        if self.target_prefix and self.target_prefix not in self.vocabulary("target"):
            raise InputError(f"{self.model}: the target-language token {self.target_prefix!r} is not in its "
                             "vocabulary; check the language code the model uses (e.g. eng_Latn)")

    def identity(self) -> dict:
        """What makes its outputs: the model's and tokenizers' contents (a moved directory is the same teacher)."""
        return {"sha256": sha256_file(self.model / "model.bin"), "kind": "ctranslate2",
                "source_spm": sha256_file(self.source_spm), "target_spm": sha256_file(self.target_spm),
                **({"target_prefix": self.target_prefix} if self.target_prefix else {})}


class CTranslate2Translator:
    """A converted teacher: raw text in, detokenized n-best lists out, input order kept."""

    def __init__(self, checkpoint, corpus: Corpus | None, settings: DecodeSettings, compute_type: str = "int8",
                 threads: int = 0, one_batch_at_a_time: bool = False):
        """``checkpoint``: this project's teacher checkpoint (converted once, tokenized with ``corpus``'s
        sentencepiece model) or an :class:`ExternalTeacher`. ``threads`` 0 = one per core this process may use
        (CTranslate2's own default is 4).

        On CPU the threads run independent sub-batches of 32 sentences (``inter_threads``), one
        thread each, which is fastest for a corpus (docs/design.md); ``one_batch_at_a_time`` puts
        all threads on one batch instead (``intra_threads``), which is what lowers the latency of a
        single sentence. On GPU one replica decodes batches of ``max_tokens`` tokens.
        """
        import ctranslate2
        import sentencepiece as spm

        if compute_type not in COMPUTE_TYPES:
            raise InputError(f"unknown compute type {compute_type!r}; choose one of {', '.join(COMPUTE_TYPES)}")
        if isinstance(checkpoint, ExternalTeacher):
            model_dir, source_spm, target_spm = checkpoint.model, checkpoint.source_spm, checkpoint.target_spm
            self.max_source_tokens, self.target_prefix = EXTERNAL_MAX_SOURCE_TOKENS, checkpoint.target_prefix
        else:
            model_dir = converted_model(checkpoint, corpus)
            source_spm = target_spm = corpus.spm_model
            self.max_source_tokens = json.loads((model_dir / "seqkd.json").read_text())["max_source_positions"]
            self.target_prefix = None
        threads = threads or cpu_threads()
        on_cpu = settings.device == "cpu"
        replicas = threads if on_cpu and not one_batch_at_a_time else 1
        self.translator = ctranslate2.Translator(str(model_dir), device=settings.device, compute_type=compute_type,
                                                 inter_threads=replicas, intra_threads=threads // replicas)
        self.batching = batching(settings)
        self.settings, self.nbest = settings, settings.nbest
        self.spm = spm.SentencePieceProcessor(model_file=str(source_spm))
        self.target_spm = (self.spm if target_spm == source_spm
                           else spm.SentencePieceProcessor(model_file=str(target_spm)))
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
        prefix = {"target_prefix": [[self.target_prefix]] * len(batch)} if self.target_prefix else {}
        results = self.translator.translate_batch(
            batch, **self.batching, **prefix, beam_size=settings.beam, length_penalty=settings.lenpen,
            num_hypotheses=settings.nbest, return_scores=True, max_input_length=0,
            max_decoding_length=int(settings.max_len_a * longest + settings.max_len_b), **sampling)
        self.cpu_seconds += time.process_time() - cpu_start
        self.wall_seconds += time.perf_counter() - wall_start
        return [[Hypothesis(self.target_spm.decode(self._without_prefix(tokens)), float(score))
                 for tokens, score in zip(result.hypotheses, result.scores)] for result in results]

    def _without_prefix(self, tokens: list[str]) -> list[str]:
        """An output without the target-language token it was made to start with."""
        return tokens[1:] if self.target_prefix and tokens[:1] == [self.target_prefix] else tokens
