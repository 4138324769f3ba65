"""BLEU and chrF with sacrebleu on detokenized text, always with signatures."""
from __future__ import annotations

from sacrebleu.metrics import BLEU, CHRF


def score_translations(hypotheses: list[str], references: dict[str, list[str]]) -> dict:
    """Scores against each reference alone and against all of them (multi-reference).

    ``references`` is ordered primary first, e.g. {"web": [...], "kjv": [...]}.
    """
    for name, lines in references.items():
        if len(lines) != len(hypotheses):
            raise ValueError(f"reference {name!r} has {len(lines)} lines for {len(hypotheses)} hypotheses")
    sets = {name: [lines] for name, lines in references.items()}
    if len(references) > 1:
        sets["+".join(references)] = list(references.values())
    scores = {}
    for name, refs in sets.items():
        bleu, chrf = BLEU(), CHRF()
        bleu_score = bleu.corpus_score(hypotheses, refs)
        chrf_score = chrf.corpus_score(hypotheses, refs)
        scores[name] = {"bleu": round(bleu_score.score, 2), "chrf": round(chrf_score.score, 2),
                        "bleu_signature": str(bleu.get_signature()), "chrf_signature": str(chrf.get_signature()),
                        "bleu_verbose": str(bleu_score)}
    return scores


def length_ratio(hypotheses: list[str], reference: list[str]) -> float:
    """Output length over reference length in sacrebleu's 13a tokens (the ratio its brevity penalty reads)."""
    return length_ratio_of(BLEU().corpus_score(hypotheses, [reference]))


def length_ratio_of(score) -> float:
    """The output/reference length ratio of a sacrebleu BLEU score already computed."""
    return round(score.sys_len / max(score.ref_len, 1), 4)


def format_scores(scores: dict) -> str:
    return "\n".join(f"  {name:>8}: BLEU {s['bleu']:5.2f}  chrF {s['chrf']:5.2f}   [{s['bleu_signature']}]"
                     for name, s in scores.items())


def primary_reference_score(translator, corpus, split: str) -> tuple[str, dict]:
    """Translate a split and score it against its primary reference only: (reference name, scores).

    For choices made on the validation set (learning-curve points, decoding settings)."""
    name, reference = next(iter(corpus.references(split).items()))
    hypotheses = [nbest[0].text for nbest in translator.translate(corpus.lines(split, "src"))]
    return name, score_translations(hypotheses, {name: reference})[name]


def evaluation_files(out_dir, stem: str):
    """Where :func:`evaluate_on_split` writes an evaluation: (hypotheses ``.hyp``, scores ``.json``)."""
    from pathlib import Path

    return Path(out_dir) / f"{stem}.hyp", Path(out_dir) / f"{stem}.json"


def evaluate_on_split(translator, corpus, split: str, out_dir, stem: str, oracle_length: bool = False,
                      details: dict | None = None) -> dict:
    """Translate a corpus split, score it against all its references, save hypotheses and JSON.

    ``oracle_length``: decode every sentence at the length of its primary reference (a NAT that predicts its
    length; what BLEU its length prediction costs); ``details``: further fields for the JSON (a teacher's beam).
    The returned dict is the JSON plus ``hypotheses`` (kept out of the file: the .hyp holds them).
    """
    from distill.io import write_json, write_lines

    sources = corpus.lines(split, "src")
    lengths = translator.target_lengths(corpus.lines(split, "tgt")) if oracle_length else None
    hypotheses = [nbest[0].text for nbest in translator.translate(sources, lengths)]
    hypotheses_file, scores_file = evaluation_files(out_dir, stem)
    write_lines(hypotheses_file, hypotheses)
    result = {"corpus": str(corpus.path.resolve()), "split": split, "sentences": len(sources),
              **({"oracle_length": True} if oracle_length else {}), **(details or {}),
              "decode_wall_seconds": translator.wall_seconds,
              "scores": score_translations(hypotheses, corpus.references(split))}
    write_json(scores_file, result)
    return {**result, "hypotheses": hypotheses}


def run_evaluation(run_dir, make_translator, corpus, split: str, out_dir, stem: str,
                   details: dict | None = None) -> dict:
    """:func:`evaluate_on_split` for a training run, kept: the evaluation already in ``out_dir`` when it is of
    this run (its config hash, a run's identity), corpus and split, else made now with ``make_translator()``
    and marked with the run's hash. A run's decoding is never redone to read its scores again, so a run
    whose checkpoints are gone (:mod:`distill.state` keeps runs without them) still reports."""
    from distill.engine import read_run_manifest
    from distill.io import read_json, read_lines

    run = read_run_manifest(run_dir)["config_hash"]
    hypotheses_file, scores_file = evaluation_files(out_dir, stem)
    if scores_file.is_file() and hypotheses_file.is_file():
        kept = read_json(scores_file)
        if (kept.get("run"), kept.get("corpus"), kept.get("split")) == (run, str(corpus.path.resolve()), split):
            return {**kept, "hypotheses": read_lines(hypotheses_file)}
    return evaluate_on_split(make_translator(), corpus, split, out_dir, stem, details={**(details or {}), "run": run})
