"""Sequence-level knowledge distillation: regenerate a corpus's targets with a teacher.

Methods (Kim & Rush 2016):
  seqkd      beam search, keep the top hypothesis;
  seq-inter  beam search, keep the n-best hypothesis with the highest sentence BLEU
             against the reference (sacrebleu);
  sample     ancestral sampling from the teacher (one sample per source).
Several checkpoints given together decode as an ensemble (fairseq averages their
probabilities).

Train and valid are regenerated; test never is. The work is split into shards of
contiguous lines, each written atomically to ``<out>.shards/``; a killed run resumes
at the first missing shard, and because a shard's output depends only on its own lines
(and, for sampling, on seed + shard index) the result is byte-identical to an
uninterrupted run. Several processes may work on one corpus (``--num-workers`` /
``--worker-index``, e.g. one per GPU); whichever finishes the last shard assembles the
distilled corpus directory (same format as any corpus, same vocabulary as the original).

Two decoding backends: ``fairseq`` (the reference; ensembles) and ``ctranslate2`` (one
teacher, converted once; int8 on CPU is several times faster, see ``scripts/bench.sh``).
The backend, its compute type and (ctranslate2) its batching are part of the corpus's config hash.

The beam's length penalty is a number or ``auto``: tuned on the valid split first (:mod:`distill.lenpen`),
the table kept in ``<out>.shards/lenpen.json`` (so a resumed run does not tune again) and in the manifest.
"""
from __future__ import annotations

import fcntl
import shutil
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm import tqdm

from distill.card import write_card
from distill.corpus.directory import SPLITS, Corpus, build_corpus, corpus_identity
from distill.filters import OutputFilters, apply_filters
from distill.generation import DecodeSettings, Hypothesis, Translator
from distill.io import InputError, read_json, read_lines, sha256_file, write_json, write_lines
from distill.lenpen import DEFAULT_VALUES, LengthPenaltyTuning, format_tuning, tune_length_penalty
from distill.scoring import score_translations
from distill.state import checkpoint_sha256

METHODS = ("seqkd", "seq-inter", "sample")
BACKENDS = ("fairseq", "ctranslate2")
REGENERATED_SPLITS = ("train", "valid")


@dataclass
class RegenerationRequest:
    teachers: list[str]
    corpus: str
    out: str
    method: str = "seqkd"
    beam: int = 5
    nbest: int = 5
    shard_size: int = 2000
    seed: int = 1
    device: str = "cpu"
    max_tokens: int = 6000
    num_workers: int = 1
    worker_index: int = 0
    backend: str = "fairseq"
    compute_type: str = "int8"  # ctranslate2 only
    lenpen: float | str = 1.0  # a number, or "auto": tuned on valid (distill.lenpen)
    lenpen_values: tuple = DEFAULT_VALUES  # the candidates of "auto"
    lenpen_criterion: str = "length-ratio"
    filters: OutputFilters = field(default_factory=OutputFilters)  # rules for broken outputs (train split)
    # an external teacher (a CTranslate2 model directory): its tokenizers when not in the directory, and the token
    # that starts its outputs (a multilingual model's target language)
    teacher_source_spm: str | None = None
    teacher_target_spm: str | None = None
    target_prefix: str | None = None

    def external_teacher(self):
        """The request's teacher when it is a CTranslate2 model directory (checked), else None."""
        from distill.ctranslate2_backend import ExternalTeacher, is_ctranslate2_model

        if not any(is_ctranslate2_model(t) or (Path(t).is_dir() and not (Path(t) / "manifest.json").is_file())
                   for t in self.teachers):
            if self.teacher_source_spm or self.teacher_target_spm or self.target_prefix:
                raise InputError("--teacher-source-spm, --teacher-target-spm and --target-prefix are for a CTranslate2 "
                                 "model given as --teacher")
            return None
        if len(self.teachers) > 1:
            raise InputError("an external (CTranslate2) teacher decodes alone; give one --teacher")
        return ExternalTeacher.open(self.teachers[0], self.teacher_source_spm, self.teacher_target_spm,
                                    self.target_prefix)

    @property
    def tunes_lenpen(self) -> bool:
        return self.lenpen == "auto"

    def decode_settings(self) -> DecodeSettings:
        if self.method == "sample":
            return DecodeSettings(beam=1, nbest=1, sampling=True, device=self.device, max_tokens=self.max_tokens)
        nbest = self.nbest if self.method == "seq-inter" else 1
        return DecodeSettings(beam=max(self.beam, nbest), nbest=nbest, device=self.device, max_tokens=self.max_tokens,
                              lenpen=1.0 if self.tunes_lenpen else float(self.lenpen))

    def check(self) -> None:
        """Refuse settings that contradict each other (one line each)."""
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if not 0 <= self.worker_index < self.num_workers:
            raise InputError("--worker-index must be in [0, --num-workers)")
        if self.backend not in BACKENDS:
            raise InputError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.backend == "ctranslate2" and len(self.teachers) > 1:
            raise InputError("the ctranslate2 backend decodes one teacher; use --backend fairseq for an ensemble")
        if not self.tunes_lenpen:
            try:
                lenpen = float(self.lenpen)
            except ValueError:
                raise InputError(f"--lenpen {self.lenpen!r}: expected a positive number or auto") from None
            if lenpen <= 0:
                raise InputError(f"--lenpen {self.lenpen!r}: expected a positive number or auto")
        if self.method == "sample" and self.lenpen != 1.0:
            raise InputError("--lenpen ranks beam hypotheses; the sample method has none (leave it at 1)")

    def identity(self, settings: DecodeSettings) -> dict:
        """How the targets are decoded, as the corpus's config hash sees it."""
        decoding = {k: v for k, v in settings.as_dict().items() if k not in ("device", "max_tokens")}
        if self.tunes_lenpen:
            decoding["lenpen"] = {"tuned_on": "valid", "values": [float(v) for v in self.lenpen_values],
                                  "criterion": self.lenpen_criterion}
        return decoding


