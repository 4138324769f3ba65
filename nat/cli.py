"""`seqkd-nat`: train non-autoregressive students, decode text with any trained run, compare.

  seqkd-nat train    --student KIND --corpus C --out RUN [--teacher T]   (KIND: ctc, ctc-glat, nat, nat-glat,
                     cmlm, duration, dat, ar)
  seqkd-nat decode   --run RUN [--input FILE] [--output FILE] [--length-beam 3 --rescore-teacher T]
  seqkd-nat evaluate --run RUN [--split test] [--runtime eager|torchscript|onnxruntime [--int8]] [--shortlist K]
  seqkd-nat export   --run RUN --format onnx --out model.onnx [--int8]   (the one-pass students)
  seqkd-nat compare  --teacher T --raw C --distilled [NAME=]D [...] --out DIR [--seeds 1,2,3]  (raw vs distilled table)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from distill.engine import checkpoint_of, read_run_manifest
from distill.io import InputError, atomic_open, dispatch, numbered_lines


def _decoding_options(parser) -> None:
    from nat.dag import DAG_DECODINGS

    parser.add_argument("--iterations", type=int, default=10,
                        help="CMLM refinement iterations (vanilla NAT always uses 0, see fairseq#1231)")
    parser.add_argument("--length-beam", type=int, default=1, help="target lengths decoded in parallel per sentence")
    parser.add_argument("--rescore-teacher", metavar="RUN_OR_CKPT",
                        help="AR teacher that picks among the length-beam candidates (noisy parallel decoding)")
    parser.add_argument("--blank-penalty", type=float,
                        help="ctc students: subtracted from the blank's log-probability (default: the value `compare` "
                             "tuned on the validation set, else 0)")
    parser.add_argument("--dag-decoding", choices=DAG_DECODINGS,
                        help=f"dat students: the path through the graph (default: {DAG_DECODINGS[0]}); greedy follows "
                             "the likeliest links, lookahead adds the next vertex's token, viterbi finds the best "
                             "path, length-normalized (Shao et al. 2022)")
    parser.add_argument("--beam", type=int, default=5,
                        help="beam size when RUN is autoregressive (teacher, ar student)")
    parser.add_argument("--max-tokens", type=int, default=6000, help="tokens per batch")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda if available")
    parser.add_argument("--corpus", help="corpus directory for vocabulary and sentencepiece (default: the run's)")


def _runtime_options(parser) -> None:
    from nat.decoding import RUNTIMES
    from nat.shortlist import DEFAULT_FREQUENT

    parser.add_argument("--runtime", default="eager", choices=RUNTIMES,
                        help="ctc students: torchscript traces the model once when loading it; one-pass students: "
                             "onnxruntime exports it to ONNX and runs it in ONNX Runtime (same outputs in float32; "
                             "scripts/bench.sh measures each)")
    parser.add_argument("--int8", action="store_true",
                        help="with --runtime onnxruntime: ONNX Runtime's dynamic int8 quantization (faster, can "
                             "change outputs; the benchmark gives its BLEU)")
    parser.add_argument("--bf16", action="store_true",
                        help="students, eager runtime: bfloat16 autocast (float32 weights; faster on CPUs with "
                             "AVX512-BF16 or AMX, can change outputs; the benchmark gives its BLEU)")
    parser.add_argument("--shortlist", type=int, default=0, metavar="K",
                        help="ctc students: the output layer over a vocabulary shortlist, per sentence the K target "
                             "pieces each source piece is most often aligned to in the run's training corpus (eflomal, "
                             "built once into the run directory) plus the most frequent ones; 0 (default): the whole "
                             "vocabulary. Any runtime; can change outputs (the benchmark gives its BLEU and hit rate)")
    parser.add_argument("--shortlist-frequent", type=int, default=DEFAULT_FREQUENT, metavar="N",
                        help=f"with --shortlist: the N most frequent target pieces in every shortlist "
                             f"(default {DEFAULT_FREQUENT})")


PRESET_OPTIONS = ("size", "max_update", "lr", "lr_scheduler", "warmup_updates", "dropout", "stop_time_hours",
                  "save_interval_updates")


def _preset_options(parser) -> None:
    from distill.teacher import MODEL_SIZES

    parser.add_argument("--size", choices=sorted(MODEL_SIZES),
                        help="the students' model size (default: the preset's)")
    parser.add_argument("--max-update", type=int, help="override the preset's number of updates")
    parser.add_argument("--lr", type=float, help="override the preset's peak learning rate")
    parser.add_argument("--lr-scheduler", choices=["inverse_sqrt", "linear"],
                        help="inverse_sqrt (the presets') or linear: warm-up, then a linear decay to 0 at the last "
                             "update")
    parser.add_argument("--warmup-updates", type=int, help="override the preset's warm-up")
    parser.add_argument("--dropout", type=float, help="override the preset's dropout")
    parser.add_argument("--stop-time-hours", type=float,
                        help="stop training after this many hours (fairseq's own cap; the schedule does not depend on "
                             "it)")
    parser.add_argument("--save-interval-updates", type=int,
                        help="override the preset's checkpoint interval (the points of the learning curves)")


def _preset_overrides(args) -> dict | None:
    """The preset settings a command line overrides (part of each run's config, so of its identity)."""
    return {key: getattr(args, key) for key in PRESET_OPTIONS if getattr(args, key) is not None} or None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkd-nat", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    from distill.precision import add_precision_option
    from nat.registry import student_names
    from nat.students import DEFAULT_STUDENTS, PRESETS

    train = commands.add_parser("train", help="train (or resume) a student on a raw or distilled corpus")
    train.add_argument("--student", required=True, choices=student_names())
    train.add_argument("--corpus", required=True)
    train.add_argument("--out", required=True, help="run directory (re-running resumes it)")
    train.add_argument("--teacher", help="AR teacher run or checkpoint (durations for the duration student)")
    train.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    _preset_options(train)
    train.add_argument("--seed", type=int, default=1)
    train.add_argument("--device", choices=["cpu", "cuda"])
    add_precision_option(train)

    decode = commands.add_parser("decode", help="translate raw text (one sentence per line) with a trained run")
    decode.add_argument("--run", required=True, help="run directory of a student or of the teacher")
    decode.add_argument("--input", default="-", help="input file (default: stdin)")
    decode.add_argument("--output", default="-", help="output file (default: stdout)")
    decode.add_argument("--fairseq-path", action="store_true",
                        help="decode one-pass students (ctc, nat, duration) through fairseq's dataset, batch iterator "
                             "and refinement generator, not the lean path (same outputs; for comparison)")
    _runtime_options(decode)
    _decoding_options(decode)

    evaluate = commands.add_parser("evaluate", help="sacrebleu BLEU/chrF of a run on a corpus split")
    evaluate.add_argument("--run", required=True)
    evaluate.add_argument("--split", default="test", choices=["valid", "test"])
    evaluate.add_argument("--oracle-length", action="store_true",
                          help="decode each sentence at its reference's length (nat, nat-glat): BLEU at the oracle "
                               "length, against the predicted one, says what the length prediction costs")
    evaluate.add_argument("--out", help="scores JSON to write, hypotheses beside it as .hyp "
                                        "(default: RUN/eval/SPLIT.it<iterations>.lb<length beam>.json)")
    _runtime_options(evaluate)
    _decoding_options(evaluate)

    export = commands.add_parser("export", help="write a one-pass student as ONNX (ONNX Runtime, or any other ONNX "
                                                "runtime): ctc, ctc-glat, dat: one graph, source tokens in, token "
                                                "logits (dat: and links) and padding mask out; nat, nat-glat, "
                                                "duration: two graphs, the encoder with its length (or duration) "
                                                "prediction, then the decoder at the chosen lengths")
    export.add_argument("--run", required=True, help="run directory of a one-pass student")
    export.add_argument("--format", default="onnx", choices=["onnx"], help="(default: %(default)s)")
    export.add_argument("--int8", action="store_true", help="quantized by ONNX Runtime's dynamic int8 quantization")
    export.add_argument("--checkpoint", help="a checkpoint of the run (default: its best)")
    export.add_argument("--out", required=True, help="the .onnx file to write (two-graph students: OUT's stem + "
                                                     ".encoder.onnx and .decoder.onnx)")

    compare = commands.add_parser("compare", help="train every student on raw and distilled data; one BLEU table")
    compare.add_argument("--teacher", required=True, help="AR teacher run directory")
    compare.add_argument("--raw", required=True, help="raw corpus directory")
    compare.add_argument("--distilled", required=True, action="append", metavar="[NAME=]DIR",
                         help="distilled corpus directory (same vocabulary); repeat to compare several, named, e.g. "
                              "--distilled data/c.seqkd --distilled seq-inter=data/c.seq-inter (unnamed: distilled)")
    compare.add_argument("--out", required=True, help="directory for the student runs and the table")
    compare.add_argument("--students", default=",".join(DEFAULT_STUDENTS),
                         help=f"comma-separated, in table order, from {','.join(student_names())} (default: "
                              f"%(default)s); the first is the headline student")
    compare.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    _preset_options(compare)
    compare.add_argument("--seeds", default="1", help="the headline student's training seeds, e.g. 1,2,3 (mean ± sd)")
    compare.add_argument("--other-seeds", help="the other students' seeds (default: --seeds)")
    compare.add_argument("--parallel-runs", type=int, default=1, metavar="N",
                         help="train N runs at a time (a student's raw and distilled runs side by side), each with "
                              "1/N of the CPU threads; on a CPU, 2 trains more updates per hour than 1 "
                              "(docs/design.md)")
    add_precision_option(compare)
    _decoding_options(compare)
    return parser


def _settings(args, blank_penalty: float | None = None, lean: bool = False, length_beam: int | None = None,
              dag_decoding: str | None = None):
    from distill.teacher import default_device
    from nat.decoding import StudentSettings
    from nat.shortlist import DEFAULT_FREQUENT

    return StudentSettings(iterations=args.iterations, length_beam=length_beam or args.length_beam,
                           max_tokens=args.max_tokens,
                           device=args.device or default_device(),
                           blank_penalty=blank_penalty if blank_penalty is not None else args.blank_penalty, lean=lean,
                           runtime=getattr(args, "runtime", "eager"), int8=getattr(args, "int8", False),
                           bf16=getattr(args, "bf16", False), shortlist=getattr(args, "shortlist", 0),
                           shortlist_frequent=getattr(args, "shortlist_frequent", DEFAULT_FREQUENT),
                           oracle_length=getattr(args, "oracle_length", False),  # evaluate's
                           dag_decoding=dag_decoding or args.dag_decoding)


def _translator(args, run, beam: int | None = None, checkpoint: str | None = None,
                blank_penalty: float | None = None, lean: bool = False, length_beam: int | None = None,
                dag_decoding: str | None = None):
    from nat.decoding import load_translator

    teacher = checkpoint_of(args.rescore_teacher) if args.rescore_teacher else None
    return load_translator(run, corpus_dir=args.corpus,
                           settings=_settings(args, blank_penalty, lean, length_beam, dag_decoding),
                           teacher=teacher, beam=beam or args.beam, checkpoint=checkpoint)


def _read_input(path: str) -> tuple[list[str], list[int]]:
    """The lines to translate (split on newlines only) and the numbers of those holding a carriage
    return, which is read as a space: in text to translate it is whitespace, not a broken corpus."""
    if path == "-":
        numbered = list(numbered_lines(sys.stdin.buffer, "<stdin>"))
    else:
        if not Path(path).is_file():
            problem = "not a regular file" if Path(path).exists() else "file not found"
            raise InputError(f"{path}: {problem}; check --input")
        with open(path, "rb") as handle:
            numbered = list(numbered_lines(handle, path))
    with_carriage_returns = [number for number, text in numbered if "\r" in text]
    return [text.replace("\r", " ") for _, text in numbered], with_carriage_returns


def _line_list(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:20])) + (", ..." if len(numbers) > 20 else "")


