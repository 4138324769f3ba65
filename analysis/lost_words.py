"""What distillation loses: rare words, proper names, vocabulary size and length (Ding et al. 2021).

A distilled corpus is simpler than the raw one partly because the teacher drops what it cannot
translate well, and rare words first. We measure that on the test set for every system in a
``seqkd-nat compare`` result, and on the training corpus itself (distilled targets against raw):

- **recall by source frequency**: eflomal aligns the sources to the references (raw training data
  and test data together, so that the test set is aligned with the training set's statistics);
  every link (source word x, reference word y) is recalled when y occurs in the output (each output
  word recalls one link at most). Links are bucketed by how often x occurs in the training sources.
- **name copy rate**: a name is a capitalized reference word, not the first of its sentence, that
  also occurs capitalized in the source with the same letters once accents are removed ("Jacob",
  "Simeón" -> "Simeon"); it is copied when the output has it, with the same case.
- **target types** (distinct lowercased words) and the **length ratio** (output words / reference
  words).
"""
from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from analysis.lexical import words
from distill.alignment import align
from distill.io import InputError

# (lowest, highest, label) of a source word's count in the training sources
BUCKETS = ((0, 0, "0"), (1, 10, "1-10"), (11, 100, "11-100"), (101, 1000, "101-1,000"),
           (1001, float("inf"), ">1,000"))
_WORD = re.compile(r"\w+")


def bucket_of(count: int) -> str:
    return next(label for lowest, highest, label in BUCKETS if lowest <= count <= highest)


def recall_by_bucket(sources: list[list[str]], references: list[list[str]], outputs: list[list[str]],
                     links: list[list[tuple[int, int]]], source_counts: Counter) -> dict:
    """{bucket: {"links", "recalled", "recall"}} over all sentences (see the module's docstring)."""
    totals = {label: [0, 0] for _, _, label in BUCKETS}
    for source, reference, output, sentence_links in zip(sources, references, outputs, links):
        available = Counter(output)
        for i, j in sentence_links:
            bucket = totals[bucket_of(source_counts[source[i]])]
            bucket[0] += 1
            if available[reference[j]] > 0:
                available[reference[j]] -= 1
                bucket[1] += 1
    return {label: {"links": n, "recalled": hit, "recall": hit / n if n else None} for label, (n,
                                                                                               hit) in totals.items()}


