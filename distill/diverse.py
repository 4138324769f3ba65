"""Diverse distillation (Shao, Wu & Feng 2022, "One Reference Is Not Enough"): one corpus with the targets of
several teachers for every training source.

``seqkd-distill diverse --distilled A --distilled B [...] --out D`` joins SeqKD corpora of the same raw corpus,
made by teachers of different seeds, into one corpus directory: its train targets are A's (so every tool
reads it as a distilled corpus), each further teacher's targets are kept as the column ``tgt.<n>`` and
binarized into ``bin/tgt.<n>/``, which the ``ctc`` student reads as further references and selects among
(:mod:`nat.selection`, task ``translation_multi_reference``). Valid is A's; test is the raw corpus's.
The manifest names the members and adds up what their teachers spent.
"""
from __future__ import annotations

from distill.card import CARD, write_card
from distill.corpus.directory import SPLITS, Corpus, build_corpus
from distill.io import InputError
from distill.scoring import score_translations


def extra_column(number: int) -> str:
    """The raw column (and ``bin/`` directory) of the ``number``-th teacher's train targets (2, 3, ...)."""
    return f"tgt.{number}"


def build_diverse_corpus(members: list[str], out) -> Corpus:
    """The diverse corpus of ``members`` (distilled corpus directories, the first the primary), or the one that
    is already at ``out`` with the same members."""
    if len(members) < 2:
        raise InputError("--distilled: give two or more distilled corpora (one per teacher)")
    corpora = [Corpus.open(path) for path in members]
    first = corpora[0]
    for corpus in corpora:
        if corpus.manifest.get("kind") != "distilled" or "distillation" not in corpus.manifest:
            raise InputError(f"{corpus.path}: not a distilled corpus (seqkd-distill regenerate makes them)")
        source, first_source = corpus.manifest["config"]["source_corpus"], first.manifest["config"]["source_corpus"]
        if source != first_source:
            raise InputError(f"{corpus.path}: distilled from another corpus than {first.path} ({source} vs "
                             f"{first_source})")
        if corpus.lines("train", "src") != first.lines("train", "src"):
            raise InputError(f"{corpus.path}: its training sources differ from {first.path}'s; distil one raw corpus")
    hashes = [corpus.manifest["config_hash"] for corpus in corpora]
    if len(set(hashes)) < len(hashes):
        raise InputError("--distilled: the same distilled corpus given twice; give one per teacher")
    config = {"kind": "diverse", "source_corpus": first.manifest["config"]["source_corpus"], "members": hashes}

    splits = {}
    for split in SPLITS:
        splits[split] = first.columns(split)
    extras = []
    for number, corpus in enumerate(corpora[1:], start=2):
        splits["train"][extra_column(number)] = corpus.lines("train", "tgt")
        extras.append(extra_column(number))
    costs = [corpus.manifest["distillation"]["teacher_cost"] for corpus in corpora]
    sentences = costs[0]["sentences"]
    cost = {"sentences": sentences, "teachers": len(corpora),
            "cpu_seconds": round(sum(c["cpu_seconds"] for c in costs), 2),
            "wall_seconds": round(sum(c["wall_seconds"] for c in costs), 2),
            "cpu_seconds_per_sentence": sum(c["cpu_seconds_per_sentence"] for c in costs),
            "wall_seconds_per_sentence": sum(c["wall_seconds_per_sentence"] for c in costs),
            "device": ", ".join(sorted({c["device"] for c in costs}))}
    distillation = {
        "members": [{"corpus": str(corpus.path.resolve()), "config_hash": corpus.manifest["config_hash"],
                     "teachers": corpus.manifest["config"]["teachers"]} for corpus in corpora],
        "teacher_cost": cost,
        "distilled_targets_vs_references": first.manifest["distillation"]["distilled_targets_vs_references"],
        # how far apart the teachers' outputs are: each further teacher's train targets against the first's
        "agreement_with_first": {extra_column(n): score_translations(c.lines("train", "tgt"),
                                                                     {"first": first.lines("train", "tgt")})["first"]
                                 for n, c in enumerate(corpora[1:], start=2)},
        "note": f"train targets: {first.path.name}'s (the first teacher); raw/train.tgt.<n> and bin/tgt.<n>/: "
                "the n-th teacher's; valid is the first's, test is the raw corpus's",
    }
    built = build_corpus(out, splits, kind="diverse", config=config,
                         sources=[{"corpus": str(c.path.resolve())} for c in corpora],
                         references=first.manifest["references"],
                         filtered={split: {"counts": {}, "examples": []} for split in SPLITS},
                         vocab_size=first.manifest["sentencepiece"]["vocab_size"], reuse_vocabulary_of=first,
                         extra_manifest={"distillation": distillation}, extra_targets=tuple(extras))
    if not (built.path / CARD).is_file():
        write_card(built)
    return built


def describe(corpus: Corpus) -> str:
    """One line for the command line: what the diverse corpus holds."""
    info = corpus.manifest["distillation"]
    agreement = ", ".join(f"{column} {score['bleu']:.2f}" for column, score in info["agreement_with_first"].items())
    return (f"diverse corpus: {corpus.path} ({len(info['members'])} teachers, {info['teacher_cost']['sentences']} "
            f"sentences; BLEU of each further teacher's targets against the first's: {agreement})")