def run_decode(args) -> None:
    lines, with_carriage_returns = _read_input(args.input)
    if with_carriage_returns:
        print(f"warning: {len(with_carriage_returns)} input lines hold a carriage return, read as a space "
              f"(lines {_line_list(with_carriage_returns)})", file=sys.stderr)
    translator = _translator(args, args.run, lean=not args.fairseq_path)
    started = time.perf_counter()
    output, truncated = translator.translate_lines(lines)
    elapsed = time.perf_counter() - started
    if truncated:
        print(f"warning: {len(truncated)} input lines exceed the model's {translator.max_source_tokens} source tokens "
              f"and were truncated to fit (lines {_line_list([i + 1 for i in truncated])})", file=sys.stderr)
    text = "".join(line + "\n" for line in output)
    if args.output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        with atomic_open(args.output) as handle:
            handle.write(text)
    translated = sum(1 for line in lines if line.strip())
    rate = translated / elapsed if elapsed > 0 else float("inf")
    print(f"decoded {len(lines)} lines ({translated} non-empty) in {elapsed:.2f} s of model time: "
          f"{rate:.1f} sentences/s", file=sys.stderr)


def _stem(args, split: str) -> str:
    rescored = "+teacher" if args.rescore_teacher and args.length_beam > 1 else ""
    oracle = ".oracle-length" if getattr(args, "oracle_length", False) else ""
    path = f".{args.dag_decoding}" if args.dag_decoding else ""
    runtime = ("" if args.runtime == "eager" else f".{args.runtime}") + (".int8" if args.int8 else "") + \
        (".bf16" if args.bf16 else "")
    if args.shortlist:
        runtime += f".shortlist{args.shortlist}-{args.shortlist_frequent}"
    return f"{split}.it{args.iterations}.lb{args.length_beam}{rescored}{oracle}{path}{runtime}"


