"""When distillation helps: students of several capacities on real corpora of different complexity.

Zhou, Gu & Neubig (2020) explain why sequence-level distillation helps some students and not others: the
data a student learns best from depends on its capacity against the data's complexity. The study
(``seqkd-reproduce study``, scripts/distillation_study.sh) trains each student *group* (a kind at a size:
``ctc`` tiny and small, ``dat``, vanilla ``nat`` and ``ar`` small) on each corpus raw and distilled, with several
seeds, and this module turns the groups' comparisons into one result:

  corpora   per corpus: the teacher's test BLEU; its BLEU on its own training sources against their
            references (how much of the training set it memorized, from the distilled corpus's manifest);
            the distilled targets' length ratio; C(d) of the raw and the distilled corpus and F(d)
  cells     per (corpus, group, training data): BLEU per seed, mean and sd; the paired bootstrap p of each
            distilled seed against its raw seed; repetition rate; rare-word recall and mode mixing where
            those analyses ran
  points    per (corpus, group): the distillation gain (distilled - raw, mean and sd over seeds) against
            the raw student's BLEU as a share of the teacher's: the headline figure
  measures  how each corpus measure goes with the gain across the points (Pearson r)
  equal time per (corpus, training data, seed) where both groups of a pair in :data:`EQUAL_TIME` ran (``dat``
            beside ``ctc`` at the same size): each one's validation BLEU after as much training time as the
            faster-finishing of the two had in all, read off their learning curves

Compute (:func:`study_result`) returns plain data; :func:`markdown` and :func:`plot_study` render it.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from analysis.repetition import repetition_rate
from distill.io import read_lines
from distill.tables import markdown_table
from nat.compare import DISTILLED
from nat.systems import TEACHER_KIND

HEADLINE_DATA = DISTILLED  # the SeqKD corpus's name in the comparisons: the figure's points
RARE_BUCKET = "1-10"  # rare-word recall: source words seen 1-10 times in the training corpus (analysis.lost_words)
SIGNIFICANT = 0.01
CORRELATION_SIGNIFICANT = 0.05  # a correlation's permutation p below which the verdict names its trend


@dataclass(frozen=True)
class StudentGroup:
    """One kind of student at one size: a point of the headline figure on each corpus."""

    student: str
    size: str

    @property
    def label(self) -> str:
        """How tables and the figure name it: ``ctc tiny``."""
        return f"{self.student} {self.size}"

    @property
    def key(self) -> str:
        """How the environment (GROUPS, EXTRA_GROUPS) and the run directories name it: ``ctc-tiny``."""
        return f"{self.student}-{self.size}"

    def to_json(self) -> dict:
        return {"student": self.student, "size": self.size}


# the study's students, headline first: capacity from a tiny CTC student to an autoregressive one; the DAG student
# (the one-pass NAT that needs distillation least, Huang et al. 2022) beside ctc at the same size
# in the order the study trains them (a round of first seeds): the cheap cells first, dat last (2.5x ctc's time)
STUDY_GROUPS = (StudentGroup("ctc", "tiny"), StudentGroup("ctc", "small"), StudentGroup("nat", "small"),
                StudentGroup("ar", "small"), StudentGroup("dat", "small"))


# pairs of groups compared at equal training time (Huang et al. 2022's DAG student against ctc at its size: the
# DAG costs more per update, so BLEU at equal updates flatters it)
EQUAL_TIME = ((StudentGroup("ctc", "small"), StudentGroup("dat", "small")),)


@dataclass(frozen=True)
class CorpusInputs:
    """What the study read for one corpus: its name, what kind of target side it has, the comparison of each
    group (a ``seqkd-nat compare`` result), the raw corpus's record in a complexity result, each distilled
    corpus's inputs by the name the comparisons give it, and per group the lost-words and mode-mixing results
    where they ran."""

    name: str
    description: str
    comparisons: dict  # StudentGroup -> compare result
    raw_complexity: dict  # {"complexity_bits": ...}
    distilled: dict  # data name -> DistilledInputs
    lost_words: dict  # StudentGroup -> lost_words result
    mode_mixing: dict  # StudentGroup -> mode_mixing result
    lenpen: dict | None = None  # the teacher's length-penalty tuning on valid (``seqkd-distill tune-lenpen``)


@dataclass(frozen=True)
class DistilledInputs:
    """One distilled corpus: its manifest, its record in a complexity result (with ``faithfulness_bits_vs_first``
    against the raw corpus) and its train targets' length against the human ones (distill.scoring.length_ratio)."""

    manifest: dict
    complexity: dict
    length_ratio: float


