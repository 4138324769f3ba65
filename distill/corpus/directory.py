"""The prepared-corpus directory: the one format every stage reads and writes.

Layout::

    <corpus>/raw/{train,valid,test}.{src,tgt}   detokenized text, line-aligned
    <corpus>/raw/{split}.ref.<name>             extra references (e.g. KJV), line-aligned
    <corpus>/raw/{split}.<meta>                 per-line metadata (e.g. synthetic entropy, mode)
    <corpus>/spm/spm.model, spm/{split}.{src,tgt}  joint sentencepiece model and pieces
    <corpus>/bin/                               fairseq-preprocess --joined-dictionary output
    <corpus>/manifest.json                      written last: its presence means "complete"

A corpus is built in a hidden sibling directory and renamed into place, so an
interrupted preparation never leaves anything that looks finished.
"""
from __future__ import annotations

import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

from distill.engine import run_fairseq
from distill.io import (
    InputError,
    atomic_open,
    config_hash,
    current_command,
    read_json,
    read_lines,
    sha256_file,
    write_json,
    write_lines,
)

SPLITS = ("train", "valid", "test")
FORMAT = "seqkd-corpus/1"


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("fairseq-fixed", "fairseq", "torch", "sentencepiece", "sacrebleu", "numpy", "ctranslate2"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


@dataclass
class Corpus:
    """A complete corpus directory (its manifest exists and lists its files)."""

    path: Path
    manifest: dict

    @classmethod
    def open(cls, path: str | os.PathLike) -> Corpus:
        path = Path(path)
        if not path.is_dir():
            raise InputError(f"{path}: corpus directory not found; prepare it with `seqkd-distill prepare`")
        manifest_path = path / "manifest.json"
        if not manifest_path.is_file():
            raise InputError(f"{manifest_path}: missing; the corpus is incomplete, re-run the command that prepares it")
        manifest = read_json(manifest_path)
        if manifest.get("format") != FORMAT:
            raise InputError(f"{manifest_path}: not a {FORMAT} manifest; re-prepare the corpus")
        return cls(path, manifest)

    @property
    def bin_dir(self) -> Path:
        return self.path / "bin"

    @property
    def spm_model(self) -> Path:
        return self.path / "spm" / "spm.model"

    def raw(self, split: str, column: str) -> Path:
        return self.path / "raw" / f"{split}.{column}"

    def lines(self, split: str, column: str) -> list[str]:
        return read_lines(self.raw(split, column))

    def columns(self, split: str) -> dict[str, list[str]]:
        """Every raw column of a split (``src``, ``tgt``, ``ref.kjv``, ``orig``, ``mode``, ...): {name: lines}."""
        names = [path.name.split(".", 1)[1] for path in sorted((self.path / "raw").glob(f"{split}.*"))]
        return {name: self.lines(split, name) for name in names}

    @property
    def extra_target_dirs(self) -> list[Path]:
        """The data directories of further training targets (a diverse-distillation corpus: ``bin/<column>/``)."""
        return [self.bin_dir / column for column in self.manifest.get("extra_targets", [])]

    def references(self, split: str) -> dict[str, list[str]]:
        """All references of a split, primary first: {name: lines}."""
        refs = self.manifest["references"]
        found = {refs["primary"]: self.lines(split, "tgt")}
        for name in refs.get("extra", []):
            found[name] = self.lines(split, f"ref.{name}")
        return found


def _train_sentencepiece(work: Path, train_columns: dict[str, list[str]], vocab_size: int, seed: int) -> None:
    """Joint model from memory, so the model file holds no path and is byte-identical across directories."""
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.set_random_generator_seed(seed)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(train_columns["src"] + train_columns["tgt"]), model_writer=model,
        vocab_size=vocab_size, model_type="unigram", character_coverage=1.0, hard_vocab_limit=False,
        input_sentence_size=2_000_000, shuffle_input_sentence=True, num_threads=2,
        bos_id=-1, eos_id=-1, unk_id=0, pad_id=-1, minloglevel=2,
    )
    with atomic_open(work / "spm" / "spm.model", "wb") as handle:
        handle.write(model.getvalue())
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    write_lines(work / "spm" / "spm.vocab", (f"{processor.id_to_piece(i)}\t{processor.get_score(i)}"
                                             for i in range(processor.get_piece_size())))


# What a corpus's config means (every kind: prepared, synthetic, distilled). A corpus made with another version
# (or none: made before versions) is another corpus: made again. Bump it when a config's fields change meaning.
CORPUS_CONFIG_VERSION = 1


def corpus_identity(config: dict) -> str:
    """A corpus's identity: the hash of its config (the fields its kind's preparation says it is made from),
    and of :data:`CORPUS_CONFIG_VERSION`."""
    return config_hash({**config, "version": CORPUS_CONFIG_VERSION})


def finished_corpus(out_dir, config: dict) -> Corpus | None:
    """The corpus in ``out_dir`` if it is finished and made with ``config``; None if there is none.

    Lets a preparation skip reading its sources on a re-run; another config is an error.
    """
    out_dir = Path(out_dir)
    if not (out_dir / "manifest.json").is_file():
        return None
    existing = Corpus.open(out_dir)
    key = corpus_identity(config)
    if existing.manifest.get("config_hash") != key:
        raise InputError(f"{out_dir}: holds a corpus made with another config; choose another --out or delete it")
    print(f"{out_dir}: already prepared with this config ({key}); skipping", flush=True)
    return existing