def run_evaluate(args) -> dict:
    from distill.corpus.directory import Corpus
    from distill.scoring import evaluate_on_split, format_scores

    out = Path(args.out) if args.out else Path(args.run) / "eval" / f"{_stem(args, args.split)}.json"
    if out.suffix != ".json":
        raise InputError(f"--out {out}: expected a .json path (the hypotheses go beside it as .hyp)")
    manifest = read_run_manifest(args.run)
    corpus = Corpus.open(args.corpus or manifest["corpus"])
    if args.oracle_length and args.length_beam > 1:
        raise InputError("--oracle-length decodes the reference's length: drop --length-beam")
    result = evaluate_on_split(_translator(args, args.run), corpus, args.split, out.parent, out.stem,
                               oracle_length=args.oracle_length)
    print(f"{args.run} on {corpus.path.name}/{args.split}:\n{format_scores(result['scores'])}", flush=True)
    return result


def _distilled_corpora(items: list[str]) -> dict[str, str]:
    """``--distilled [NAME=]DIR`` items -> {name: directory}; an unnamed one is ``distilled``."""
    from nat.compare import DISTILLED

    corpora = {}
    for item in items:
        name, sep, path = item.partition("=")
        name, path = (name, path) if sep else (DISTILLED, item)
        if not name.replace("-", "").replace("_", "").isalnum() or name == "raw":
            raise InputError(f"--distilled {item!r}: a name is letters, digits, - and _, and not 'raw'")
        if name in corpora:
            raise InputError(f"--distilled: {name!r} given twice; name each distilled corpus (NAME=DIR)")
        corpora[name] = path
    return corpora


