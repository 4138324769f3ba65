"""Users' own parallel text (e.g. WMT14 En-De): plain files, one sentence per line.

Valid and test come from their own files when given (WMT: newstest2013 / newstest2014);
otherwise they are held out of the training files deterministically: a line goes to
test/valid by sha256 of its source text, so the split does not depend on file order.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from distill.corpus.directory import SPLITS, build_corpus
from distill.corpus.filtering import DEFAULT_MAX_WORDS, filter_rows, read_parallel_files
from distill.io import InputError


def _held_out_split(source: str, valid_per_mille: int, test_per_mille: int) -> str:
    bucket = int(hashlib.sha256(source.encode("utf-8")).hexdigest(), 16) % 1000
    if bucket < test_per_mille:
        return "test"
    if bucket < test_per_mille + valid_per_mille:
        return "valid"
    return "train"


def prepare_files(out_dir, *, train: dict[str, str], valid: dict[str, str] | None = None,
                  test: dict[str, str] | None = None, extra_refs: dict[str, dict[str, str]] | None = None,
                  vocab_size: int = 8000, max_words: int = DEFAULT_MAX_WORDS, held_out_per_mille: int = 20,
                  seed: int = 1):
    """``train``/``valid``/``test`` map "src"/"tgt" to paths; ``extra_refs[split][name]`` to paths."""
    extra_refs = extra_refs or {}
    if extra_refs.get("train"):
        raise InputError(f"{next(iter(extra_refs['train'].values()))}: extra references are for valid/test only")
    given = {"train": train, "valid": valid, "test": test}
    columns, labels = {}, {}
    for split, files in given.items():
        if files is None:
            continue
        files = {**files, **{f"ref.{name}": path for name, path in extra_refs.get(split, {}).items()}}
        columns[split] = read_parallel_files(files)
        labels[split] = [f"{Path(files['src']).name}:{n}" for n in range(1, len(columns[split]["src"]) + 1)]

    missing = [split for split in ("valid", "test") if split not in columns]
    if missing:
        pool, pool_labels = columns["train"], labels["train"]
        rows = {split: [] for split in SPLITS}
        for row, source in enumerate(pool["src"]):
            split = _held_out_split(source, held_out_per_mille, held_out_per_mille)
            rows[split if split in missing else "train"].append(row)
        for split in ["train", *missing]:
            columns[split] = {name: [values[r] for r in rows[split]] for name, values in pool.items()}
            labels[split] = [pool_labels[r] for r in rows[split]]

    splits, filtered = {}, {}
    for split in SPLITS:
        text_columns = [c for c in columns[split] if c == "src" or c == "tgt" or c.startswith("ref.")]
        splits[split], counts, examples = filter_rows(columns[split], text_columns, max_words, labels[split])
        filtered[split] = {"counts": counts, "examples": examples}
    ref_names = sorted({name for refs in extra_refs.values() for name in refs})
    for name in ref_names:
        for split in ("valid", "test"):
            if f"ref.{name}" not in splits[split]:
                raise InputError(f"reference '{name}' given for one of valid/test only; give it for both or neither")
    sources = [{"split": split, **{k: str(Path(v).resolve()) for k, v in files.items()}}
               for split, files in given.items() if files]
    config = {"corpus": "files", "sources": sources, "extra_refs": extra_refs, "vocab_size": vocab_size,
              "max_words": max_words, "held_out_per_mille": held_out_per_mille, "seed": seed}
    return build_corpus(out_dir, splits, kind="files", config=config, sources=sources,
                        references={"primary": "tgt", "extra": ref_names}, filtered=filtered,
                        vocab_size=vocab_size, seed=seed)