def _mean(values: list[float]) -> float:
    return statistics.mean(values)


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _first_decoding(compare: dict, student: str) -> str:
    """The decoding a group is judged by: its kind's first (``ar``: greedy, the SeqKD question)."""
    return next(r["decoding"] for r in compare["results"] if r["system"] == student)


def _record_measure(records: list[dict], system: dict, field: str, path=None):
    record = next((r for r in records if r.get("system") == system), None)
    if record is None:
        return None
    value = record[field]
    for key in path or ():
        value = value[key]
    return value


def corpus_measures(inputs: CorpusInputs, primary: str) -> list[dict]:
    """One row per distilled corpus of a corpus (module docstring)."""
    compare = next(iter(inputs.comparisons.values()))
    teacher = next(r for r in compare["results"] if r["system"] == TEACHER_KIND)
    raw = inputs.raw_complexity["complexity_bits"]
    rows = []
    for data, distilled in inputs.distilled.items():
        quality = distilled.manifest["distillation"]["distilled_targets_vs_references"]["train"]
        memorized = quality.get(primary) or next(iter(quality.values()))
        length = distilled.manifest["distillation"].get("length_penalty", {})
        rows.append({"corpus": inputs.name, "description": inputs.description, "reference": primary, "data": data,
                     "teacher_bleu": teacher["scores"][primary]["bleu"], "teacher_train_bleu": memorized["bleu"],
                     "distilled_length_ratio": distilled.length_ratio, "lenpen": length.get("chosen", 1.0),
                     "complexity_raw": round(raw, 4),
                     "complexity_distilled": round(distilled.complexity["complexity_bits"], 4),
                     "complexity_drop": round(raw - distilled.complexity["complexity_bits"], 4),
                     "faithfulness": round(distilled.complexity["faithfulness_bits_vs_first"], 4)})
    return rows


