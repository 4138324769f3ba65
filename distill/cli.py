"""`seqkd-distill`: the one entry point of the distill package.

Subcommands follow the data flow: prepare a corpus, train a teacher, regenerate
(distill) the corpus with it, evaluate.
"""
from __future__ import annotations

import argparse
import sys

from distill.io import InputError


def _add_prepare(subparsers) -> None:
    prepare = subparsers.add_parser("prepare", help="prepare a corpus directory (text, sentencepiece, fairseq binaries, manifest)")
    kinds = prepare.add_subparsers(dest="kind", required=True)

    def common(parser, vocab_default):
        parser.add_argument("--out", required=True, help="corpus directory to create")
        parser.add_argument("--vocab-size", type=int, default=vocab_default, help="joint sentencepiece vocabulary size")
        parser.add_argument("--seed", type=int, default=1)

    bible = kinds.add_parser("bible-es-en", help="Spanish RV1909 -> English WEB (+KJV reference) from Debian's SWORD modules")
    common(bible, 8000)
    bible.add_argument("--max-words", type=int, default=250, help="drop (and count) verses longer than this")
    bible.add_argument("--sword-path", default="/usr/share/sword", help="SWORD data directory (with mods.d/)")

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
    files.add_argument("--max-words", type=int, default=250, help="drop (and count) pairs longer than this")
    files.add_argument("--held-out-per-mille", type=int, default=20,
                       help="share (per mille) of training lines held out for valid and for test when not given")


def _run_prepare(args) -> None:
    if args.kind == "bible-es-en":
        from distill.corpus.bible import prepare_bible

        corpus = prepare_bible(args.out, vocab_size=args.vocab_size, max_words=args.max_words,
                               sword_path=args.sword_path, seed=args.seed)
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
                name, sep, path = item.partition("=")
                if not sep or not name or not path:
                    raise InputError(f"--{split}-ref {item!r}: expected NAME=FILE")
                found[name] = path
            return found

        corpus = prepare_files(args.out, train={"src": args.src, "tgt": args.tgt}, valid=pair("valid"),
                               test=pair("test"), extra_refs={s: refs(s) for s in ("valid", "test") if refs(s)},
                               vocab_size=args.vocab_size, max_words=args.max_words,
                               held_out_per_mille=args.held_out_per_mille, seed=args.seed)
    counts = corpus.manifest["counts"]
    dropped = {s: sum(f["counts"].values()) for s, f in corpus.manifest["filtered"].items()}
    print(f"corpus ready: {corpus.path}  pairs {counts}  filtered {dropped}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkd-distill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_prepare(subparsers)
    return parser


COMMANDS = {"prepare": _run_prepare}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