def _plain(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def names(source: str, reference: str) -> list[str]:
    """The reference's copyable names: capitalized, not sentence-initial, capitalized in the source too."""
    source_names = {_plain(w) for w in _WORD.findall(source) if w[0].isupper()}
    return [w for w in _WORD.findall(reference)[1:] if w[0].isupper() and _plain(w) in source_names]


def name_copies(names_per_sentence: list[list[str]], outputs: list[str]) -> dict:
    """How many of the references' copyable names (:func:`names`, one list per sentence) the outputs have
    (case-sensitive, each output word once)."""
    found = copied = 0
    for names_here, output in zip(names_per_sentence, outputs):
        available = Counter(_WORD.findall(output))
        for name in names_here:
            found += 1
            if available[name] > 0:
                available[name] -= 1
                copied += 1
    return {"names": found, "copied": copied, "rate": copied / found if found else None}


def output_statistics(outputs: list[list[str]], references: list[list[str]]) -> dict:
    return {"types": len({w for line in outputs for w in line}),
            "length_ratio": sum(map(len, outputs)) / max(1, sum(map(len, references)))}


@dataclass
class Reference:
    """Sources and references as text, as words and with their names, and the links between their words:
    what every set of outputs for them is measured against, tokenized once (``links``: set after aligning)."""

    sources: list[str]
    references: list[str]
    links: list[list[tuple[int, int]]] = field(default_factory=list)

    def __post_init__(self):
        self.source_words = [words(line) for line in self.sources]
        self.reference_words = [words(line) for line in self.references]
        self.names = [names(source, reference) for source, reference in zip(self.sources, self.references)]

    def measure(self, outputs: list[str], source_counts: Counter) -> dict:
        """Every measure of one set of outputs against these references."""
        output_words = [words(line) for line in outputs]
        return {"recall_by_source_frequency": recall_by_bucket(self.source_words, self.reference_words, output_words,
                                                               self.links, source_counts),
                "names": name_copies(self.names, outputs), **output_statistics(output_words, self.reference_words)}


def mean_over_seeds(results: list[dict]) -> dict:
    """The mean of each number over several seeds' measures (the counts of the first seed)."""
    first = results[0]
    recall = {label: {**first["recall_by_source_frequency"][label],
                      "recall": _mean([r["recall_by_source_frequency"][label]["recall"] for r in results])}
              for label in first["recall_by_source_frequency"]}
    return {"seeds": len(results), "recall_by_source_frequency": recall,
            "names": {**first["names"], "rate": _mean([r["names"]["rate"] for r in results])},
            "types": statistics.mean(r["types"] for r in results),
            "length_ratio": statistics.mean(r["length_ratio"] for r in results)}


def _mean(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.mean(present) if present else None


def lost_words(raw, distilled, systems: dict) -> dict:
    """Measures of the distilled training corpus against the raw one, and of every system's test outputs.

    ``raw``, ``distilled``: :class:`~distill.corpus.directory.Corpus`; ``systems``: :class:`nat.systems.System`
    (or a name) -> the hypothesis files of its seeds (one sentence per test line). ``test_outputs`` keeps the
    systems' order, one record each with its system's fields (:func:`nat.systems.row_key`).
    """
    from distill.io import read_lines
    from nat.systems import row_key

    train = Reference(raw.lines("train", "src"), raw.lines("train", "tgt"))
    test = Reference(raw.lines("test", "src"), raw.lines("test", "tgt"))
    distilled_targets = distilled.lines("train", "tgt")
    if len(distilled_targets) != len(train.sources):
        raise InputError(f"{distilled.path}: {len(distilled_targets)} training targets for {len(train.sources)} raw "
                         "sources; the distilled corpus must keep the raw corpus's lines")
    hypotheses = {}
    for system, paths in systems.items():  # read and checked before the alignment, which takes a minute
        hypotheses[system] = [read_lines(path) for path in paths]
        for path, lines in zip(paths, hypotheses[system]):
            if len(lines) != len(test.sources):
                raise InputError(f"{path}: {len(lines)} lines for {len(test.sources)} test sentences of {raw.path}; "
                                 "expected one output per test sentence")
    links = align(train.source_words + test.source_words, train.reference_words + test.reference_words)
    train.links, test.links = links[:len(train.sources)], links[len(train.sources):]
    source_counts = Counter(w for line in train.source_words for w in line)
    corpora = [{"name": "raw targets", **train.measure(train.references, source_counts)},
               {"name": "distilled targets", **train.measure(distilled_targets, source_counts)}]
    outputs = [{**row_key(system), **mean_over_seeds([test.measure(lines, source_counts) for lines in seeds])}
               for system, seeds in hypotheses.items()]
    return {"raw": str(raw.path), "distilled": str(distilled.path), "reference": raw.manifest["references"]["primary"],
            "buckets": [label for _, _, label in BUCKETS], "training_corpus": corpora, "test_outputs": outputs}


def training_corpus(result: dict, name: str) -> dict:
    """The measures of the raw or the distilled training targets (``name``: "raw targets", "distilled targets")."""
    return next(corpus for corpus in result["training_corpus"] if corpus["name"] == name)


def compare_systems(comparison: dict) -> dict:
    """:class:`nat.systems.System` -> hypothesis files (one per seed) of every row of a ``seqkd-nat compare``
    result; a system names its decoding where its kind has several (ar: greedy, beam 5)."""
    from nat.systems import TEACHER, System

    systems: dict = {}
    decodings = Counter((r["system"], r["data"], r["seed"]) for r in comparison["results"])
    for record in comparison["results"]:
        several = decodings[record["system"], record["data"], record["seed"]] > 1
        system = (TEACHER if record["system"] == TEACHER.student else
                  System(record["system"], record["data"], record["decoding"] if several else None))
        systems.setdefault(system, []).append(record["hypotheses"])
    return systems


def markdown(result: dict) -> str:
    from distill.tables import markdown_table
    from nat.systems import row_label

    buckets = result["buckets"]
    header = ["", *(f"recall, {b}" for b in buckets), "name copy rate", "types", "length ratio"]

    def table(records):
        return markdown_table(header, ([row_label(r), *(_share(r["recall_by_source_frequency"][b]["recall"])
                                                         for b in buckets),
                                        _share(r["names"]["rate"]), f"{r['types']:,.0f}", f"{r['length_ratio']:.3f}"]
                                       for r in records))

    links = training_corpus(result, "raw targets")["recall_by_source_frequency"]
    lines = [f"What distillation loses, against the `{result['reference']}` reference (`{result['raw']}` vs "
             f"`{result['distilled']}`).", "", "Training corpus (the distilled targets against the raw ones):", "",
             table(result["training_corpus"]), "",
             "Links per bucket (training): " + ", ".join(f"{b} {links[b]['links']:,}" for b in buckets) + "."]
    if outputs := result["test_outputs"]:
        test_links = outputs[0]["recall_by_source_frequency"]
        lines += ["", "Test outputs (students: mean over seeds):", "", table(outputs), "",
                  "Links per bucket (test): " + ", ".join(f"{b} {test_links[b]['links']:,}" for b in buckets) +
                  f"; names in the test references: {outputs[0]['names']['names']:,}."]
    lines += ["", "Recall, N: share of the reference words aligned (eflomal) to a source word seen N times in the "
              "training sources that the output has (the raw targets' row is the reference against itself). Names: "
              "capitalized reference words, not sentence-initial, also in the "
              "source (accents removed); copied when the output has them with the same case."]
    return "\n".join(lines) + "\n"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"
