"""A vocabulary shortlist for the output projection of the CTC students, as Marian's CPU systems use a lexical
shortlist (Junczys-Dowmunt et al. 2018, "Marian: Cost-effective High-Quality Neural Machine Translation in C++"):
per sentence, the ``top`` target pieces each of its source pieces is most often aligned to in the run's training
corpus, plus the ``frequent`` most frequent target pieces and the dictionary's special symbols (the CTC blank is
one). The projection and the argmax then run over that subset only, a few hundred rows of the embedding table
instead of all of them: the projection is about 41 % of a ctc student's batch-1 time on a CPU (issue 36's profile).

The lexical table comes from eflomal's forward links over sentencepiece pieces of the training corpus (raw or
distilled: the targets the student learned to write). eflomal takes no seed, so a rebuilt table can differ in a
few entries; each run keeps the one it built (``RUN/shortlist-<key>.npz``), so its decodings stay the same.

A batch of several sentences is projected onto the union of their shortlists, each row masked to its own
(``-inf`` outside): a sentence decodes the same alone and in a batch.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from distill.corpus.directory import Corpus
from distill.io import atomic_open, config_hash

DEFAULT_FREQUENT = 100  # Marian's CPU systems: the 100 most frequent target words and the 100 best per source word
BENCH_TOP = 50  # the benchmark's shortlist: 50 target pieces per source piece (with DEFAULT_FREQUENT)


@dataclass(frozen=True)
class Shortlist:
    """``per_source[x]``: the target ids of source id ``x``'s shortlist (``-1``: none; [dictionary size, top]);
    ``always``: the ids in every sentence's (specials and the most frequent targets)."""

    per_source: torch.Tensor
    always: torch.Tensor

    @property
    def top(self) -> int:
        return self.per_source.size(1)

    def sentence_ids(self, src_tokens: torch.Tensor) -> torch.Tensor:
        """[batch, src * top + len(always)] each sentence's shortlist, with repeats and ``-1`` entries."""
        own = self.per_source.to(src_tokens.device)[src_tokens].flatten(1)
        return torch.cat([own, self.always.to(src_tokens.device).expand(src_tokens.size(0), -1)], dim=1)

    def vocabulary(self, src_tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The batch's output ids (sorted, [U]) and, for a batch of more than one sentence, a mask [batch, U] that
        is True where an id is outside that sentence's own shortlist (None for one sentence: nothing to mask)."""
        ids = self.sentence_ids(src_tokens)
        vocabulary = torch.unique(ids[ids.ge(0)])
        if src_tokens.size(0) == 1:
            return vocabulary, None
        inside = torch.zeros(src_tokens.size(0), int(vocabulary.max()) + 2, dtype=torch.bool, device=ids.device)
        inside.scatter_(1, ids + 1, True)  # column 0 collects the -1 entries
        return vocabulary, ~inside[:, vocabulary + 1]

    def statistics(self, sources: list[torch.Tensor], references: list[torch.Tensor]) -> dict:
        """Mean shortlist size per sentence and the hit rate: the share of reference tokens inside their
        sentence's shortlist (``sources``/``references``: one id tensor per sentence, as the dictionary encodes)."""
        sizes, hits, total = [], 0, 0
        for source, reference in zip(sources, references):
            ids = self.sentence_ids(source.unsqueeze(0))[0]
            listed = set(ids[ids.ge(0)].tolist())
            sizes.append(len(listed))
            hits += sum(int(token) in listed for token in reference)
            total += len(reference)
        return {"mean_size": float(np.mean(sizes)) if sizes else 0.0, "hit_rate": hits / total if total else 1.0,
                "top": self.top, "always": len(self.always)}


def lexical_shortlist(sources: list[list[int]], targets: list[list[int]], links: list[list[tuple[int, int]]],
                      dictionary_size: int, top: int, frequent: int, specials: list[int]) -> Shortlist:
    """The shortlist of aligned token ids: for each source id the ``top`` target ids it is linked to most often (ties:
    the smaller id), the ``frequent`` most frequent target ids (ties: the smaller id) and ``specials``."""
    counts: dict[int, Counter] = {}
    for source, target, pairs in zip(sources, targets, links):
        for i, j in pairs:
            counts.setdefault(source[i], Counter())[target[j]] += 1
    per_source = torch.full((dictionary_size, top), -1, dtype=torch.long)
    for x, row in counts.items():
        best = sorted(row.items(), key=lambda item: (-item[1], item[0]))[:top]
        per_source[x, : len(best)] = torch.tensor([y for y, _ in best])
    seen = Counter(token for target in targets for token in target)
    common = [y for y, _ in sorted(seen.items(), key=lambda item: (-item[1], item[0]))[:frequent]]
    always = torch.tensor(sorted(set(specials) | set(common)), dtype=torch.long)
    return Shortlist(per_source, always)


def run_shortlist(run_dir, corpus: Corpus, dictionary, top: int, frequent: int = DEFAULT_FREQUENT) -> Shortlist:
    """The shortlist of a run's training corpus, built with eflomal the first time it is asked for and kept in the
    run directory (see the module docstring)."""
    key = config_hash({"corpus": corpus.manifest["config_hash"], "top": top, "frequent": frequent,
                       "dictionary": len(dictionary)})
    path = Path(run_dir) / f"shortlist-{key}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return Shortlist(torch.from_numpy(stored["per_source"]), torch.from_numpy(stored["always"]))
    import sentencepiece as spm

    from distill.alignment import align

    processor = spm.SentencePieceProcessor(model_file=str(corpus.spm_model))
    pieces = {column: [processor.encode(line, out_type=str) for line in corpus.lines("train", column)]
              for column in ("src", "tgt")}
    print(f"{run_dir}: building the vocabulary shortlist (top {top}, {frequent} frequent) from eflomal's alignment "
          f"of {len(pieces['src']):,} training pairs", flush=True)
    links = align(pieces["src"], pieces["tgt"])
    ids = {column: [[dictionary.index(piece) for piece in line] for line in lines] for column, lines in pieces.items()}
    shortlist = lexical_shortlist(ids["src"], ids["tgt"], links, len(dictionary), top, frequent,
                                  list(range(dictionary.nspecial)))
    with atomic_open(path, "wb", encoding=None) as handle:
        np.savez(handle, per_source=shortlist.per_source.numpy(), always=shortlist.always.numpy())
    return shortlist


def translator_statistics(translator, sources: list[str], references: list[str]) -> dict:
    """:meth:`Shortlist.statistics` of a translator decoding through a shortlist, on raw source and reference lines
    (encoded as the translator encodes its input), with the dictionary's size."""
    dictionary = translator.task.target_dictionary

    def ids(line: str, eos: bool) -> torch.Tensor:
        return dictionary.encode_line(" ".join(translator.spm.encode(line, out_type=str)), add_if_not_exist=False,
                                      append_eos=eos)

    shortlist = translator.generator.shortlist
    return {**shortlist.statistics([ids(line, True) for line in sources], [ids(line, False) for line in references]),
            "dictionary": len(dictionary)}
