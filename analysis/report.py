"""Write results/<name>/REPORT.md and results.json from a finished reproduce_nat_distillation.sh run
(``write``), check that a re-run reproduced them (``check``), and write the README's results from the
committed reports (``readme``).

Everything in the report is read from the run's own outputs (manifests, compare.json,
complexity.json, timings.tsv, commands.sh); nothing is typed in by hand.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

from distill.corpus.directory import Corpus, library_versions
from distill.engine import busy_seconds, read_run_manifest
from distill.io import InputError, atomic_open, dispatch, read_json, write_json
from nat.compare import (
    gain_table,
    markdown_table,
    score_columns,
    student_precisions,
    student_run_dir,
    table_rows,
    training_loss_table,
)
from nat.curves import plot_curves


def _machine() -> dict:
    from distill.precision import cpu_bf16_feature, cpu_model

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"platform": platform.platform(), "processor": cpu_model() or platform.machine(),
            "cpu_bf16": cpu_bf16_feature(), "cpu_cores": len(os.sched_getaffinity(0)),
            "memory_gib": round(memory, 1), "python": platform.python_version()}


def _bleu_figure(compare: dict, out: Path) -> str:
    """Grouped bars: each student's BLEU on raw vs distilled data (mean ± sd), teacher as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    column = score_columns(compare)[-1]  # all references together
    table = table_rows(compare)
    teacher = next(row for row in table if row["system"] == "teacher")["bleu"][column]["mean"]
    rows = {(row["system"], row["decoding"], row["data"]): row for row in table if row["system"] != "teacher"}
    systems = list(dict.fromkeys((system, decoding) for system, decoding, _ in rows))
    figure, axis = plt.subplots(figsize=(max(6.5, 1.3 * len(systems)), 4))
    width = 0.38
    for offset, data, color in ((-width / 2, "raw", "tab:gray"), (width / 2, "distilled", "tab:blue")):
        bars = [rows[(system, decoding, data)]["bleu"][column] for system, decoding in systems]
        axis.bar([i + offset for i in range(len(systems))], [b["mean"] for b in bars], width,
                 yerr=[b["sd"] for b in bars], capsize=3, color=color, label=f"trained on {data} data")
    axis.axhline(teacher, color="tab:red", linestyle="--", label=f"AR teacher (beam 5): {teacher:.1f}")
    axis.set_xticks(range(len(systems)), [f"{system}\n{decoding}" for system, decoding in systems], fontsize=8)
    axis.set_ylabel(f"test BLEU ({column})")
    axis.set_title("Students on raw vs SeqKD data (mean ± sd over seeds)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    path = out / "bleu.png"
    figure.savefig(path, dpi=130)
    figure.savefig(path.with_suffix(".pdf"))
    plt.close(figure)
    return path.name


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


def _training_seconds(run_dir) -> float:
    """A finished run's training time over all its invocations, as its manifest records it (so a main
    job spread over several sittings reports what its training cost, not only the last sitting)."""
    seconds = read_run_manifest(run_dir).get("train_wall_seconds")
    if seconds is None:
        raise InputError(f"{Path(run_dir) / 'manifest.json'}: no train_wall_seconds (its train.log has no "
                         f"timed fairseq line); retrain {run_dir} to measure it")
    return seconds


def _optional_json(path: Path) -> dict | None:
    """A study's results when it has run (None otherwise)."""
    return read_json(path) if path.is_file() else None


def _system(results: dict, student: str, data: str) -> dict | None:
    """A student's entry of a lost-words or confidence result (by its ``system`` fields; of an AR student, its first
    decoding)."""
    return next((r for r in results.values()
                 if r.get("system", {}).get("student") == student and r["system"]["data"] == data), None)


def _which_distillation_claim(which: dict) -> str | None:
    """Kim & Rush (2016): Seq-Inter (and an ensemble teacher) beat SeqKD; with a paired bootstrap of each
    against the SeqKD student, seed by seed (``which``: the compare result of scripts/which_distillation.sh)."""
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
        gains = [bleu[data, s] - bleu["distilled", s]
                 for s in seeds]
        p_values = [paired_bootstrap(read_lines(records[student, "distilled", s]["hypotheses"]),
                                     read_lines(records[student, data, s]["hypotheses"]), references) for s in seeds]
        verdict = ("supported" if all(g > 0 for g in gains) and all(p < 0.01 for p in p_values) else
                   "not supported" if all(g <= 0 for g in gains) or all(p >= 0.01 for p in p_values) else "mixed")
        parts.append(f"{data} - SeqKD {sum(gains) / len(gains):+.2f} BLEU (p "
                     f"{', '.join(f'{p:.3f}' for p in p_values)}): "
                     f"{verdict}")
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
    return (f"- **Stronger teachers give more complex data, and the strongest is not always the best teacher for a "
            f"small "
            f"student** (Zhou et al. 2020, Fig. 4; `teacher-sizes/`, student BLEU against {points[0]['reference']}), "
            f"teachers from weakest to strongest: {steps}. C(d) "
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
        corpus = lost["training_corpus"]["distilled targets"]
        recall = corpus["recall_by_source_frequency"]
        rare, frequent = lost["buckets"][1], lost["buckets"][-1]
        student = {d: _system(lost["test_outputs"], headline, d) for d in ("raw", "distilled")}
        if recall[rare]["recall"] is not None and all(student.values()):
            rare_student = {d: student[d]["recall_by_source_frequency"][rare]["recall"] for d in student}
            types = lost["training_corpus"]["raw targets"]["types"]
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


def run_report(args) -> None:
    """``seqkd-report write``: a report from a finished run's outputs, with the timings and commands that the
    main job (``seqkd-reproduce main``) wrote into ``--out``."""
    out = Path(args.out)
    for name in ("timings.tsv", "commands.sh"):
        if not (out / name).is_file():
            raise InputError(f"{out / name}: missing; the main job writes it (seqkd-reproduce main)")
    timings = [(name, int(seconds)) for name, seconds in
               (line.split("\t") for line in (out / "timings.tsv").read_text().splitlines() if line)]
    commands = (out / "commands.sh").read_text().splitlines()
    write_report(name=args.name, teacher=args.teacher, raw=args.raw, distilled=args.distilled, students=args.students,
                 out=out, quick=args.quick, timings=timings, commands=commands)


def write_report(*, name: str, teacher, raw, distilled, students, out, quick: bool, timings: list[tuple[str, int]],
                 commands: list[str]) -> None:
    """REPORT.md, results.json, the figures, timings.tsv and commands.sh in ``out``, read from the run's outputs:
    the teacher's manifest, the raw and distilled corpora, ``students``/compare.json and the analyses in ``out``;
    ``timings``: (step, wall seconds) of the invocation, ``commands``: its command lines."""
    out, teacher_dir, students_dir = Path(out), Path(teacher), Path(students)
    with atomic_open(out / "timings.tsv") as handle:
        handle.write("".join(f"{step}\t{seconds}\n" for step, seconds in timings))
    with atomic_open(out / "commands.sh") as handle:
        handle.write("".join(f"{command}\n" for command in commands))
    compare_path = students_dir / "compare.json"
    if not compare_path.is_file():
        raise InputError(f"{compare_path}: missing; run seqkd-nat compare "
                         "(scripts/reproduce_nat_distillation.sh) first")
    compare = read_json(compare_path)
    complexity = read_json(out / "complexity" / "complexity.json")
    modes = _optional_json(out / "modes" / "mode_mixing.json")  # written for a multi-target corpus only
    lost = _optional_json(out / "lost-words" / "lost_words.json")
    confidence = _optional_json(out / "confidence" / "confidence.json")
    sizes = _optional_json(out / "teacher-sizes" / "complexity_vs_bleu.json")  # scripts/complexity_plots.sh
    teacher = read_run_manifest(teacher_dir)
    distilled = Corpus.open(distilled)
    raw = Corpus.open(raw)
    commands = "".join(f"{command}\n" for command in commands)
    runs = list(dict.fromkeys(student_run_dir(students_dir, record["system"], record["data"], record["seed"])
                              for record in compare["results"] if record["system"] != "teacher"))
    training = {run.name: _training_seconds(run) for run in runs}
    busy = busy_seconds([Path(run) / "train.log" for run in runs])
    teacher_training = _training_seconds(teacher_dir)
    teacher_scores = next(record for record in compare["results"] if record["system"] == "teacher")["scores"]
    cost = distilled.manifest["distillation"]["teacher_cost"]
    compute = {"teacher training": teacher_training, "SeqKD regeneration": cost["wall_seconds"],
               f"student training ({len(training)} runs; runs side by side count once)": busy}
    quality = distilled.manifest["distillation"]["distilled_targets_vs_references"]["train"]
    figure = _bleu_figure(compare, out)
    curves = plot_curves(compare["curves"], out / "curves.png", compare["teacher_valid_bleu"]).name
    results = {"name": name, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": _machine(), "versions": library_versions(), "corpus": raw.manifest["counts"],
               "teacher": {"settings": teacher["settings"], "model": teacher["model"],
                           "precision": teacher["precision"],
                           "train_wall_seconds": teacher_training,
                           "test_scores": teacher_scores},
               "distillation": {"config": distilled.manifest["config"], "teacher_cost": cost,
                                "train_targets_vs_references": quality},
               "comparison": compare, "complexity": complexity["corpora"],
               "mode_mixing": modes and {name: {k: v for k, v in system.items() if k != "shares"}
                                         for name, system in modes["systems"].items()},
                                         "timings_seconds": dict(timings),
               "compute_seconds": compute, "student_train_wall_seconds": training, "commands": commands.splitlines()}
    write_json(out / "results.json", results)

    machine = results["machine"]
    columns = score_columns(compare)
    lines = [f"# SeqKD for non-autoregressive students: {name}", "",
             f"Generated {results['date']} by `scripts/reproduce_nat_distillation.sh` on {machine['platform']}, "
             f"{machine['processor']}, {machine['cpu_cores']} CPU cores, {machine['memory_gib']} GiB "
             f"(device: {teacher['device']}). Versions: "
             + ", ".join(f"{k} {v}" for k, v in results["versions"].items()) + ".", "",
             f"Corpus `{raw.path.name}`: " + ", ".join(f"{v:,} {k}" for k, v in raw.manifest["counts"].items())
             + f" pairs. Teacher preset `{teacher['preset']}` (layers "
               f"{teacher['model']['layers']}+{teacher['model']['layers']}, "
               f"d={teacher['model']['embed_dim']}, {teacher['settings']['max_update']} updates); student preset "
               f"`{compare['preset']}`. Training precision (docs/design.md): teacher {teacher['precision']}, students "
               f"{' and '.join(student_precisions(compare)) or 'fp32'}.", "",
             *(QUICK_NOTE if quick else []),
             "## Raw vs distilled (test set)", "", markdown_table(compare), f"![BLEU]({figure})", "",
             "## Distillation gain", "", gain_table(compare), "",
             "## Learning curves (validation set)", "",
             f"Validation BLEU ({compare['references'][0]}) at every interval checkpoint of every run, one line per "
             "seed, against updates (top) and training minutes (middle: a run trained beside another shares the CPU "
             "with it, so its minutes are longer than alone); dashed: the teacher (beam 5). Bottom: the training loss "
             "on each run's own targets.", "",
             f"![learning curves]({curves})", "", training_loss_table(compare), "",
             "## Teacher and distilled corpus", "",
             "| | " + " | ".join(f"BLEU {k}" for k in columns) + " |", "|---|" + "---|" * len(columns),
             "| teacher on test (beam 5) | " + " | ".join(f"{teacher_scores[k]['bleu']:.2f}" for k in columns) + " |",
             "| distilled train targets vs human references | "
             + " | ".join(f"{quality[k]['bleu']:.2f}" if k in quality else "" for k in columns) + " |",
             "", f"Regeneration ({distilled.manifest['config'].get('backend', 'fairseq')} backend, "
                 f"{distilled.manifest['config']['decoding']['beam']}-beam): {cost['sentences']:,} sentences, "
                 f"{cost['wall_seconds']:.0f} s wall, {1000 * cost['cpu_seconds_per_sentence']:.1f} ms CPU per "
                 f"sentence.",
             "", "## Corpus complexity and faithfulness (Zhou et al. 2020)", "",
             "| corpus | C(d) bits | F(d) vs raw, bits | avg target length | reordering |", "|---|---|---|---|---|"]
    for corpus in complexity["corpora"]:
        faithfulness = corpus.get("faithfulness_bits_vs_first")
        lines.append(f"| {corpus.get('name', Path(corpus['corpus']).name)} | {corpus['complexity_bits']:.3f} | "
                     f"{'' if faithfulness is None else f'{faithfulness:.3f}'} | {corpus['avg_target_length']:.1f} | "
                     f"{corpus['reordering']:.3f} |")
    lines += ["", f"![complexity](complexity/{Path(complexity['figures'][0]).name})", ""]
    if modes:
        lines += ["## Mode mixing (test set)", "", "Share of output sentences whose tokens come from more than one of "
                  f"the corpus's {len(modes['modes'])} target languages (Zhou et al. 2020, sec. 3):", "",
                  "| system | mode-mixing rate | mean majority share |", "|---|---|---|"]
        lines += [f"| {name} | {system['mode_mixing_rate']:.1%} | {system['mean_majority_share']:.3f} |"
                  for name, system in modes["systems"].items()]
        lines += ["", f"![mode mixing](modes/{Path(modes['figures'][0]).name})", ""]
    if lost:
        lines += ["## What is lost (Ding et al. 2021)", "",
                  (out / "lost-words" / "lost_words.md").read_text().rstrip(), "",
                  f"![what is lost](lost-words/{Path(lost['figures'][0]).name})", ""]
    if confidence:
        lines += ["## Confidence and calibration", "", (out / "confidence" / "confidence.md").read_text().rstrip(), "",
                  f"![confidence](confidence/{Path(confidence['figures'][0]).name})", ""]
    if sizes:
        lines += ["## Teacher size (Zhou et al. 2020, Fig. 4)", "",
                  "The headline student, trained once on each corpus, distilled by AR teachers of several sizes "
                  "(`scripts/complexity_plots.sh`). Every teacher has the teacher preset's schedule, time cap "
                  "included, "
                  "so a larger teacher sees fewer epochs: the table answers which teacher suits this budget.", "",
                  (out / "teacher-sizes" / "complexity_vs_bleu.md").read_text().rstrip(), "",
                  f"![teacher size](teacher-sizes/{Path(sizes['figures'][0]).name})", ""]
    lines += what_distillation_does(compare, complexity["corpora"], lost, confidence,
                                    # which_distillation.sh
                                    _optional_json(out / "which-distillation" / "compare.json"),
                                    sizes)
    lines += [
              "## Time", "", "Recorded in the runs (training: the times of each run's log lines, over all the "
              "sittings it took), so a job spread over several invocations still adds up what its training cost:", "",
              "| step | minutes |", "|---|---|"] + [f"| {name} | {seconds / 60:.1f} |" for name,
                                                    seconds in compute.items()]
    lines += [f"| total of these | {sum(compute.values()) / 60:.1f} |", "",
              "Per student run (minutes): " + ", ".join(f"{name} {seconds / 60:.1f}" for name,
                                                        seconds in training.items())
              + ".", "", "Wall time of the invocation that wrote this report (steps finished earlier are skipped "
              "in seconds; evaluation and duration extraction are inside `students`):", "",
              "| step | seconds |", "|---|---|"] + [f"| {name} | {seconds} |" for name, seconds in timings]
    lines += ["", "## Commands", "", "Re-running these reproduces the numbers above (seeds are fixed; eflomal's "
              "alignments are unseeded, so C(d)/F(d) vary in the second decimal). To check a re-run made with "
              "other DATA/RUNS/RESULTS: `seqkd-report check --expected results.json --actual "
              "<re-run>/results.json`.", "", "```", commands.rstrip(), "```", ""]
    with atomic_open(out / "REPORT.md") as handle:
        handle.write("\n".join(lines))
    print(f"report: {out / 'REPORT.md'}\nresults: {out / 'results.json'}\nfigures: {out / figure}, {out / curves}, "
          f"{out / 'complexity'}/")


def reported_numbers(results: dict) -> dict[str, float]:
    """The report's quality numbers by name (times and speedups are left out: they belong to the machine)."""
    numbers = {f"teacher test BLEU {ref}": score["bleu"] for ref, score in results["teacher"]["test_scores"].items()}
    numbers |= {f"distilled train targets BLEU {ref}": score["bleu"]
                for ref, score in results["distillation"]["train_targets_vs_references"].items()}
    for record in results["comparison"]["results"]:
        if record["system"] == "teacher":
            continue
        name = f"{record['system']} {record['data']} {record['decoding']}"
        numbers |= {f"{name} BLEU {ref} seed {record['seed']}": score["bleu"] for ref,
                    score in record["scores"].items()}
        if "p_value_vs_raw" in record:
            numbers[f"{name} p seed {record['seed']}"] = record["p_value_vs_raw"]
    for corpus in results["complexity"]:
        name = corpus.get("name", Path(corpus["corpus"]).name)
        numbers[f"C(d) {name}"] = corpus["complexity_bits"]
        if corpus.get("faithfulness_bits_vs_first") is not None:
            numbers[f"F(d) {name}"] = corpus["faithfulness_bits_vs_first"]
    return numbers


# eflomal (C(d), F(d)) takes no seed: its alignments, and so these measures, vary between runs
TOLERANCE = {"C(d)": 0.1, "F(d)": 0.1}
# On the CPU model and library versions a report names, a re-run gives every BLEU and p exactly (QUICK=1,
# measured twice). Another CPU does other float arithmetic (its vector units sum in another order) and
# training amplifies it: QUICK=1 with every library held to AVX2 code paths moved BLEU by up to 4.52 (the
# distilled targets), p from 0.09 to 0.001 and C(d) by 0.13 (docs/design.md, "Checking the committed QUICK
# report"), more than a stale report moved (2.54). So another CPU is held only to a wide tolerance, which
# catches a broken pipeline (a student that stops learning loses 20 BLEU and more), not a stale report.
CROSS_CPU_TOLERANCE = {"BLEU": 10.0, "p": 1.0, "C(d)": 0.3, "F(d)": 0.3}


def _kind(name: str) -> str:
    """Which tolerance a reported number takes: C(d), F(d), BLEU or p."""
    first = name.split()[0]
    return first if first in TOLERANCE else ("p" if " p seed " in name else "BLEU")


def same_arithmetic(expected: dict, actual: dict) -> bool:
    """Whether two runs did the same float arithmetic: the same CPU model and library versions."""
    machine = [(results.get("machine", {}).get("processor"), results.get("versions")) for results in (expected, actual)]
    return machine[0] == machine[1] and machine[0][0] is not None


def run_check(args) -> None:
    """Compare a re-run's results.json with the report's: every quality number, one line each."""
    expected_results, actual_results = read_json(args.expected), read_json(args.actual)
    expected, actual = reported_numbers(expected_results), reported_numbers(actual_results)
    exact = same_arithmetic(expected_results, actual_results)
    tolerances = {**TOLERANCE, **({"BLEU": 0.0, "p": 0.0} if exact else CROSS_CPU_TOLERANCE)}
    missing = sorted(set(expected) ^ set(actual))
    if missing:
        raise InputError(f"{args.actual}: does not report the same numbers as {args.expected} "
                         f"(only in one: {', '.join(missing[:5])}); were they run with the same settings?")
    failures = 0
    machines = [results.get("machine", {}).get("processor") or "an unnamed CPU" for results in (expected_results,
                                                                                               actual_results)]
    print("Same CPU model and library versions: BLEU and p must be exact." if exact else
          f"Made on {machines[0]}, re-run on {machines[1]} (or with other library versions): float arithmetic "
          f"differs, so BLEU need only be within {CROSS_CPU_TOLERANCE['BLEU']:g} and p is not compared; this "
          f"catches a broken pipeline, not a stale report (that takes the report's CPU model).")
    print("\n| number | expected | actual | tolerance | |\n|---|---|---|---|---|")
    for name, value in expected.items():
        tolerance = tolerances[_kind(name)]
        same = abs(actual[name] - value) <= tolerance + 1e-9
        failures += not same
        print(f"| {name} | {value:g} | {actual[name]:g} | {tolerance:g} | {'ok' if same else 'DIFFERENT'} |")
    if failures:
        raise InputError(f"{args.actual}: {failures} of {len(expected)} numbers differ from {args.expected} (see the "
                         f"table)")
    print(f"all {len(expected)} numbers reproduced")


README_BEGIN = ("<!-- results: written by `seqkd-report readme` from docs/results/*/results.json and "
                "docs/results/bench/bench.json; do not edit -->")
README_END = "<!-- end of results -->"


def speed_table(bench: dict, link: str) -> str:
    """The benchmark's decoding rows as Markdown: batched throughput at the most threads, latency at
    batch size 1 at each thread count, BLEU; with where they were measured."""
    decoding = bench["decoding"]
    threads = sorted(decoding["threads"])
    primary = decoding["reference"]
    rows = {}
    for row in decoding["rows"]:
        rows.setdefault(row["system"], {})[row["threads"]] = row
    lines = [f"Decoding speed ([benchmark]({link})), {decoding['test_sentences']:,} test sentences; measured "
             f"{bench['date']} on {bench['machine']['platform']} (device {bench['machine']['device']}):", "",
             f"| system | sent/s batched, {threads[-1]} threads | "
             + " | ".join(f"p50 ms at batch size 1, {n} thread{'s' if n > 1 else ''}" for n in threads)
             + f" | BLEU {primary} |", "|---|---|" + "---|" * len(threads) + "---|"]
    for system, by_threads in rows.items():
        any_row = next(iter(by_threads.values()))
        lines.append(f"| {system} | {by_threads[threads[-1]]['batch_sentences_per_second']:.1f} | "
                     + " | ".join(f"{by_threads[n]['bs1_p50_ms']:.1f}" for n in threads)
                     + f" | {any_row['scores'][primary]['bleu']:.2f} |")
    return "\n".join(lines) + "\n"


def readme_results(results_dir: Path) -> str:
    """The README's results: per committed report (presets other than quick first), its gain table and,
    except for QUICK, its full table, with where and when it was measured; then the decoding benchmark."""
    reports = sorted((read_json(path) for path in results_dir.glob("*/results.json")),
                     key=lambda r: (r["comparison"]["preset"] == "quick", r["name"]))
    blocks = []
    for results in reports:
        machine, compare = results["machine"], results["comparison"]
        seeds = ", ".join(f"`{student}` {','.join(map(str, s))}" for student, s in compare["seeds"].items())
        quick = compare["preset"] == "quick"
        blocks.append("\n".join([
            f"**{results['name']}** ([report]({results_dir.as_posix()}/{results['name']}/REPORT.md)): "
            f"`{compare['preset']}` preset, seeds {seeds}; measured {results['date']} on "
            f"{machine['cpu_cores']} CPU cores, {machine['memory_gib']} GiB ({machine['platform']}).", "",
            gain_table(compare), *([] if quick else [markdown_table(compare)])]))
        if results.get("mode_mixing"):
            rates = ", ".join(f"{name} {system['mode_mixing_rate']:.1%}" for name,
                              system in results["mode_mixing"].items())
            blocks.append(f"Share of test outputs that mix target languages: {rates}.\n")
    bench_path = results_dir / "bench" / "bench.json"
    bench = read_json(bench_path) if bench_path.is_file() else {}
    if "decoding" in bench:
        blocks.append(speed_table(bench, f"{results_dir.as_posix()}/bench/bench.md"))
    return "\n".join([README_BEGIN, "", *blocks, README_END])


def run_readme(args) -> None:
    """Rewrite (or with --check, verify) the block between the README's results markers."""
    readme = Path(args.readme)
    text = readme.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        raise InputError(f"{readme}: no results markers; put {README_BEGIN!r} and {README_END!r} where the results go")
    before, rest = text.split(README_BEGIN, 1)
    after = rest.split(README_END, 1)[1]
    updated = before + readme_results(Path(args.results)) + after
    if args.check:
        if updated != text:
            raise InputError(f"{readme}: its results differ from {args.results}/*/results.json; "
                             "run `seqkd-report readme` and commit the result")
        print(f"{readme}: results match {args.results}")
        return
    with atomic_open(readme) as handle:
        handle.write(updated)
    print(f"{readme}: results written from {args.results}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkd-report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("write", help="write REPORT.md, results.json and the BLEU figure")
    report.add_argument("--name", required=True)
    report.add_argument("--teacher", required=True, help="teacher run directory")
    report.add_argument("--raw", required=True, help="raw corpus directory")
    report.add_argument("--distilled", required=True, help="distilled corpus directory")
    report.add_argument("--students", required=True, help="seqkd-nat compare output directory")
    report.add_argument("--out", required=True, help="results directory (holds timings.tsv, commands.sh, complexity/)")
    report.add_argument("--quick", action="store_true", help="say what a QUICK run shows and what it does not")
    check = commands.add_parser("check", help="did a re-run reproduce a report? compares two results.json")
    check.add_argument("--expected", required=True, help="the report's results.json")
    check.add_argument("--actual", required=True, help="results.json of a re-run (other DATA, RUNS, RESULTS)")
    readme = commands.add_parser("readme", help="write the README's results from the committed reports")
    readme.add_argument("--results", default="docs/results",
                        help="directory of committed reports (default: %(default)s)")
    readme.add_argument("--readme", default="README.md")
    readme.add_argument("--check", action="store_true", help="exit 1 if the README's results differ, write nothing")
    return parser


COMMANDS = {"write": run_report, "check": run_check, "readme": run_readme}


def main(argv: list[str] | None = None) -> int:
    return dispatch(build_parser(), COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
