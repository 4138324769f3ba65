"""Decoding trained students (and the teacher) from raw text: a ready Translator for any run, the CTC
blank penalty tuned on the validation set. The generators, with the length beam and the teacher's
rescoring, are in :mod:`nat.generators`; which one a run gets, its kind says (:mod:`nat.registry`).
Vanilla NAT always decodes with 0 refinement iterations (fairseq#1231): a NAT run ignores ``iterations``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distill.corpus.directory import Corpus
from distill.engine import load_ensemble, read_run_manifest
from distill.generation import DecodeSettings, Translator
from distill.io import InputError
from nat.registry import student_kind
from nat.shortlist import DEFAULT_FREQUENT


@dataclass
class StudentSettings:
    iterations: int = 10  # CMLM refinement steps; vanilla NAT always uses 0
    length_beam: int = 1
    max_tokens: int = 6000
    device: str = "cpu"
    blank_penalty: float | None = None  # CTC students; None: the run's tuned one (blank_penalty.json), else 0
    lean: bool = False  # one-pass students: batches built directly and a one-pass generator (same outputs)
    runtime: str = "eager"  # ctc students: "torchscript" traces the model once when it is loaded, "onnxruntime"
    # exports it to ONNX and runs it in ONNX Runtime (nat.onnx_runtime)
    int8: bool = False  # with onnxruntime: ONNX Runtime's dynamic int8 quantization
    bf16: bool = False  # eager runtime: bfloat16 autocast (float32 weights), for CPUs with AVX512-BF16 or AMX
    oracle_length: bool = False  # a NAT that predicts its length decodes at the reference's (evaluate)
    dag_decoding: str | None = None  # dat students: the path (nat.dag.DAG_DECODINGS); None: the first, lookahead
    shortlist: int = 0  # ctc students: the output layer over a vocabulary shortlist of this many target pieces
    # per source piece (nat.shortlist); 0: the whole vocabulary
    shortlist_frequent: int = DEFAULT_FREQUENT  # with shortlist: the most frequent target pieces added


RUNTIMES = ("eager", "torchscript", "onnxruntime")


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
        if settings.oracle_length:
            raise InputError(f"{run_dir}: an autoregressive model ends where it writes </s>; --oracle-length decodes "
                             "the one-pass students that predict their length (nat, nat-glat)")
        if settings.shortlist:
            raise InputError(f"{run_dir}: an autoregressive model; --shortlist is for the ctc students' one pass")
        return Translator.autoregressive([checkpoint], corpus, DecodeSettings(
            beam=beam, max_tokens=settings.max_tokens, device=settings.device))
    if settings.runtime not in RUNTIMES:
        raise InputError(f"unknown runtime {settings.runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if settings.int8 and settings.runtime != "onnxruntime":
        raise InputError("--int8 quantizes the model ONNX Runtime runs: add --runtime onnxruntime")
    if settings.bf16 and settings.runtime != "eager":
        raise InputError(f"--bf16 is torch's autocast: it runs with --runtime eager, not {settings.runtime}")
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
                      device=settings.device, lean=lean, bf16=settings.bf16)