def build_corpus(out_dir: str | os.PathLike, splits: dict[str, dict[str, list[str]]], *,
                 kind: str, config: dict, sources: list, references: dict, filtered: dict,
                 vocab_size: int = 8000, seed: int = 1, reuse_vocabulary_of: Corpus | None = None,
                 extra_manifest: dict | None = None, workers: int = 2, extra_targets: tuple = ()) -> Corpus:
    """Write a complete corpus directory from in-memory columns, or skip if already done.

    ``splits[split]`` maps column name ("src", "tgt", "ref.kjv", "entropy", ...) to lines.
    ``reuse_vocabulary_of`` keeps the sentencepiece model and fairseq dictionary of another
    corpus, so a distilled corpus and its raw original share one vocabulary. ``extra_targets``:
    train columns binarized as further targets of the same sources, each into ``bin/<column>/``
    (``train.src-tgt.{src,tgt}``; task ``translation_multi_reference``).
    """
    out_dir = Path(out_dir)
    key = corpus_identity(config)
    existing = finished_corpus(out_dir, config)
    if existing:
        return existing
    if out_dir.exists() and any(out_dir.iterdir()):
        raise InputError(f"{out_dir}: exists and is not a finished corpus; choose another --out or delete it")
    for split in SPLITS:
        if split not in splits or not splits[split].get("src"):
            raise InputError(f"{out_dir}: split '{split}' is empty after filtering; nothing to train or test on")

    work = out_dir.parent / f".{out_dir.name}.partial"
    shutil.rmtree(work, ignore_errors=True)  # leftovers of an interrupted run are never reused
    work.mkdir(parents=True)

    for split, columns in splits.items():
        for column, lines in columns.items():
            write_lines(work / "raw" / f"{split}.{column}", lines)

    (work / "spm").mkdir()
    if reuse_vocabulary_of is None:
        _train_sentencepiece(work, splits["train"], vocab_size, seed)
    else:
        shutil.copy(reuse_vocabulary_of.spm_model, work / "spm" / "spm.model")
        shutil.copy(reuse_vocabulary_of.path / "spm" / "spm.vocab", work / "spm" / "spm.vocab")

    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(work / "spm" / "spm.model"))
    for split, columns in splits.items():
        for side in ("src", "tgt"):
            pieces = processor.encode(columns[side], out_type=str)
            write_lines(work / "spm" / f"{split}.{side}", (" ".join(p) for p in pieces))

    arguments = ["--source-lang", "src", "--target-lang", "tgt", "--trainpref", work / "spm" / "train",
                 "--validpref", work / "spm" / "valid", "--testpref", work / "spm" / "test",
                 "--destdir", work / "bin", "--joined-dictionary", "--workers", workers]
    if reuse_vocabulary_of is not None:
        arguments += ["--srcdict", reuse_vocabulary_of.bin_dir / "dict.src.txt"]
    run_fairseq("preprocess", arguments, work / "logs" / "preprocess.log", echo=False)
    (work / "bin" / "preprocess.log").unlink(missing_ok=True)  # duplicate of logs/preprocess.log
    for column in extra_targets:
        pieces = processor.encode(splits["train"][column], out_type=str)
        write_lines(work / "spm" / f"train.{column}.tgt", (" ".join(p) for p in pieces))
        shutil.copy(work / "spm" / "train.src", work / "spm" / f"train.{column}.src")
        run_fairseq("preprocess", ["--source-lang", "src", "--target-lang", "tgt", "--trainpref",
                                   work / "spm" / f"train.{column}", "--destdir", work / "bin" / column,
                                   "--joined-dictionary", "--srcdict", work / "bin" / "dict.src.txt",
                                   "--workers", workers], work / "logs" / f"preprocess.{column}.log", echo=False)
        (work / "bin" / column / "preprocess.log").unlink(missing_ok=True)

    counts = {split: len(columns["src"]) for split, columns in splits.items()}
    manifest = {
        "format": FORMAT,
        "kind": kind,
        "config": config,
        "config_hash": key,
        "command": current_command(),
        "sources": sources,
        "references": references,
        "counts": counts,
        "filtered": filtered,
        "input_lines": {split: counts[split] + sum(filtered.get(split, {}).get("counts", {}).values())
                        for split in counts},
        "sentencepiece": {"model": "spm/spm.model", "vocab_size": vocab_size,
                          "reused_from": str(reuse_vocabulary_of.path) if reuse_vocabulary_of else None},
        "versions": library_versions(),
        **({"extra_targets": list(extra_targets)} if extra_targets else {}),
        **(extra_manifest or {}),
    }
    manifest["files"] = {
        str(path.relative_to(work)): sha256_file(path)
        for path in sorted(work.rglob("*")) if path.is_file() and path.parent.name != "logs"
    }
    write_json(work / "manifest.json", manifest)
    if out_dir.exists():
        out_dir.rmdir()  # empty, checked above
    os.replace(work, out_dir)
    return Corpus.open(out_dir)