def run_compare(args) -> None:
    from nat.compare import compare, write_comparison

    def seed_list(option: str, text: str) -> list[int]:
        try:
            return [int(seed) for seed in text.split(",") if seed.strip()]
        except ValueError:
            raise InputError(f"{option} {text!r}: expected comma-separated integers, e.g. 1,2,3") from None

    if args.parallel_runs < 1:
        raise InputError(f"--parallel-runs {args.parallel_runs}: expected 1 or more")
    students = [s.strip() for s in args.students.split(",") if s.strip()]
    headline_seeds = seed_list("--seeds", args.seeds)
    other_seeds = seed_list("--other-seeds", args.other_seeds) if args.other_seeds else headline_seeds
    seeds = {student: headline_seeds if i == 0 else other_seeds for i, student in enumerate(students)}
    result = compare(teacher=args.teacher, raw=args.raw, distilled=_distilled_corpora(args.distilled), out=args.out,
                     seeds=seeds, preset=args.preset, iterations=args.iterations, length_beam=args.length_beam,
                     rescored=bool(args.rescore_teacher),
                     translator_for=lambda run, **options: _translator(args, str(run), **options),
                     overrides=_preset_overrides(args), device=args.device, parallel_runs=args.parallel_runs,
                     precision=args.precision)
    print(write_comparison(result, args.out))


def run_export(args) -> None:
    from distill.corpus.directory import Corpus
    from distill.engine import load_ensemble
    from nat.onnx_runtime import describe_graph, export_onnx
    from nat.registry import student_kind, student_kinds

    manifest = read_run_manifest(args.run)
    if manifest["kind"] == "teacher" or "onnxruntime" not in student_kind(manifest["student"]).runtimes:
        which = ", ".join(kind.name for kind in student_kinds() if "onnxruntime" in kind.runtimes)
        raise InputError(f"{args.run}: a {manifest.get('student', 'teacher')} run; --format onnx exports {which} "
                         "students (CTranslate2 runs the autoregressive ones: ct2-fairseq-converter)")
    if not args.out.endswith(".onnx"):
        raise InputError(f"--out {args.out}: expected a .onnx path")
    corpus = Corpus.open(manifest["corpus"])
    models, _, _ = load_ensemble([args.checkpoint or manifest["checkpoint"]], str(corpus.bin_dir))
    paths = export_onnx(models[0], args.out, int8=args.int8)
    print(f"{manifest['student']} student, ONNX{' (dynamic int8)' if args.int8 else ''}, "
          f"{len(paths)} graph{'s' if len(paths) > 1 else ''}{', called in this order' if len(paths) > 1 else ''} "
          "(src_tokens right-padded, ending in </s>):", flush=True)
    for path in paths:
        print(f"  {describe_graph(path)}", flush=True)


def run_train(args) -> None:
    from nat.students import train_student

    overrides = _preset_overrides(args)
    train_student(args.student, args.corpus, args.out, preset=args.preset,
                  teacher=checkpoint_of(args.teacher) if args.teacher else None, seed=args.seed,
                  device=args.device, overrides=overrides, precision=args.precision)


COMMANDS = {"train": run_train, "decode": run_decode, "evaluate": run_evaluate, "compare": run_compare,
            "export": run_export}


def main(argv: list[str] | None = None) -> int:
    return dispatch(build_parser(), COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