def pick(method: str, hypotheses: list[Hypothesis], reference: str) -> str:
    """The distilled target of one source, given the teacher's n-best list."""
    if method != "seq-inter":
        return hypotheses[0].text
    from sacrebleu.metrics import BLEU

    metric = BLEU(effective_order=True)
    scored = [(metric.sentence_score(h.text, [reference]).score, -rank) for rank, h in enumerate(hypotheses)]
    return hypotheses[-max(scored)[1]].text


def _shard_names(counts: dict[str, int], shard_size: int) -> list[tuple[str, int, int, int]]:
    """(split, shard index within split, first line, end line) for every shard."""
    shards = []
    for split in REGENERATED_SPLITS:
        for index, start in enumerate(range(0, counts[split], shard_size)):
            shards.append((split, index, start, min(start + shard_size, counts[split])))
    return shards


def regenerate(request: RegenerationRequest) -> Corpus | None:
    """Decode the missing shards of this worker; assemble the corpus when all are done."""
    external = request.external_teacher()
    if external is not None and request.backend != "ctranslate2":
        request = replace(request, backend="ctranslate2")  # a converted model decodes in CTranslate2 only
        print(f"{external.model}: a CTranslate2 model; decoding with --backend ctranslate2", flush=True)
    request.check()
    corpus = Corpus.open(request.corpus)
    teachers = [str(Path(t).resolve()) for t in request.teachers]
    # by content: a moved teacher is the same; one kept without its checkpoint (distill.state) by the hash recorded
    hashes = [] if external else [checkpoint_sha256(t) for t in teachers]
    for teacher, sha in zip(teachers, hashes):
        if sha is None:
            raise InputError(f"{teacher}: teacher checkpoint not found")
    settings = request.decode_settings()
    config = {"kind": "distilled", "method": request.method, "source_corpus": corpus.manifest["config_hash"],
              "teachers": [external.identity()] if external else [{"sha256": sha} for sha in hashes],
              "decoding": request.identity(settings),
              "shard_size": request.shard_size, "seed": request.seed, "filters": request.filters.identity()}
    config["backend"] = request.backend
    if request.backend == "ctranslate2":
        from distill.ctranslate2_backend import batching

        config.update(compute_type=request.compute_type, batching=batching(settings))
    key = corpus_identity(config)
    out = Path(request.out)
    if (out / "manifest.json").is_file():
        existing = Corpus.open(out)
        if existing.manifest.get("config_hash") != key:
            raise InputError(f"{out}: holds a corpus distilled with other settings; choose another --out or delete it")
        print(f"{out}: already distilled ({existing.manifest['config_hash']}); skipping", flush=True)
        return existing

    missing = [t for t in teachers if external is None and not Path(t).is_file()]
    if missing:
        raise InputError(f"{missing[0]}: this teacher's run was kept without its checkpoints (distill.state), and "
                         f"{out} is not distilled yet; train the teacher again (delete its run) to distill with it")
    shard_dir = out.parent / f".{out.name}.shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    state_path = shard_dir / "config.json"
    if state_path.is_file() and read_json(state_path).get("config_hash") != key:
        raise InputError(f"{shard_dir}: shards of a run with other settings; delete the directory to start over")
    write_json(state_path, {**config, "config_hash": key})

    columns = {split: {"src": corpus.lines(split, "src"), "tgt": corpus.lines(split,
                                                                              "tgt")} for split in REGENERATED_SPLITS}
    shards = _shard_names({s: len(c["src"]) for s, c in columns.items()}, request.shard_size)
    mine = [s for n, s in enumerate(shards) if n % request.num_workers == request.worker_index]
    todo = [s for s in mine if not (shard_dir / f"{s[0]}-{s[1]:05d}.json").is_file()]
    tuning_path = shard_dir / "lenpen.json"
    if todo:
        translator = translator_for(request, corpus, external)
        if request.tunes_lenpen:
            translator.set_length_penalty(_tuned_lenpen(request, translator, corpus, tuning_path).chosen)
        with tqdm(total=sum(end - start for _, _, start, end in todo), unit="sent",
                  desc=f"distilling ({request.method}, worker {request.worker_index})", mininterval=2) as bar:
            for split, index, start, end in todo:
                translator.set_seed(request.seed + 1000 * REGENERATED_SPLITS.index(split) + index)
                cpu_before, wall_before, truncated_before = (translator.cpu_seconds, translator.wall_seconds,
                                                             translator.truncated)
                nbest = translator.translate(columns[split]["src"][start:end])
                targets = [pick(request.method, hyps, ref) for hyps, ref in zip(nbest,
                                                                                columns[split]["tgt"][start:end])]
                name = shard_dir / f"{split}-{index:05d}"
                write_lines(name.with_suffix(".tgt"), targets)
                write_json(name.with_suffix(".json"), {  # written last: marks the shard done
                    "lines": end - start, "cpu_seconds": translator.cpu_seconds - cpu_before,
                    "wall_seconds": translator.wall_seconds - wall_before,
                    "truncated_sources": translator.truncated - truncated_before,
                    "tgt_sha256": sha256_file(name.with_suffix(".tgt"))})
                bar.update(end - start)
    if not all((shard_dir / f"{s}-{i:05d}.json").is_file() for s, i, _, _ in shards):
        print(f"worker {request.worker_index}: shards done; other workers still running", flush=True)
        return None
    with open(shard_dir / "assemble.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (out / "manifest.json").is_file():
            return Corpus.open(out)
        sources = [{"corpus": str(corpus.path.resolve())}, *({"teacher": t} for t in teachers)]  # where they were
        lenpen = (LengthPenaltyTuning.from_dict(read_json(tuning_path)).as_dict() if request.tunes_lenpen
                  else {"chosen": settings.lenpen})
        return _assemble(corpus, sources, out, shard_dir, shards, config, key, request.device, lenpen,
                         request.filters)


def _tuned_lenpen(request: RegenerationRequest, translator, corpus: Corpus, path: Path) -> LengthPenaltyTuning:
    """The valid split's length-penalty tuning: from ``path`` when an earlier run (or worker) made it."""
    if path.is_file():
        return LengthPenaltyTuning.from_dict(read_json(path))
    print(f"tuning the length penalty on valid ({request.lenpen_criterion}) over "
          f"{', '.join(f'{v:g}' for v in request.lenpen_values)}", flush=True)
    tuning = tune_length_penalty(translator, corpus, request.lenpen_values, request.lenpen_criterion,
                                 progress=lambda p: print(f"  lenpen {p.lenpen:g}: BLEU {p.bleu:.2f}, "
                                                          f"length ratio {p.length_ratio:.3f}", flush=True))
    print(format_tuning(tuning), flush=True)
    write_json(path, tuning.as_dict())
    return tuning


def teacher_path(teacher: str) -> str:
    """A ``--teacher`` as regeneration takes it: a training run stands for its checkpoint; a checkpoint file and
    any other directory (a CTranslate2 model, checked when the request is) are themselves."""
    from distill.engine import checkpoint_of

    path = Path(teacher)
    return checkpoint_of(teacher) if path.is_file() or (path / "manifest.json").is_file() else teacher


def translator_for(request: RegenerationRequest, corpus: Corpus, external=None):
    """The request's teacher(s), loaded in its backend with its decoding settings; ``external``: its
    :meth:`RegenerationRequest.external_teacher`, opened (and checked) once by the caller."""
    settings = request.decode_settings()
    if request.backend == "ctranslate2" or external is not None:
        from distill.ctranslate2_backend import CTranslate2Translator

        return CTranslate2Translator(external or request.teachers[0], corpus, settings,
                                     compute_type=request.compute_type)
    return Translator.autoregressive(request.teachers, corpus, settings)


def with_distilled_targets(columns: dict[str, list[str]], targets: list[str],
                           filters: OutputFilters) -> tuple[dict[str, list[str]], dict]:
    """A split's raw columns with the teacher's ``targets`` as ``tgt`` and the human ones as ``orig`` (``mode``
    becomes ``orig.mode``: the labels describe the human targets), after ``filters``; and its filtered record."""
    applied = apply_filters(columns, targets, filters)
    columns = applied["columns"]
    if "mode" in columns:
        columns["orig.mode"] = columns.pop("mode")
    return columns, applied["filtered"]


def targets_vs_references(corpus: Corpus, columns: dict[str, list[str]]) -> dict:
    """BLEU and chrF of a distilled split's targets against its human references (``orig`` and ``ref.*``)."""
    references = corpus.manifest["references"]
    extra = {name: columns[f"ref.{name}"] for name in references.get("extra", [])}
    return score_translations(columns["tgt"], {references["primary"]: columns["orig"], **extra})


def _assemble(corpus: Corpus, sources: list[dict], out: Path, shard_dir: Path, shards, config: dict, key: str,
              device: str, lenpen: dict, filters: OutputFilters) -> Corpus:
    targets = {split: [] for split in REGENERATED_SPLITS}
    stats = []
    for split, index, start, end in shards:
        name = shard_dir / f"{split}-{index:05d}"
        info = read_json(name.with_suffix(".json"))
        if sha256_file(name.with_suffix(".tgt")) != info["tgt_sha256"]:
            raise InputError(f"{name.with_suffix('.tgt')}: content does not match its record; delete the shard and "
                             f"re-run")
        lines = read_lines(name.with_suffix(".tgt"))
        if len(lines) != end - start:
            raise InputError(f"{name.with_suffix('.tgt')}: {len(lines)} lines, expected {end - start}")
        targets[split] += lines
        stats.append(info)

    splits, quality = {}, {}
    filtered = {split: {"counts": {}, "examples": []} for split in SPLITS}
    for split in SPLITS:
        splits[split] = corpus.columns(split)
        if split in targets:
            if len(targets[split]) != len(splits[split]["src"]):
                raise RuntimeError(f"{split}: {len(targets[split])} distilled lines for {len(splits[split]['src'])} "
                                   f"sources")
            # the rules for broken outputs apply to the training pairs; valid keeps every teacher output
            splits[split], filtered[split] = with_distilled_targets(
                splits[split], targets[split], filters if split == "train" else OutputFilters())
            quality[split] = targets_vs_references(corpus, splits[split])
    sentences = sum(s["lines"] for s in stats)
    cost = {"sentences": sentences, "cpu_seconds": round(sum(s["cpu_seconds"] for s in stats), 2),
            "wall_seconds": round(sum(s["wall_seconds"] for s in stats), 2),
            "cpu_seconds_per_sentence": sum(s["cpu_seconds"] for s in stats) / max(sentences, 1),
            "wall_seconds_per_sentence": sum(s["wall_seconds"] for s in stats) / max(sentences, 1),
            "median_shard_sentences_per_wall_second": statistics.median(s["lines"] / max(s["wall_seconds"],
                                                                                         1e-9) for s in stats),
            "device": device, "truncated_sources": sum(s["truncated_sources"] for s in stats)}
    note = ("test is copied from the source corpus, never regenerated; raw/<split>.orig (and .orig.mode) hold "
            "the original targets (and their modes)")
    built = build_corpus(out, splits, kind="distilled", config=config, sources=sources,
                         references=corpus.manifest["references"], filtered=filtered,
                         vocab_size=corpus.manifest["sentencepiece"]["vocab_size"], reuse_vocabulary_of=corpus,
                         extra_manifest={"distillation": {"teacher_cost": cost,
                                                          "distilled_targets_vs_references": quality,
                                                          "length_penalty": lenpen,
                                                          "note": note}})
    if built.manifest["config_hash"] != key:
        raise RuntimeError("assembled corpus has an unexpected config hash")
    write_card(built)  # derived from the manifest, after it: `seqkd-distill card` writes it again
    shutil.rmtree(shard_dir)
    return built