def study_result(corpora: list[CorpusInputs]) -> dict:
    """The study's result from each corpus's inputs (module docstring). BLEU is against each corpus's primary
    test reference (the first of its comparisons' references)."""
    cells, points, measures, signatures = [], [], [], {}
    for inputs in corpora:
        primary = next(iter(inputs.comparisons.values()))["references"][0]
        measures += corpus_measures(inputs, primary)
        for group, compare in inputs.comparisons.items():
            signatures[inputs.name] = compare["bleu_signatures"][primary]
            decoding = _first_decoding(compare, group.student)
            teacher = next(r for r in compare["results"] if r["system"] == TEACHER_KIND)["scores"][primary]["bleu"]
            records = [r for r in compare["results"] if r["system"] == group.student and r["decoding"] == decoding]
            by_data = {}
            for record in records:
                by_data.setdefault(record["data"], {})[record["seed"]] = record
            for data, seeds in by_data.items():
                system = {"student": group.student, "data": data, "decoding": None}
                bleu = [seeds[s]["scores"][primary]["bleu"] for s in sorted(seeds)]
                repetition = [repetition_rate(read_lines(seeds[s]["hypotheses"]))["rate"] for s in sorted(seeds)]
                hours = [seeds[s].get("train_wall_seconds") for s in sorted(seeds)]
                lost = inputs.lost_words.get(group)
                modes = inputs.mode_mixing.get(group)
                cells.append({
                    "corpus": inputs.name, "group": group.to_json(), "data": data, "decoding": decoding,
                    "seeds": sorted(seeds), "bleu": bleu, "mean": round(_mean(bleu), 2), "sd": round(_sd(bleu), 2),
                    "share_of_teacher": round(_mean(bleu) / teacher, 4),
                    "p_values": [seeds[s]["p_value_vs_raw"] for s in sorted(seeds)] if data != "raw" else None,
                    "repetition": round(_mean(repetition), 4),
                    # fairseq's train_wall, the run's own (runs trained side by side share the cores)
                    "training_hours": round(_mean(hours) / 3600, 3) if None not in hours else None,
                    "rare_word_recall": _record_measure(lost["test_outputs"], system, "recall_by_source_frequency",
                                                        (RARE_BUCKET, "recall")) if lost else None,
                    "mode_mixing": _record_measure(modes["systems"], system, "mode_mixing_rate") if modes else None})
            if "raw" not in by_data:
                continue
            for data in (d for d in by_data if d != "raw"):
                seeds = sorted(set(by_data["raw"]) & set(by_data[data]))
                if not seeds:
                    continue
                gains = [by_data[data][s]["scores"][primary]["bleu"] - by_data["raw"][s]["scores"][primary]["bleu"]
                         for s in seeds]
                p_values = [by_data[data][s]["p_value_vs_raw"] for s in seeds]
                raw_share = _mean([by_data["raw"][s]["scores"][primary]["bleu"] for s in seeds]) / teacher
                points.append({"corpus": inputs.name, "group": group.to_json(), "data": data, "decoding": decoding,
                               "seeds": seeds, "gains": [round(g, 2) for g in gains], "gain": round(_mean(gains), 2),
                               "gain_sd": round(_sd(gains), 2), "raw_share_of_teacher": round(raw_share, 4),
                               "p_values": p_values, "verdict": verdict(gains, p_values)})
    tunings = [{"corpus": inputs.name, **_chosen_point(inputs.lenpen)} for inputs in corpora if inputs.lenpen]
    return {"bleu_signatures": signatures, "corpora": measures, "cells": cells, "points": points,
            "length_penalty_tuning": tunings,
            "correlations": correlations(points, measures),
            "equal_time": [row for inputs in corpora for first, second in EQUAL_TIME
                           if first in inputs.comparisons and second in inputs.comparisons
                           for row in equal_time(inputs.name, first, inputs.comparisons[first], second,
                                                 inputs.comparisons[second])]}


# the clocks a learning curve's points carry (field: how tables name it), the preferred first: CPU time is what
# other work on the machine does not inflate (distill.engine.training_cpu_clock); wall time is there for every run,
# CPU time for runs trained since it was logged
CLOCKS = {"cpu_seconds": "CPU", "wall_seconds": "wall"}


def bleu_at(points: list[dict], seconds: float, clock: str = "wall_seconds") -> float | None:
    """A learning curve's validation BLEU after ``seconds`` of training on ``clock`` (a point's field): linear
    between the two checkpoints around it, the last checkpoint's at or past the last one's time, None before the
    first (or without times)."""
    timed = [(p[clock], p["bleu"]) for p in points if p.get(clock) is not None]
    if not timed or seconds < timed[0][0]:
        return None
    for (t0, b0), (t1, b1) in zip(timed, timed[1:]):
        if t0 <= seconds <= t1:
            return b0 if t1 == t0 else round(b0 + (b1 - b0) * (seconds - t0) / (t1 - t0), 2)
    return timed[-1][1]


