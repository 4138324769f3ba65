"""`seqkd-distill`: the one entry point of the distill package.

Subcommands follow the data flow: prepare a corpus, train a teacher, regenerate
(distill) the corpus with it, evaluate; `state` keeps a long job's state in git between machines.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from distill.corpus.filtering import DEFAULT_MAX_WORDS
from distill.io import InputError, dispatch, name_and_value


def _add_prepare(subparsers) -> None:
    prepare = subparsers.add_parser("prepare",
                                    help="prepare a corpus directory (text, sentencepiece, fairseq binaries, manifest)")
    kinds = prepare.add_subparsers(dest="kind", required=True)

    def common(parser, vocab_default):
        parser.add_argument("--out", required=True, help="corpus directory to create")
        parser.add_argument("--vocab-size", type=int, default=vocab_default, help="joint sentencepiece vocabulary size")
        parser.add_argument("--seed", type=int, default=1)

    bible = kinds.add_parser("bible-es-en",
                             help="Spanish RV1909 -> English WEB (+KJV reference) from Debian's SWORD modules")
    common(bible, 8000)
    bible.add_argument("--max-words", type=int, default=DEFAULT_MAX_WORDS,
                       help="drop (and count) verses longer than this (default: %(default)s)")
    bible.add_argument("--sword-path", default="/usr/share/sword", help="SWORD data directory (with mods.d/)")
    bible.add_argument("--multi-target", action="store_true",
                       help="multimodality variant: each verse's target is WEB or KJV at random (raw/<split>.mode)")
    bible.add_argument("--train-limit", type=int, metavar="N",
                       help="keep only the first N training verses (quick runs; the rest are counted as filtered)")

    synthetic = kinds.add_parser("synthetic", help="synthetic corpus with known H(y|x) and K target modes")
    common(synthetic, 2000)
    from distill.corpus.synthetic import SyntheticConfig

    for field, default in SyntheticConfig().__dict__.items():
        if field == "seed":
            continue
        synthetic.add_argument(f"--{field.replace('_', '-')}", type=type(default), default=default,
                               dest=f"syn_{field}", help=f"(default: {default})")

    files = kinds.add_parser("files", help="your own parallel text files (e.g. WMT14), one sentence per line")
    common(files, 8000)
    files.add_argument("--src", required=True, help="training source file")
    files.add_argument("--tgt", required=True, help="training target file")
    for split in ("valid", "test"):
        files.add_argument(f"--{split}-src", help=f"{split} source file (default: held out from training data)")
        files.add_argument(f"--{split}-tgt", help=f"{split} target file")
        files.add_argument(f"--{split}-ref", action="append", default=[], metavar="NAME=FILE",
                           help=f"extra {split} reference (repeatable)")
    files.add_argument("--max-words", type=int, default=DEFAULT_MAX_WORDS,
                       help="drop (and count) pairs longer than this (default: %(default)s)")
    files.add_argument("--held-out-per-mille", type=int, default=20,
                       help="share (per mille) of training lines held out for valid and for test when not given")


def _run_prepare(args) -> None:
    if args.kind == "bible-es-en":
        from distill.corpus.bible import prepare_bible

        corpus = prepare_bible(args.out, vocab_size=args.vocab_size, max_words=args.max_words,
                               sword_path=args.sword_path, seed=args.seed, multi_target=args.multi_target,
                               train_limit=args.train_limit)
    elif args.kind == "synthetic":
        from distill.corpus.synthetic import SyntheticConfig, prepare_synthetic

        fields = {k[4:]: v for k, v in vars(args).items() if k.startswith("syn_")}
        config = SyntheticConfig(**fields, seed=args.seed)
        try:
            config.check()
        except ValueError as err:
            raise InputError(f"synthetic config: {err}") from None
        corpus = prepare_synthetic(args.out, config, vocab_size=args.vocab_size)
    else:
        from distill.corpus.user_files import prepare_files

        def pair(split):
            src, tgt = getattr(args, f"{split}_src"), getattr(args, f"{split}_tgt")
            if bool(src) != bool(tgt):
                raise InputError(f"--{split}-src and --{split}-tgt must be given together")
            return {"src": src, "tgt": tgt} if src else None

        def refs(split):
            found = {}
            for item in getattr(args, f"{split}_ref"):
                name, path = name_and_value(item, f"--{split}-ref", "NAME=FILE")
                found[name] = path
            return found

        corpus = prepare_files(args.out, train={"src": args.src, "tgt": args.tgt}, valid=pair("valid"),
                               test=pair("test"), extra_refs={s: refs(s) for s in ("valid", "test") if refs(s)},
                               vocab_size=args.vocab_size, max_words=args.max_words,
                               held_out_per_mille=args.held_out_per_mille, seed=args.seed)
    counts = corpus.manifest["counts"]
    dropped = {s: sum(f["counts"].values()) for s, f in corpus.manifest["filtered"].items()}
    print(f"corpus ready: {corpus.path}  pairs {counts}  filtered {dropped}", flush=True)


def _add_teacher(subparsers) -> None:
    from distill.precision import add_precision_option
    from distill.teacher import MODEL_SIZES, PRESETS

    teacher = subparsers.add_parser("train-teacher", help="train (or resume) an autoregressive Transformer teacher")
    teacher.add_argument("--corpus", required=True, help="prepared corpus directory")
    teacher.add_argument("--out", required=True, help="run directory (re-running resumes it)")
    teacher.add_argument("--preset", default="cpu", choices=sorted(PRESETS),
                         help="schedule: tiny (tests, <1 min), cpu (bible-es-en, 2 cores, ~45 min), base/big (WMT14, "
                              "GPUs)")
    teacher.add_argument("--size", choices=sorted(MODEL_SIZES), help="model size (default: the preset's)")
    teacher.add_argument("--max-update", type=int, help="override the preset's number of updates")
    teacher.add_argument("--stop-time-hours", type=float,
                         help="a cap on training hours (fairseq's; 0: none, every preset's default, so that a "
                              "run is its number of updates on any machine)")
    teacher.add_argument("--seed", type=int, default=1)
    teacher.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda if available")
    add_precision_option(teacher)
    teacher.add_argument("--processes", type=int, default=1,
                         help="CPU: train with this many processes on this machine through fairseq's distributed "
                              "path (gloo; each update sums their batches); GPUs are used by fairseq itself")
    teacher.add_argument("--no-eval", action="store_true", help="skip the test-set evaluation after training")
    teacher.add_argument("--word-kd-teacher", metavar="RUN_OR_CKPT",
                         help="train an AR student with word-level KD from this teacher (criterion word_kd)")
    teacher.add_argument("--kd-alpha", type=float, default=0.5, help="weight of the KL-to-teacher term (word KD)")
    teacher.add_argument("--encoder-layers", type=int, help="encoder depth (default: the size's)")
    teacher.add_argument("--decoder-layers", type=int, help="decoder depth (default: the size's)")
    teacher.add_argument("--shrink-from", metavar="RUN_OR_CKPT",
                         help="shrink and fine-tune (Shleifer & Rush 2020): start from this teacher's embeddings, "
                              "encoder and maximally spaced decoder layers, as many as --decoder-layers (same --size "
                              "and --encoder-layers as the teacher)")

    evaluate = subparsers.add_parser("evaluate", help="BLEU/chrF (sacrebleu) of a teacher run on a corpus split")
    evaluate.add_argument("--run", required=True, help="teacher run directory")
    evaluate.add_argument("--corpus", help="corpus directory (default: the one it was trained on)")
    evaluate.add_argument("--split", default="test", choices=["train", "valid", "test"])
    evaluate.add_argument("--beam", type=int, default=5)
    evaluate.add_argument("--device", choices=["cpu", "cuda"])


def _add_regenerate(subparsers) -> None:
    from distill.ctranslate2_backend import COMPUTE_TYPES
    from distill.regenerate import BACKENDS, METHODS

    regen = subparsers.add_parser("regenerate", help="distill a corpus: regenerate train/valid targets with teacher(s)")
    regen.add_argument("--teacher", action="append", required=True,
                       help="teacher run directory or checkpoint file (repeat for an ensemble), or a CTranslate2 model "
                            "directory made elsewhere (e.g. by ct2-transformers-converter from a Marian model) with "
                            "its sentencepiece models (source.spm and target.spm, or spm.model) inside")
    regen.add_argument("--teacher-source-spm", metavar="FILE", help="a CTranslate2 teacher's source tokenizer, when "
                                                                    "it is not in the model directory")
    regen.add_argument("--teacher-target-spm", metavar="FILE", help="... its target tokenizer")
    regen.add_argument("--target-prefix", metavar="TOKEN",
                       help="a multilingual CTranslate2 teacher's target-language token, e.g. eng_Latn for NLLB")
    regen.add_argument("--corpus", required=True, help="corpus directory to distill")
    regen.add_argument("--out", required=True, help="distilled corpus directory to create")
    regen.add_argument("--method", default="seqkd", choices=METHODS,
                       help="seqkd: beam top-1; seq-inter: n-best closest to the reference (sentence BLEU); sample")
    regen.add_argument("--beam", type=int, default=5)
    regen.add_argument("--nbest", type=int, default=5, help="n-best size for seq-inter")
    regen.add_argument("--shard-size", type=int, default=2000, help="lines per resumable shard")
    regen.add_argument("--seed", type=int, default=1)
    regen.add_argument("--device", choices=["cpu", "cuda"])
    regen.add_argument("--max-tokens", type=int, default=6000, help="tokens per decoding batch")
    regen.add_argument("--num-workers", type=int, default=1, help="processes sharing the shards (e.g. one per GPU)")
    regen.add_argument("--worker-index", type=int, default=0, help="which of those this process is")
    regen.add_argument("--backend", default="fairseq", choices=BACKENDS,
                       help="ctranslate2: convert the teacher once and decode several times faster (one teacher)")
    regen.add_argument("--compute-type", default="int8", choices=COMPUTE_TYPES,
                       help="ctranslate2 weights/arithmetic: int8 (fast, CPU), float32, float16 (GPU)")
    regen.add_argument("--lenpen", type=_lenpen, default=1.0, metavar="X|auto",
                       help="beam length penalty: scores divided by length ** X (above 1 favours longer outputs); "
                            "auto: the --lenpen-values candidate chosen on the valid split (default: %(default)s)")
    _add_lenpen_tuning(regen)
    from distill.filters import ACTIONS

    regen.add_argument("--filter-empty", action="store_true",
                       help="a training pair whose output is empty breaks a rule")
    regen.add_argument("--filter-length-ratio", metavar="LOW,HIGH",
                       help="... whose output has fewer than LOW or more than HIGH words per source word")
    regen.add_argument("--filter-repeats", type=int, metavar="N",
                       help="... whose output repeats a word or an n-gram (n <= 4) more than N times in a row")
    regen.add_argument("--on-filtered", default="drop", choices=ACTIONS,
                       help="what happens to a training pair that breaks a rule: dropped, or given its human target "
                            "(counted per rule in the manifest and the data card either way; default: %(default)s)")


def _lenpen(text: str):
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number or auto, not {text!r}") from None


def _add_lenpen_tuning(parser) -> None:
    from distill.lenpen import CRITERIA, DEFAULT_VALUES

    parser.add_argument("--lenpen-values", default=",".join(f"{v:g}" for v in DEFAULT_VALUES),
                        help="length penalties to try on the valid split (default: %(default)s)")
    parser.add_argument("--lenpen-criterion", default="length-ratio", choices=CRITERIA,
                        help="length-ratio: outputs as long as the references (ties: higher BLEU); "
                             "bleu: the highest BLEU (default: %(default)s)")


def _add_card(subparsers) -> None:
    card = subparsers.add_parser("card", help="write a distilled corpus's data card (CARD.md) again from its manifest "
                                              "and its teachers' runs")
    card.add_argument("--corpus", required=True, help="a distilled (or diverse, or held-out) corpus directory")
    card.add_argument("--out", metavar="DIR", help="write card.json and CARD.md there (default: in the corpus)")


def _run_card(args) -> None:
    from distill.card import write_card
    from distill.corpus.directory import Corpus

    corpus = Corpus.open(args.corpus)
    if "distillation" not in corpus.manifest:
        raise InputError(f"{corpus.path}: a {corpus.manifest['kind']} corpus; cards describe distilled corpora")
    print(f"data card: {write_card(corpus, Path(args.out) if args.out else None)}", flush=True)


def _add_diverse(subparsers) -> None:
    diverse = subparsers.add_parser("diverse", help="join SeqKD corpora of several teachers into one corpus with a "
                                                    "target per teacher (diverse distillation, Shao et al. 2022)")
    diverse.add_argument("--distilled", action="append", required=True, metavar="DIR",
                         help="a distilled corpus of the raw corpus, one per teacher (the first is the primary); "
                              "repeat")
    diverse.add_argument("--out", required=True, help="corpus directory to create")


def _run_diverse(args) -> None:
    from distill.diverse import build_diverse_corpus, describe

    print(describe(build_diverse_corpus(args.distilled, args.out)), flush=True)


def _add_state(subparsers) -> None:
    state = subparsers.add_parser(
        "state", help="keep a long job's state small enough to commit (corpora as text, runs without checkpoints), "
                      "and put it back on a new machine",
        description="save: write or bring up to date STORE from everything under ROOT (the directory holding the "
                    "job's DATA, RUNS and RESULTS); restore: put back under ROOT what STORE holds and ROOT lacks "
                    "(run it again after preparing a corpus: what was made from it waits for it). See "
                    "distill/state.py for what is kept of each thing.")
    state.add_argument("action", choices=("save", "restore"))
    state.add_argument("--root", required=True, help="the state root (restore: the one it was saved from)")
    state.add_argument("--store", required=True, help="the store directory (e.g. in the repository)")


def _run_state(args) -> None:
    from distill import state

    report = state.save(args.root, args.store) if args.action == "save" else state.restore(args.store, args.root)
    report.print(f"state {args.action}", "saved" if args.action == "save" else "restored")


def _add_heldout(subparsers) -> None:
    from distill.ctranslate2_backend import COMPUTE_TYPES
    from distill.precision import add_precision_option
    from distill.regenerate import BACKENDS
    from distill.teacher import PRESETS

    heldout = subparsers.add_parser("heldout", help="held-out-fold distillation: each training target regenerated by "
                                                    "a teacher trained without it (teachers and folds in <out>.work/)")
    heldout.add_argument("--corpus", required=True, help="raw corpus directory to distill")
    heldout.add_argument("--out", required=True, help="distilled corpus directory to create")
    heldout.add_argument("--folds", type=int, default=2, help="parts of the training set, one teacher each "
                                                              "(default: %(default)s)")
    heldout.add_argument("--preset", default="cpu", choices=sorted(PRESETS),
                         help="the teachers' preset; each gets its updates divided by --folds (default: %(default)s)")
    heldout.add_argument("--seed", type=int, default=1)
    heldout.add_argument("--device", choices=["cpu", "cuda"])
    heldout.add_argument("--backend", default="fairseq", choices=BACKENDS)
    heldout.add_argument("--compute-type", default="int8", choices=COMPUTE_TYPES)
    add_precision_option(heldout)


def _run_heldout(args) -> None:
    from distill.heldout import heldout_distill
    from distill.scoring import format_scores

    corpus = heldout_distill(args.corpus, args.out, folds=args.folds, preset=args.preset, seed=args.seed,
                             device=args.device, backend=args.backend, compute_type=args.compute_type,
                             precision=args.precision)
    scores = corpus.manifest["distillation"]["distilled_targets_vs_references"]["train"]
    print(f"held-out-fold corpus: {corpus.path}\nits train targets (each by a teacher that did not see it) vs the "
          f"references:\n{format_scores(scores)}", flush=True)


def _add_tune_lenpen(subparsers) -> None:
    from distill.ctranslate2_backend import COMPUTE_TYPES
    from distill.regenerate import BACKENDS

    tune = subparsers.add_parser("tune-lenpen", help="the teacher's BLEU and length ratio on valid at each length "
                                                     "penalty, and the one regenerate --lenpen auto would choose")
    tune.add_argument("--teacher", required=True, help="teacher run directory or checkpoint file")
    tune.add_argument("--corpus", required=True, help="corpus whose valid split is decoded")
    tune.add_argument("--beam", type=int, default=5)
    tune.add_argument("--device", choices=["cpu", "cuda"])
    tune.add_argument("--max-tokens", type=int, default=6000, help="tokens per decoding batch")
    tune.add_argument("--backend", default="fairseq", choices=BACKENDS)
    tune.add_argument("--compute-type", default="int8", choices=COMPUTE_TYPES)
    tune.add_argument("--out", metavar="DIR", help="also write the table to DIR/lenpen.json and DIR/lenpen.md")
    _add_lenpen_tuning(tune)


def _run_train_teacher(args) -> None:
    from distill.engine import checkpoint_of
    from distill.teacher import evaluate_teacher, train_teacher

    overrides = {"max_update": args.max_update} if args.max_update else {}
    if args.stop_time_hours is not None:
        overrides["stop_time_hours"] = args.stop_time_hours
    if args.word_kd_teacher:
        overrides["word_kd"] = {"teacher": str(Path(checkpoint_of(args.word_kd_teacher)).resolve()),
                                "alpha": args.kd_alpha}
    for name in ("encoder_layers", "decoder_layers"):
        if getattr(args, name):
            overrides[name] = getattr(args, name)
    if args.shrink_from:
        if not args.decoder_layers:
            raise InputError("--shrink-from keeps some of the teacher's decoder layers: say how many with "
                             "--decoder-layers")
        overrides["shrink"] = {"teacher": str(Path(checkpoint_of(args.shrink_from)).resolve())}
    manifest = train_teacher(args.corpus, args.out, preset=args.preset, size=args.size, seed=args.seed,
                             device=args.device, overrides=overrides, processes=args.processes,
                             precision=args.precision)
    print(f"teacher checkpoint: {manifest['checkpoint']}", flush=True)
    if not args.no_eval:
        evaluate_teacher(args.out, device=args.device)


def _run_evaluate(args) -> None:
    from distill.teacher import evaluate_teacher

    evaluate_teacher(args.run, args.corpus, split=args.split, beam=args.beam, device=args.device)


def _run_regenerate(args) -> None:
    from distill.filters import OutputFilters, parse_length_ratio
    from distill.lenpen import parse_values
    from distill.regenerate import RegenerationRequest, regenerate, teacher_path
    from distill.scoring import format_scores
    from distill.teacher import default_device

    request = RegenerationRequest(
        teachers=[teacher_path(t) for t in args.teacher], corpus=args.corpus, out=args.out, method=args.method,
        beam=args.beam, nbest=args.nbest, shard_size=args.shard_size, seed=args.seed,
        device=args.device or default_device(), max_tokens=args.max_tokens, num_workers=args.num_workers,
        worker_index=args.worker_index, backend=args.backend, compute_type=args.compute_type, lenpen=args.lenpen,
        lenpen_values=parse_values(args.lenpen_values), lenpen_criterion=args.lenpen_criterion,
        filters=OutputFilters(empty=args.filter_empty, repeats=args.filter_repeats, action=args.on_filtered,
                              length_ratio=parse_length_ratio(args.filter_length_ratio)
                              if args.filter_length_ratio else None),
        teacher_source_spm=args.teacher_source_spm, teacher_target_spm=args.teacher_target_spm,
        target_prefix=args.target_prefix)
    corpus = regenerate(request)
    if corpus is not None:
        info = corpus.manifest["distillation"]
        cost = info["teacher_cost"]
        print(f"distilled corpus: {corpus.path}  ({cost['sentences']} sentences, "
              f"{cost['cpu_seconds_per_sentence'] * 1000:.1f} ms CPU/sentence)", flush=True)
        scores = info["distilled_targets_vs_references"]["train"]
        print("distilled train targets vs references:\n" + format_scores(scores))


def _run_tune_lenpen(args) -> None:
    from distill.corpus.directory import Corpus
    from distill.io import atomic_open, read_json, write_json
    from distill.lenpen import format_tuning, parse_values, tune_length_penalty, tuning_markdown
    from distill.regenerate import RegenerationRequest, teacher_path, translator_for
    from distill.teacher import default_device

    request = RegenerationRequest(teachers=[teacher_path(args.teacher)], corpus=args.corpus, out="",
                                  beam=args.beam, device=args.device or default_device(), max_tokens=args.max_tokens,
                                  backend=args.backend, compute_type=args.compute_type, lenpen="auto",
                                  lenpen_values=parse_values(args.lenpen_values),
                                  lenpen_criterion=args.lenpen_criterion)
    request.check()
    corpus = Corpus.open(args.corpus)
    translator = translator_for(request, corpus, request.external_teacher())
    tuning = tune_length_penalty(translator, corpus, request.lenpen_values, request.lenpen_criterion,
                                 progress=lambda p: print(f"lenpen {p.lenpen:g}: BLEU {p.bleu:.2f}, "
                                                          f"length ratio {p.length_ratio:.3f}", flush=True))
    print(format_tuning(tuning))
    print(f"chosen ({tuning.criterion}): {tuning.chosen:g}   [{tuning.points[0].bleu_signature}]")
    if args.out:
        out = Path(args.out) / "lenpen.json"
        write_json(out, {"teacher": str(Path(request.teachers[0]).resolve()), "corpus": str(corpus.path.resolve()),
                         "backend": args.backend, "beam": args.beam, **tuning.as_dict()})
        with atomic_open(out.with_name("lenpen.md")) as handle:  # as `seqkd-report render` renders the file
            handle.write(tuning_markdown(read_json(out)))
        print(f"wrote {out} and {out.with_name('lenpen.md')}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkd-distill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_prepare(subparsers)
    _add_teacher(subparsers)
    _add_regenerate(subparsers)
    _add_tune_lenpen(subparsers)
    _add_diverse(subparsers)
    _add_heldout(subparsers)
    _add_card(subparsers)
    _add_state(subparsers)
    return parser


COMMANDS = {"prepare": _run_prepare, "train-teacher": _run_train_teacher, "evaluate": _run_evaluate,
            "regenerate": _run_regenerate, "tune-lenpen": _run_tune_lenpen,
            "diverse": _run_diverse, "heldout": _run_heldout,
            "card": _run_card, "state": _run_state}


def main(argv: list[str] | None = None) -> int:
    return dispatch(build_parser(), COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
