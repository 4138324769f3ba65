"""The one Markdown-table writer: every table in compare.md, the analyses' tables, REPORT.md, bench.md and the
README is written by :func:`markdown_table`, so they share one format (a header, a ``---`` rule, one line per
row, cells as given)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table, without a trailing newline. ``rows``: one sequence of cells per row, each as wide as
    ``header``; a cell is written with ``str`` (format numbers before), None as an empty cell."""
    lines = [_line(header), "|" + "---|" * len(header)]
    for row in rows:
        cells = ["" if cell is None else str(cell) for cell in row]
        if len(cells) != len(header):
            raise ValueError(f"a row of {len(cells)} cells under a header of {len(header)}: {cells}")
        lines.append(_line(cells))
    return "\n".join(lines)


def _line(cells: Sequence[str]) -> str:
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"
