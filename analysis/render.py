"""Markdown from results: every committed table is rendered from its JSON by the renderer of its kind, so
``seqkd-report render --check docs/results`` shows that the current code re-makes each one (``make test`` runs
it through tests/test_render.py).

A result kind is known by its file name (``compare.json`` -> ``compare.md``, ...; :data:`RENDERERS`); each
renderer is the function its own command writes the table with, reading the JSON's fields only.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from analysis.confidence import markdown as confidence_markdown
from analysis.lost_words import markdown as lost_words_markdown
from analysis.lost_words import training_corpus
from analysis.multimodality import markdown as modes_markdown
from analysis.nat_diagnosis import markdown as nat_diagnosis_markdown
from analysis.study import markdown as study_markdown
from distill.card import card_markdown
from distill.io import InputError, atomic_open, read_json, write_json
from distill.lenpen import tuning_markdown
from distill.tables import markdown_table as write_table
from nat.compare import (
    comparison_markdown,
    gain_table,
    markdown_table,
    score_columns,
    student_precisions,
    student_run_dir,
    table_rows,
    training_loss_table,
)
from nat.systems import TEACHER_KIND, row_label


def tradeoff_markdown(result: dict) -> str:
    """complexity_vs_bleu.md (``seqkd-analysis tradeoff``): each training corpus's C(d), F(d), its teacher's valid
    BLEU and the student's test BLEU, with p against the first corpus."""
    points = result["points"]
    first = points[0]["corpus"]
    table = write_table(["training corpus", "its teacher's valid BLEU", "C(d) [bits]", "F(d) [bits]",
                         "student test BLEU", f"p vs {first}"],
                        ([p["corpus"], _or_dash(p["teacher_valid_bleu"], ".2f"), f"{p['complexity_bits']:.3f}",
                          _or_dash(p["faithfulness_bits"], ".3f"), f"{p['bleu']:.2f}", _or_dash(p["p_vs_first"], ".3f")]
                         for p in points))
    return (table + f"\n\nBLEU against {points[0]['reference']}: `{points[0]['bleu_signature']}`; p: sacrebleu paired "
            f"bootstrap (1,000 resamples) of each student against the one trained on {first}, two-sided.\n")


