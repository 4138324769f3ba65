"""Row filtering shared by every corpus kind: nothing is dropped without being counted."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from distill.io import InputError, read_lines

DEFAULT_MAX_WORDS = 250
_EXAMPLES_KEPT = 10


def filter_rows(columns: dict[str, list[str]], text_columns: list[str], max_words: int,
                line_numbers: list | None = None):
    """Drop rows with a blank or over-long text column.

    Returns (kept columns, {reason: count}, [first dropped rows as "line N: reason"]).
    ``line_numbers`` labels rows in the report (file line numbers or verse references).
    """
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"columns have different lengths: { {k: len(v) for k, v in columns.items()} }")
    (size,) = lengths or {0}
    labels = line_numbers if line_numbers is not None else list(range(1, size + 1))
    keep, reasons, examples = [], Counter(), []
    for row in range(size):
        reason = None
        for name in text_columns:
            text = columns[name][row]
            if not text.strip():
                reason = f"blank_{name}"
            elif len(text.split()) > max_words:
                reason = f"over_{max_words}_words_{name}"
            if reason:
                break
        if reason:
            reasons[reason] += 1
            if len(examples) < _EXAMPLES_KEPT:
                examples.append(f"{labels[row]}: {reason}")
        else:
            keep.append(row)
    kept = {name: [values[row] for row in keep] for name, values in columns.items()}
    return kept, dict(sorted(reasons.items())), examples


def read_parallel_files(files: dict[str, str | Path]) -> dict[str, list[str]]:
    """Read line-aligned files (src, tgt, extra references); a line-count mismatch is an error."""
    columns = {name: read_lines(path) for name, path in files.items()}
    counts = {name: len(lines) for name, lines in columns.items()}
    if not counts.get("src"):
        raise InputError(f"{files['src']}: file is empty; a corpus needs at least one sentence pair")
    if len(set(counts.values())) != 1:
        described = ", ".join(f"{files[name]} has {n} lines" for name, n in counts.items())
        first_short = min(counts, key=counts.get)
        raise InputError(
            f"{files[first_short]}:{counts[first_short] + 1}: line-count mismatch ({described}); "
            "files must be line-aligned, one sentence per line"
        )
    return columns
