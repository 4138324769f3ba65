"""Word alignment with eflomal (Östling & Tiedemann 2016): the links of every sentence pair of a corpus, whatever its
tokens are (words for the analysis's lexical tables, sentencepiece pieces for a student's vocabulary shortlist)."""
from __future__ import annotations

import tempfile
from pathlib import Path


def align(sources: list[list[str]], targets: list[list[str]]) -> list[list[tuple[int, int]]]:
    """eflomal forward links (source index, target index) for every sentence pair.

    eflomal's Gibbs sampler takes no seed, so links (and measures) vary slightly between runs.
    """
    from eflomal import Aligner

    with tempfile.TemporaryDirectory() as work:
        links_path = Path(work) / "fwd.links"
        Aligner().align([" ".join(s) for s in sources], [" ".join(t) for t in targets],
                        links_filename_fwd=str(links_path), quiet=True)
        links = []
        for line in links_path.read_text(encoding="utf-8").splitlines():
            pairs = []
            for link in line.split():
                i, j = link.split("-")
                pairs.append((int(i), int(j)))
            links.append(pairs)
    if len(links) != len(sources):
        raise RuntimeError(f"eflomal returned {len(links)} alignments for {len(sources)} sentence pairs")
    return links