def _or_dash(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


QUICK_NOTE = [
    "## What this QUICK run shows, and what it does not", "",
    "It shows the mechanism of sequence-level distillation in minutes. Each source sentence of this synthetic "
    "corpus is translated into one of three target languages with disjoint vocabularies, chosen at random "
    "(Zhou et al. 2020's multi-target setting); nothing else is ambiguous. The autoregressive teacher commits to "
    "one language per sentence. A CTC student predicts every position independently: trained on the raw data it "
    "mixes languages within a sentence, trained on the teacher's outputs it mixes less (mode-mixing table below), "
    "and the BLEU table says what that is worth. Glancing training and autoregressive students are other ways out "
    "of the same problem; their rows say how far each gets here. BLEU is against the one reference that was "
    "sampled, so even a flawless output in another language scores nothing on that sentence: about a third of "
    "the sentences can match.", "",
    "It does not show how large the gain is on natural language, how close students come to the teacher on "
    "real data, or speed: the default run (bible-es-en, `make reproduce`) answers those.", ""]


def optional_json(path: Path) -> dict | None:
    """A study's results when it has run (None otherwise)."""
    return read_json(path) if path.is_file() else None


def _system(records: list[dict], student: str, data: str) -> dict | None:
    """A student's record of a lost-words or confidence result (by its ``system`` fields; of an AR student, its
    first decoding)."""
    return next((r for r in records if r.get("system", {}).get("student") == student and r["system"]["data"] == data),
                None)


def _which_distillation_claim(which: dict) -> str | None:
    """Kim & Rush (2016): Seq-Inter (and an ensemble teacher) beat SeqKD; with a paired bootstrap of each
    against the SeqKD student, seed by seed (``which``: the compare result of scripts/which_distillation.sh)."""
    from distill.corpus.directory import Corpus
    from distill.io import read_lines
    from nat.compare import paired_bootstrap

    primary = which["references"][0]
    references = Corpus.open(which["raw"]).references("test")
    records = {(r["system"], r["data"], r["seed"]): r for r in which["results"] if r["system"] != "teacher"}
    student = next(system for system, _, _ in records)
    parts = []
    for data in [d for d in dict.fromkeys(d for _, d, _ in records) if d not in ("raw", "distilled")]:
        seeds = [seed for system, d, seed in records if system == student and d == data]
        bleu = {(d, s): records[student, d, s]["scores"][primary]["bleu"] for d in (data, "distilled") for s in seeds}
        gains = [bleu[data, s] - bleu["distilled", s] for s in seeds]
        p_values = [paired_bootstrap(read_lines(records[student, "distilled", s]["hypotheses"]),
                                     read_lines(records[student, data, s]["hypotheses"]), references) for s in seeds]
        verdict = ("supported" if all(g > 0 for g in gains) and all(p < 0.01 for p in p_values) else
                   "not supported" if all(g <= 0 for g in gains) or all(p >= 0.01 for p in p_values) else "mixed")
        p_list = ", ".join(f"{p:.3f}" for p in p_values)
        parts.append(f"{data} - SeqKD {sum(gains) / len(gains):+.2f} BLEU (p {p_list}): {verdict}")
    if not parts:
        return None
    return (f"- **Seq-Inter and an ensemble teacher beat SeqKD** (Kim & Rush 2016; Freitag et al. 2017; "
            f"`which-distillation/`, {student}, seed "
            f"{', '.join(str(s) for s in sorted({s for _, _, s in records}))}): " + "; ".join(parts) + ".")


def _teacher_size_claim(sizes: dict) -> str | None:
    """Zhou et al. (2020, Fig. 4): a stronger teacher gives more complex data, and a small student does not
    always learn best from the strongest teacher (``sizes``: the tradeoff result of scripts/complexity_plots.sh)."""
    points = sorted((p for p in sizes["points"] if p["teacher_valid_bleu"] is not None),
                    key=lambda p: p["teacher_valid_bleu"])
    if len(points) < 2:
        return None
    rises = all(a["complexity_bits"] < b["complexity_bits"] for a, b in zip(points, points[1:]))
    first = sizes["points"][0]  # the students' baseline in the tradeoff table: the one trained on raw data
    steps = "; ".join(f"{p['corpus']}: valid BLEU {p['teacher_valid_bleu']:.2f}, C(d) {p['complexity_bits']:.3f} bits, "
                      f"student {p['bleu']:.2f} (p {p['p_vs_first']:.3f} vs {first['corpus']}, {first['bleu']:.2f})"
                      for p in points)
    best = max(points, key=lambda p: p["bleu"])
    return ("- **Stronger teachers give more complex data, and the strongest is not always the best teacher for a "
            f"small student** (Zhou et al. 2020, Fig. 4; `teacher-sizes/`, student BLEU against "
            f"{points[0]['reference']}), teachers from weakest to strongest: {steps}. C(d) "
            + ("rises with the teacher's BLEU; " if rises else "does not rise with the teacher's BLEU; ")
            + f"the best student learnt from the {best['corpus']}'s corpus"
            + (", the strongest." if best is points[-1] else ", not the strongest.")
            + (" Supported." if rises and best is not points[-1] else
               " Partly supported." if rises or best is not points[-1] else " Not supported."))


def what_distillation_does(compare: dict, complexity: list, lost: dict | None, confidence: dict | None,
                           which: dict | None = None, sizes: dict | None = None) -> list[str]:
    """The report's verdict on the literature's claims, each with this run's numbers."""
    primary = compare["references"][0]
    rows = [row for row in table_rows(compare) if row["system"] != "teacher"]
    headline = rows[0]["system"]  # the table's order is the command line's; the JSON's keys are sorted
    by_data = {row["data"]: row for row in rows if row["system"] == headline}
    raw_bleu, distilled_bleu = (by_data[d]["bleu"][primary]["mean"] for d in ("raw", "distilled"))
    significant = sum(p < 0.01 for p in by_data["distilled"]["p_value_vs_raw"])
    seeds = len(by_data["distilled"]["p_value_vs_raw"])
    final_losses: dict[str, list[float]] = {}
    for curve in compare["curves"]:
        if curve["student"] == headline and curve["points"] and curve["points"][-1].get("train_loss") is not None:
            final_losses.setdefault(curve["data"], []).append(curve["points"][-1]["train_loss"])
    losses = {data: sum(values) / len(values) for data, values in final_losses.items()}  # mean over seeds
    c_raw, c_distilled = complexity[0]["complexity_bits"], complexity[1]["complexity_bits"]
    simpler = c_distilled < c_raw and losses.get("distilled", 0) < losses.get("raw", 0)
    lines = ["## What distillation does", "", "Claims from the literature, each with this run's numbers "
             f"({headline}: the headline student; BLEU against {primary}):", "",
             f"- **Distilled data is simpler** (Zhou et al. 2020): C(d) {c_raw:.3f} -> {c_distilled:.3f} bits; the "
             f"{headline} student's final training loss {losses.get('raw', float('nan')):.3f} -> "
             f"{losses.get('distilled', float('nan')):.3f}. {'Supported' if simpler else 'Not supported'}.",
             f"- **The student learns more from distilled data** (Kim & Rush 2016; Gu et al. 2018): {headline} "
             f"{raw_bleu:.2f} -> {distilled_bleu:.2f} BLEU ({distilled_bleu - raw_bleu:+.2f}), p < 0.01 in "
             f"{significant} "
             f"of {seeds} seeds. " + ("Supported." if distilled_bleu > raw_bleu and significant == seeds else
                                      "Not supported by this run." if distilled_bleu <= raw_bleu or not significant
                                      else "Partly: not significant in every seed.")]
    if seeds > 1:
        spread = {d: by_data[d]["bleu"][primary]["sd"] for d in ("raw", "distilled")}
        lines.append(f"- **Distilled students are less stable** (a common claim): the sd of {headline}'s BLEU over "
                     f"{seeds} seeds is {spread['raw']:.2f} on raw and {spread['distilled']:.2f} on distilled data. "
                     + ("Supported." if spread["distilled"] > spread["raw"] else "Not supported."))
    for claim in (which and _which_distillation_claim(which), sizes and _teacher_size_claim(sizes)):
        lines += [claim] if claim else []
    if lost:
        corpus = training_corpus(lost, "distilled targets")
        recall = corpus["recall_by_source_frequency"]
        rare, frequent = lost["buckets"][1], lost["buckets"][-1]
        student = {d: _system(lost["test_outputs"], headline, d) for d in ("raw", "distilled")}
        if recall[rare]["recall"] is not None and all(student.values()):
            rare_student = {d: student[d]["recall_by_source_frequency"][rare]["recall"] for d in student}
            types = training_corpus(lost, "raw targets")["types"]
            corpus_loses = recall[rare]["recall"] < recall[frequent]["recall"] - 0.1 and corpus["types"] < types
            lines.append(
                f"- **Distillation loses rare words** (Ding et al. 2021): the distilled training targets keep "
                f"{recall[rare]['recall']:.0%} of the reference words aligned to source words seen {rare} times, "
                f"against {recall[frequent]['recall']:.0%} for source words seen {frequent} times, and have "
                f"{corpus['types']:,} word types against the raw targets' {types:,}. On the test set, {headline} "
                f"recalls {rare_student['raw']:.1%} (raw) and {rare_student['distilled']:.1%} (distilled) of the "
                f"rare words. " + ("Supported for the corpus; " if corpus_loses else "Not supported for the corpus; ")
                + ("visible in the student." if rare_student["distilled"] < rare_student["raw"] - 0.01
                   else "not visible in the student."))
    if confidence:
        pairs = {s: (_system(confidence["systems"], s, "raw"), _system(confidence["systems"], s, "distilled"))
                 for s in dict.fromkeys(row["system"] for row in rows)}
        pairs = {s: p for s, p in pairs.items() if all(p)}
        if pairs:
            parts = [f"{s}: entropy {raw['all_positions']['mean_entropy_bits']:.2f} -> "
                     f"{distilled['all_positions']['mean_entropy_bits']:.2f} bits, ECE "
                     f"{raw['all_positions']['ece']:.3f} "
                     f"-> {distilled['all_positions']['ece']:.3f}" for s, (raw, distilled) in pairs.items()]
            confident = all(d["all_positions"]["mean_entropy_bits"] < r["all_positions"]["mean_entropy_bits"]
                            for r, d in pairs.values())
            worse = all(d["all_positions"]["ece"] > r["all_positions"]["ece"] for r, d in pairs.values())
            lines.append("- **Distilled students are more confident** (teacher forcing on the test references): "
                         + "; ".join(parts) + ". " + ("Supported" if confident else "Not supported for every student")
                         + (", and they are worse calibrated against the human references." if worse else "."))
    return lines + [""]


def run_names(compare: dict) -> list[str]:
    """The student runs of a comparison (their directory names), in the order of its results."""
    return [run.name for run in dict.fromkeys(student_run_dir(Path(), record["system"], record["data"], record["seed"])
                                              for record in compare["results"] if record["system"] != TEACHER_KIND)]


BLEU_FIGURE, CURVES_FIGURE = "bleu.png", "curves.png"
COMPLEXITY_FIGURE = "complexity.png"  # seqkd-analysis complexity --out <report>/complexity


# the analyses the main job writes beside its report (seqkd-reproduce main), and the studies that write there
ANALYSES = {"modes": "modes/mode_mixing.json",
            "lost": "lost-words/lost_words.json", "confidence": "confidence/confidence.json",
            "sizes": "teacher-sizes/complexity_vs_bleu.json", "which": "which-distillation/compare.json"}


def render_report(results: dict, out: Path) -> str:
    """REPORT.md from results.json and the analyses' JSON files in ``out`` (:data:`ANALYSES`): the same text
    from the same files, whenever it is rendered (``seqkd-report render --check``)."""
    analyses = {key: optional_json(out / path) for key, path in ANALYSES.items()}
    compare, teacher, machine = results["comparison"], results["teacher"], results["machine"]
    complexity = results["complexity"]
    modes, lost, confidence, sizes = (analyses[key] for key in ("modes", "lost", "confidence", "sizes"))
    cost, config = results["distillation"]["teacher_cost"], results["distillation"]["config"]
    quality, teacher_scores = results["distillation"]["train_targets_vs_references"], teacher["test_scores"]
    columns = score_columns(compare)
    processor = f"{machine['processor']}, " if machine.get("processor") else ""
    lines = [f"# SeqKD for non-autoregressive students: {results['name']}", "",
             f"Generated {results['date']} by `scripts/reproduce_nat_distillation.sh` on {machine['platform']}, "
             f"{processor}{machine['cpu_cores']} CPU cores, {machine['memory_gib']} GiB (device: {teacher['device']}). "
             "Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()) + ".", "",
             f"Corpus `{results['corpus_name']}`: " + ", ".join(f"{v:,} {k}" for k, v in results["corpus"].items())
             + f" pairs. Teacher preset `{teacher['preset']}` (layers "
               f"{teacher['model']['layers']}+{teacher['model']['layers']}, "
               f"d={teacher['model']['embed_dim']}, {teacher['settings']['max_update']} updates); student preset "
               f"`{compare['preset']}`. Training precision (docs/design.md): teacher {teacher['precision']}, students "
               f"{' and '.join(student_precisions(compare)) or 'fp32'}.", "",
             *(QUICK_NOTE if results["quick"] else []),
             "## Raw vs distilled (test set)", "", markdown_table(compare), f"![BLEU]({BLEU_FIGURE})", "",
             "## Distillation gain", "", gain_table(compare), "",
             "## Learning curves (validation set)", "",
             f"Validation BLEU ({compare['references'][0]}) at every interval checkpoint of every run, one line per "
             "seed, against updates (top) and training minutes (middle: a run trained beside another shares the CPU "
             "with it, so its minutes are longer than alone); dashed: the teacher (beam 5). Bottom: the training loss "
             "on each run's own targets.", "",
             f"![learning curves]({CURVES_FIGURE})", "", training_loss_table(compare), "",
             "## Teacher and distilled corpus", "",
             write_table(["", *(f"BLEU {k}" for k in columns)],
                         [["teacher on test (beam 5)", *(f"{teacher_scores[k]['bleu']:.2f}" for k in columns)],
                          ["distilled train targets vs human references",
                           *(f"{quality[k]['bleu']:.2f}" if k in quality else "" for k in columns)]]),
             "", f"Regeneration ({config.get('backend', 'fairseq')} backend, {config['decoding']['beam']}-beam): "
                 f"{cost['sentences']:,} sentences, {cost['wall_seconds']:.0f} s wall, "
                 f"{1000 * cost['cpu_seconds_per_sentence']:.1f} ms CPU per sentence.",
             "", "## Corpus complexity and faithfulness (Zhou et al. 2020)", "",
             write_table(["corpus", "C(d) bits", "F(d) vs raw, bits", "avg target length", "reordering"],
                         ([corpus.get("name", Path(corpus["corpus"]).name), f"{corpus['complexity_bits']:.3f}",
                           _or_empty(corpus.get("faithfulness_bits_vs_first"), ".3f"),
                           f"{corpus['avg_target_length']:.1f}", f"{corpus['reordering']:.3f}"]
                          for corpus in complexity)),
             "", f"![complexity](complexity/{COMPLEXITY_FIGURE})", ""]
    if modes:
        lines += ["## Mode mixing (test set)", "", "Share of output sentences whose tokens come from more than one of "
                  f"the corpus's {len(modes['modes'])} target languages (Zhou et al. 2020, sec. 3):", "",
                  write_table(["system", "mode-mixing rate", "mean majority share"],
                              ([row_label(system), f"{system['mode_mixing_rate']:.1%}",
                                f"{system['mean_majority_share']:.3f}"] for system in modes["systems"])),
                  "", f"![mode mixing](modes/{Path(modes['figures'][0]).name})", ""]
    if lost:
        lines += ["## What is lost (Ding et al. 2021)", "", lost_words_markdown(lost).rstrip(), "",
                  f"![what is lost](lost-words/{Path(lost['figures'][0]).name})", ""]
    if confidence:
        lines += ["## Confidence and calibration", "", confidence_markdown(confidence).rstrip(), "",
                  f"![confidence](confidence/{Path(confidence['figures'][0]).name})", ""]
    if sizes:
        lines += ["## Teacher size (Zhou et al. 2020, Fig. 4)", "",
                  "The headline student, trained once on each corpus, distilled by AR teachers of several sizes "
                  "(`scripts/complexity_plots.sh`). Every teacher has the teacher preset's schedule, time cap "
                  "included, so a larger teacher sees fewer epochs: the table answers which teacher suits this "
                  "budget.", "", tradeoff_markdown(sizes).rstrip(), "",
                  f"![teacher size](teacher-sizes/{Path(sizes['figures'][0]).name})", ""]
    lines += what_distillation_does(compare, complexity, lost, confidence, analyses["which"], sizes)
    compute, training = results["compute_seconds"], results["student_train_wall_seconds"]
    training = {run: training[run] for run in run_names(compare)}  # in table order (the JSON's keys are sorted)
    steps = [("teacher training", compute["teacher_training"]), ("SeqKD regeneration", compute["regeneration"]),
             (f"student training ({len(training)} runs; runs side by side count once)", compute["student_training"])]
    lines += ["## Time", "", "Recorded in the runs (training: the times of each run's log lines, over all the "
              "sittings it took), so a job spread over several invocations still adds up what its training cost:", "",
              write_table(["step", "minutes"], [*([step, f"{seconds / 60:.1f}"] for step, seconds in steps),
                                                 ["total of these", f"{sum(s for _, s in steps) / 60:.1f}"]]), "",
              "Per student run (minutes): " + ", ".join(f"{run} {s / 60:.1f}" for run, s in training.items()) + ".", "",
              "Wall time of the invocation that wrote this report (steps finished earlier are skipped "
              "in seconds; evaluation and duration extraction are inside `students`):", "",
              write_table(["step", "seconds"], ([t["step"], t["seconds"]] for t in results["timings"])),
              "", "## Commands", "", "Re-running these reproduces the numbers above (seeds are fixed; eflomal's "
              "alignments are unseeded, so C(d)/F(d) vary in the second decimal). To check a re-run made with "
              "other DATA/RUNS/RESULTS: `seqkd-report check --expected results.json --actual "
              "<re-run>/results.json`.", "", "```", *results["commands"], "```", ""]
    return "\n".join(lines)


def _or_empty(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def bench_markdown(report: dict) -> str:
    """bench.md (``seqkd-bench run``, ``seqkd-bench render``)."""
    gpu = ", " + report["machine"]["gpu"] if "gpu" in report["machine"] else ""
    machine = report["machine"]
    lines = [f"Measured {report['date']} on {machine['platform']} ({machine['cpu_threads']} threads, "
             f"device {machine['device']}{gpu}); medians of {report['repeats']} runs"
             + ("; the sections added later say when and where they were measured." if "sections_added" in report
                else "."), ""]
    if "decoding" in report:
        decoding = report["decoding"]
        primary = decoding["reference"]
        # a section measured on its own (--add-to-existing) says when, where, and which runs it measured
        measured = (f"; measured {decoding['date']} on {decoding['machine']['processor']}, "
                    f"{decoding['machine']['cpu_threads']} threads" if "date" in decoding else "")
        students = (", ".join(f"{student} `{'/'.join(Path(run).parts[-2:])}`"
                              for student, run in decoding["student_runs"].items())
                    if "student_runs" in decoding else f"from `{decoding['students']}`")
        lines += [f"### Decoding ({decoding['test_sentences']} test sentences of {Path(decoding['corpus']).name}; "
                  f"batch size 1 on the first {decoding['latency_sentences']}; teacher "
                  f"`{Path(decoding.get('teacher', report['teacher'])).name}`, students {students}{measured})", "",
                  "Speedups against the teacher in fairseq at beam 5 with as many threads (batch size 1: ratio of "
                  "median latencies). Memory: peak resident memory of the process that loaded and ran the system "
                  "(libraries and model included).", "",
                  write_table(["system", "threads", f"sent/s (batch {decoding['max_tokens']} tokens)", "speedup",
                               "p50 ms (batch size 1)", "p90 ms", "speedup", "vs CTranslate2 int8 greedy", "peak MiB",
                               f"BLEU ({primary})"],
                              ([row["system"], row["threads"], f"{row['batch_sentences_per_second']:.1f}",
                                f"{row['speedup_batch']:.1f}x", f"{row['bs1_p50_ms']:.1f}", f"{row['bs1_p90_ms']:.1f}",
                                f"{row['speedup_bs1']:.1f}x", f"{row['speedup_bs1_vs_ct2_greedy']:.2f}x",
                                f"{row['peak_mib']:.0f}", f"{row['scores'][primary]['bleu']:.2f}"]
                               for row in sorted(decoding["rows"], key=lambda r: -r["threads"])))]
        lines += ["", "Lean path vs fairseq's path, identical output lines (float32): "
                  + ", ".join(f"{student} {c['identical']:,} of {c['sentences']:,}"
                              for student, c in decoding["lean_identical"].items()) + "."]
        shortlists = {row["system"]: row["shortlist"] for row in decoding["rows"] if "shortlist" in row}
        if shortlists:
            lines += ["", "Vocabulary shortlists (per sentence: the top pieces eflomal aligns to each source piece "
                      "in the training corpus, plus the most frequent and the specials): "
                      + "; ".join(f"{system}: top {s['top']}, {s['always']} always, {s['mean_size']:.0f} of "
                                  f"{s['dictionary']:,} pieces on average, hit rate {100 * s['hit_rate']:.1f} % of "
                                  "the reference's pieces" for system, s in shortlists.items()) + "."]
        lines += ["",
                  f"![speed and quality]({decoding['figure']})", "",
                  f"sacrebleu: {decoding['rows'][0]['scores'][primary]['bleu_signature']}", ""]
    if "regeneration" in report:
        regeneration = report["regeneration"]
        primary = regeneration["reference"]
        lines += [f"### Teacher regeneration ({regeneration['sentences']} training sources of "
                  f"{Path(regeneration['corpus']).name}, beam 5, {regeneration['threads']} threads; teacher "
                  f"`{regeneration['teacher']}`)", "",
                  write_table(["backend", "sent/s", "speedup", f"BLEU ({primary})", "BLEU delta",
                               "outputs identical to fairseq"],
                              ([row["backend"], f"{row['sentences_per_second']:.1f}", f"{row['speedup']:.1f}x",
                                f"{row['scores'][primary]['bleu']:.2f}", f"{row['bleu_delta']:+.2f}",
                                f"{100 * row['identical_outputs_share']:.1f} %"] for row in regeneration["rows"])),
                  ""]
    if "analysis" in report:
        analysis = report["analysis"]
        lines += ["### Analysis", "", f"Complexity + statistics (eflomal included) of {analysis['pairs']:,} synthetic "
                  f"pairs: {analysis['analysis_seconds']:.0f} s ({analysis['pairs_per_second']:,.0f} pairs/s), "
                  f"peak memory {analysis['peak_memory_mib']:,.0f} MiB.", ""]
    if "training" in report:
        training = report["training"]
        machine = training["machine"]
        lines += [f"### Training throughput, fp32 and bf16 ({Path(training['corpus']).name}, the cpu preset's "
                  f"4,096-token batches, {training['threads']} thread{'s' if training['threads'] > 1 else ''} per run; "
                  f"measured {training['date']} on "
                  f"{machine['processor']}, bf16 through {training['cpu_bf16_feature'] or 'no hardware support'})", "",
                  f"fairseq's target tokens per second, median over the log intervals of {training['repeats']} runs of "
                  f"{training['updates_per_run']} updates per precision (the first interval of each run left out); "
                  "fp32 and bf16 runs alternate, so the ratio is side by side. Sizes: `distill/teacher.py` "
                  "MODEL_SIZES.", "",
                  write_table(["model", "size", "fp32 tokens/s", "bf16 tokens/s", "bf16 / fp32"],
                              (["AR teacher" if row["model"] == TEACHER_KIND else row["model"], row["size"],
                                f"{row['fp32_tokens_per_second']:,.0f}", f"{row['bf16_tokens_per_second']:,.0f}",
                                f"{row['bf16_speedup']:.2f}x"] for row in training["rows"])), ""]
    lines += ["### Targets", "",
              write_table(["target", "wanted", "measured", "met"],
                          ([t["name"], t["wanted"], t["measured"], "yes" if t["met"] else f"no ({t['gap']})"]
                           for t in report["targets"]))]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Renderer:
    """``pattern``: the JSON files of this kind (a file-name glob); ``markdown``: the Markdown file it renders,
    beside the JSON (``{stem}``: the JSON's stem); ``render``: (the JSON's content, its path) -> the text."""

    pattern: str
    markdown: str
    render: Callable[[dict, Path], str]


RENDERERS = (
    Renderer("compare*.json", "{stem}.md", lambda result, path: comparison_markdown(result)),
    Renderer("lost_words.json", "lost_words.md", lambda result, path: lost_words_markdown(result)),
    Renderer("confidence.json", "confidence.md", lambda result, path: confidence_markdown(result)),
    Renderer("mode_mixing.json", "mode_mixing.md", lambda result, path: modes_markdown(result)),
    Renderer("complexity_vs_bleu.json", "complexity_vs_bleu.md", lambda result, path: tradeoff_markdown(result)),
    Renderer("bench.json", "bench.md", lambda result, path: bench_markdown(result)),
    Renderer("nat_diagnosis.json", "nat_diagnosis.md", lambda result, path: nat_diagnosis_markdown(result)),
    Renderer("study.json", "study.md", lambda result, path: study_markdown(result)),
    Renderer("lenpen.json", "lenpen.md", lambda result, path: tuning_markdown(result)),
    Renderer("card.json", "CARD.md", lambda result, path: card_markdown(result)),
    Renderer("results.json", "REPORT.md", lambda result, path: render_report(result, path.parent)),
)


def renderer_of(path: Path) -> tuple[Path, Renderer] | None:
    """The Markdown file and the renderer of a result's JSON file (None: no kind of result has that name)."""
    renderer = next((r for r in RENDERERS if fnmatch.fnmatch(path.name, r.pattern)), None)
    return (path.with_name(renderer.markdown.format(stem=path.stem)), renderer) if renderer else None


def renderings(root: Path) -> list[tuple[Path, Path, Renderer]]:
    """(JSON, its Markdown, the renderer) of every result under ``root`` (a directory or one JSON file)."""
    files = [root] if root.is_file() else sorted(root.rglob("*.json"))
    return [(path, *found) for path in files if (found := renderer_of(path))]


def write_result(path: Path, result: dict) -> dict:
    """A result's JSON file, then its Markdown beside it, rendered from the file as written by the renderer of
    its kind: the text ``seqkd-report render`` gives it again. Returns the result as read back."""
    write_json(path, result)
    result = read_json(path)
    markdown, renderer = renderer_of(path)
    with atomic_open(markdown) as handle:
        handle.write(renderer.render(result, path))
    return result


def run_render(args) -> None:
    """``seqkd-report render PATH... [--check]``: each result's Markdown again from its JSON."""
    differ, count = [], 0
    for root in map(Path, args.paths):
        if not root.exists():
            raise InputError(f"{root}: no such file or directory")
        for path, markdown, renderer in renderings(root):
            count += 1
            text = renderer.render(read_json(path), path)
            if not args.check:
                with atomic_open(markdown) as handle:
                    handle.write(text)
            elif not markdown.is_file() or markdown.read_text(encoding="utf-8") != text:
                differ.append(markdown)
                print(f"DIFFERENT: {markdown} (rendered again from {path.name})")
    if args.check and differ:
        raise InputError(f"{len(differ)} of {count} Markdown files differ from what their JSON renders to; "
                         "run `seqkd-report render` on them and commit the result (or fix the renderer)")
    print(f"{count} Markdown files {'match their JSON' if args.check else 'rendered from their JSON'}")