def equal_time(corpus: str, first: StudentGroup, first_compare: dict, second: StudentGroup,
               second_compare: dict) -> list[dict]:
    """One row per (training data, seed) that both groups' comparisons have a timed curve of: the time the
    faster-finishing run trained in all, and each group's validation BLEU then (:func:`bleu_at`) and at its end;
    on the first of :data:`CLOCKS` that every point of both curves has."""
    def curves(group: StudentGroup, compare: dict) -> dict:
        return {(c["data"], c["seed"]): c["points"] for c in compare.get("curves", [])
                if c["student"] == group.student and c["points"]}

    ones, others = curves(first, first_compare), curves(second, second_compare)
    rows = []
    for data, seed in (key for key in ones if key in others):
        runs = {"first": ones[data, seed], "second": others[data, seed]}
        clock = next((name for name in CLOCKS
                      if all(p.get(name) is not None for points in runs.values() for p in points)), None)
        if clock is None:
            continue
        seconds = min(points[-1][clock] for points in runs.values())
        row = {"corpus": corpus, "data": data, "seed": seed, "clock": clock, "seconds": seconds}
        for (which, points), group in zip(runs.items(), (first, second)):
            row[which] = {"group": group.to_json(), "bleu_then": bleu_at(points, seconds, clock),
                          "final_bleu": points[-1]["bleu"], "final_seconds": points[-1][clock],
                          "final_updates": points[-1]["updates"]}
        rows.append(row)
    return rows


def _chosen_point(tuning: dict) -> dict:
    """The tuning's choice and what it measured there, beside what the default (1) measured."""
    points = {point["lenpen"]: point for point in tuning["points"]}
    chosen, default = points[tuning["chosen"]], points.get(1.0)
    return {"chosen": tuning["chosen"], "criterion": tuning["criterion"], "length_ratio": chosen["length_ratio"],
            "bleu": chosen["bleu"], "default_length_ratio": default["length_ratio"] if default else None}


def verdict(gains: list[float], p_values: list[float]) -> str:
    """``helped`` / ``hurt``: every seed significant (p < 0.01) in that direction; else ``no difference``
    when no seed is significant, ``mixed`` when some are."""
    significant = [p < SIGNIFICANT for p in p_values]
    if all(significant) and all(g > 0 for g in gains):
        return "helped"
    if all(significant) and all(g < 0 for g in gains):
        return "hurt"
    return "no difference" if not any(significant) else "mixed"


CORRELATED = (("raw_share_of_teacher", "the raw student's share of the teacher's BLEU"),
              ("complexity_raw", "C(d) of the raw corpus"), ("complexity_drop", "C(d) raw - distilled"),
              ("faithfulness", "F(d)"), ("teacher_train_bleu", "the teacher's BLEU on its training sources"),
              ("distilled_length_ratio", "the distilled targets' length ratio"))


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return round(statistics.correlation(xs, ys), 3)


PERMUTATIONS = 10_000  # sampled (seeded) where there are more points than can be permuted exhaustively (8)


def permutation_p(xs: list[float], ys: list[float]) -> float | None:
    """Two-sided permutation p of Pearson r: the share of the orderings of ``ys`` against ``xs`` whose |r| is at
    least the observed one, the observed ordering included; every ordering up to 8 points, else
    :data:`PERMUTATIONS` seeded random ones. Few points cannot be significant: with 4, p is at least 2/24."""
    import itertools
    import random

    if _pearson(xs, ys) is None:
        return None
    observed = statistics.correlation(xs, ys)  # unrounded: the observed ordering must count itself
    if len(ys) <= 8:
        orderings = list(itertools.permutations(ys))
    else:
        generator = random.Random(0)
        orderings = [tuple(ys)] + [tuple(generator.sample(ys, len(ys))) for _ in range(PERMUTATIONS - 1)]
    as_extreme = sum(abs(statistics.correlation(xs, list(o))) >= abs(observed) - 1e-9 for o in orderings)
    return round(as_extreme / len(orderings), 4)


def correlations(points: list[dict], measures: list[dict]) -> list[dict]:
    """Pearson r of the gain with each measure across the points, with its permutation p (a point takes the
    measures of its distilled corpus; ``distinct_values`` says how many different values a measure has among
    them); None where undefined."""
    by_corpus = {(m["corpus"], m["data"]): m for m in measures}
    rows = []
    for field, description in CORRELATED:
        pairs = [(p[field] if field in p else by_corpus[p["corpus"], p["data"]][field], p["gain"]) for p in points]
        xs, ys = [x for x, y in pairs if x is not None], [y for x, y in pairs if x is not None]
        rows.append({"measure": field, "description": description, "points": len(xs),
                     "distinct_values": len(set(xs)), "pearson_r": _pearson(xs, ys),
                     "p_permutation": permutation_p(xs, ys)})
    return rows


def _group_label(record: dict) -> str:
    return StudentGroup(**record["group"]).label


def _or_blank(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def points_table(result: dict) -> str:
    """The gain per student group, corpus and distilled corpus (study.md's first table, and the README's)."""
    return markdown_table(
        ["corpus", "student", "distilled corpus", "seeds", "gain, BLEU (mean ± sd)", "per seed",
         "p per seed", "raw / teacher", "verdict"],
        ([p["corpus"], _group_label(p), p["data"], ",".join(map(str, p["seeds"])),
          f"{p['gain']:+.2f} ± {p['gain_sd']:.2f}",
          ", ".join(f"{g:+.2f}" for g in p["gains"]), ", ".join(f"{v:.3f}" for v in p["p_values"]),
          f"{p['raw_share_of_teacher']:.0%}", p["verdict"]] for p in result["points"]))


def markdown(result: dict) -> str:
    """study.md: the verdict, the points, the cells, the corpora and the correlations."""
    points = points_table(result)
    cells = markdown_table(
        ["corpus", "student", "training data", "decoding", "seeds", "BLEU", "/ teacher", "training h", "repetition",
         f"rare-word recall ({RARE_BUCKET})", "mode mixing"],
        ([c["corpus"], _group_label(c), c["data"], c["decoding"], ",".join(map(str, c["seeds"])),
          f"{c['mean']:.2f}" + (f" ± {c['sd']:.2f}" if len(c["seeds"]) > 1 else ""), f"{c['share_of_teacher']:.0%}",
          _or_blank(c.get("training_hours"), ".2f"), f"{100 * c['repetition']:.1f} %",
          _or_blank(c["rare_word_recall"], ".3f"),
          "" if c["mode_mixing"] is None else f"{100 * c['mode_mixing']:.1f} %"] for c in result["cells"]))
    corpora = markdown_table(
        ["corpus", "target side", "test reference", "teacher test BLEU", "distilled corpus",
         "teacher BLEU on its training sources", "distilled length ratio", "length penalty", "C(d) raw",
         "C(d) distilled", "F(d)"],
        ([m["corpus"], m["description"], m["reference"], f"{m['teacher_bleu']:.2f}", m["data"],
          f"{m['teacher_train_bleu']:.2f}",
          _or_blank(m["distilled_length_ratio"], ".3f"), f"{m['lenpen']:g}", f"{m['complexity_raw']:.3f}",
          f"{m['complexity_distilled']:.3f}", f"{m['faithfulness']:.3f}"] for m in result["corpora"]))
    measures = markdown_table(
        ["measure", "points", "distinct values", "Pearson r with the gain", "permutation p"],
        ([m["description"], m["points"], m["distinct_values"], _or_blank(m["pearson_r"], "+.3f"),
          _or_blank(m.get("p_permutation"), ".3f")] for m in result["correlations"]))
    return "\n".join([
        "## Verdict", "", verdict_paragraph(result), "",
        "## Distillation gain per student and corpus", "", points, "",
        "Gain: distilled minus raw BLEU of the same seed, against the corpus's test reference (table of the "
        f"corpora); p: sacrebleu paired bootstrap (1,000 "
        f"resamples), all references, two-sided; verdict: helped / hurt when every seed is significant (p < "
        f"{SIGNIFICANT}) in that direction, mixed when some are, no difference when none is.", "",
        "## Every cell", "", cells, "",
        "Training h: the run's training time (from the times of its log lines, over all its sittings; mean over "
        "seeds; the runs of a student train side by side, sharing the cores, and take longer where other work "
        "shares them too). "
        "Repetition: share of output words equal to the word before them (mean over seeds); rare-word recall: "
        f"of reference words aligned to source words seen {RARE_BUCKET} times in training, the share the output "
        "has (seqkd-analysis lost-words); mode mixing: the share of outputs that mix the corpus's target styles "
        "(seqkd-analysis modes, where the corpus has them).", "",
        "## The corpora", "", corpora, "",
        "The teacher's BLEU on its training sources: the distilled train targets against their references (how much "
        "the teachers memorized; for the held-out-fold corpus, on sentences its teachers never saw); C(d), F(d): "
        "Zhou et al. (2020), seqkd-analysis complexity.", "",
        *_tuning_lines(result),
        *_equal_time_lines(result),
        "## Which measure goes with the gain", "", measures, "",
        *(f"sacrebleu ({corpus}): {signature}" for corpus, signature in result["bleu_signatures"].items()), ""])


def _tuning_lines(result: dict) -> list[str]:
    """What the teacher's length-penalty tuning on valid chose per corpus (the SeqKD corpus is decoded at 1)."""
    lines = []
    for tuning in result.get("length_penalty_tuning", []):
        same = tuning["chosen"] == 1.0
        lines.append(f"- {tuning['corpus']}: length penalty {tuning['chosen']:g} chosen on valid "
                     f"({tuning['criterion']}), length ratio {tuning['length_ratio']:.3f}, BLEU {tuning['bleu']:.2f}"
                     + ("; the SeqKD corpus is already decoded so, and no further corpus was made." if same else
                        f" (at 1: {tuning['default_length_ratio']:.3f}); the `lenpen` corpus is decoded with it."))
    return ["## The teacher's length penalty", "", *lines, ""] if lines else []


def _equal_time_lines(result: dict) -> list[str]:
    """The table of :func:`equal_time`'s rows, where there are any."""
    rows = result.get("equal_time", [])
    if not rows:
        return []
    table = markdown_table(
        ["corpus", "students", "training data", "seed", "clock", "equal time, min", "first's valid BLEU then",
         "second's valid BLEU then", "first at its end (min, updates, BLEU)", "second at its end"],
        ([r["corpus"], f"{_group_label(r['first'])} / {_group_label(r['second'])}", r["data"], r["seed"],
          CLOCKS[r["clock"]], f"{r['seconds'] / 60:.1f}", _or_blank(r["first"]["bleu_then"], ".2f"),
          _or_blank(r["second"]["bleu_then"], ".2f"),
          *(f"{r[w]['final_seconds'] / 60:.1f}, {r[w]['final_updates']:,}, {r[w]['final_bleu']:.2f}"
            for w in ("first", "second"))] for r in rows))
    return ["## At equal training time", "", table, "",
            "Validation BLEU (one pass, no tuned penalty) read off each run's learning curve after as much training "
            "as the run that finished first had in all (linear between checkpoints; blank where that is before "
            "the run's first checkpoint). Clock: CPU, the training process's CPU time at each checkpoint (what "
            "other work on the machine does not inflate), where both runs logged it; else wall, the runs' own "
            "training wall times (each trained beside its other run, raw beside distilled, on the same cores, and "
            "longer where other work shared them).", ""]


def _seeds(count: int) -> str:
    return f"{count} seed{'s' if count != 1 else ''}"


def verdict_paragraph(result: dict) -> str:
    """The study's answer in words, from its numbers only."""
    points = result["points"]
    if not points:
        return "No student has both a raw and a distilled run yet."
    parts = []
    for word in ("helped", "hurt", "mixed", "no difference"):
        chosen = [p for p in points if p["verdict"] == word]
        if chosen:
            listed = "; ".join(f"{_group_label(p)} on {p['corpus']} ({p['gain']:+.2f}, raw at "
                               f"{p['raw_share_of_teacher']:.0%} of the teacher, {_seeds(len(p['seeds']))})"
                               for p in chosen)
            parts.append(f"Distillation {'made no significant difference' if word == 'no difference' else word}"
                         f"{' (some seeds significant, not all)' if word == 'mixed' else ''} for {listed}.")
    share = next(m for m in result["correlations"] if m["measure"] == "raw_share_of_teacher")
    if share["pearson_r"] is not None:
        direction = "smaller" if share["pearson_r"] < 0 else "larger"
        p = share.get("p_permutation")  # None in results made before it was computed
        opening = (f"Across the {share['points']} points the gain correlates with the raw student's share of the "
                   f"teacher at r = {share['pearson_r']:+.2f}")
        if p is not None and p >= CORRELATION_SIGNIFICANT:
            parts.append(f"{opening} (permutation p {p:.2f}), which {share['points']} points cannot tell from "
                         "chance: no support yet either way for the capacity claim of Zhou et al. 2020.")
        else:
            claim = " (the capacity claim of Zhou et al. 2020)" if direction == "smaller" else ""
            parts.append(f"{opening}{'' if p is None else f' (permutation p {p:.2f})'}: the stronger the student "
                         f"on raw data, the {direction} the gain{claim}.")
    seeds = {len(p["seeds"]) for p in points}
    if seeds != {3}:
        parts.append(f"Not final: points have {' or '.join(map(str, sorted(seeds)))} "
                     f"seed{'s' if max(seeds) > 1 else ''}; the study asks for 3.")
    return " ".join(parts)


MARKERS = ("o", "s", "^", "D")


def plot_study(result: dict, out: Path) -> list[str]:
    """The headline figure: SeqKD's gain (bar: sd over seeds) against the raw student's share of the teacher, one
    point per (student group, corpus), marked by corpus; study.png and study.pdf in ``out``. The other distilled
    corpora (diverse, held-out, ensemble) are in the tables."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corpora = list(dict.fromkeys(m["corpus"] for m in result["corpora"]))
    headline = [p for p in result["points"] if p["data"] == HEADLINE_DATA]
    groups = list(dict.fromkeys(_group_label(p) for p in headline))
    colours = {label: f"C{i}" for i, label in enumerate(groups)}
    figure, axis = plt.subplots(figsize=(7, 4.5))
    axis.axhline(0, color="grey", linewidth=0.8)
    for point in headline:
        label = _group_label(point)
        marker = MARKERS[corpora.index(point["corpus"]) % len(MARKERS)]
        axis.errorbar(100 * point["raw_share_of_teacher"], point["gain"], yerr=point["gain_sd"], fmt=marker,
                      color=colours[label], capsize=3, markersize=7,
                      markerfacecolor=colours[label] if point["verdict"] == "helped" else "white")
        axis.annotate(label, (100 * point["raw_share_of_teacher"], point["gain"]), textcoords="offset points",
                      xytext=(6, 4), fontsize=8)
    for index, corpus in enumerate(corpora):
        axis.plot([], [], MARKERS[index % len(MARKERS)], color="black", markerfacecolor="white", label=corpus)
    axis.legend(title="corpus (filled: helped in every seed)", fontsize=8, title_fontsize=8)
    axis.set_xlabel("raw student's BLEU, % of the teacher's")
    axis.set_ylabel("distillation gain, BLEU (distilled - raw)")
    axis.set_title("When distillation helps: gain against the student's strength")
    figure.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for suffix in ("png", "pdf"):
        path = out / f"study.{suffix}"
        figure.savefig(path, dpi=150)
        files.append(str(path))
    plt.close(figure)
    return files
