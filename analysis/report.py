"""``seqkd-report``: write results/<name>/results.json, its figures and REPORT.md from a finished main job
(``write``), check that a re-run reproduced a report (``check``), re-render every Markdown file from its JSON
(``render``, analysis/render.py), and write the README's results from the committed reports (``readme``).

Everything in the report is read from the run's own outputs (manifests, compare.json, the analyses' JSON,
the job's timings.tsv and commands.sh); nothing is typed in by hand. :func:`collect_results` gathers it into
results.json, and :func:`analysis.render.render_report` renders REPORT.md from that file and the analyses'
JSON beside it, so a committed report can be rendered again at any time.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

from analysis.render import (
    ANALYSES,
    BLEU_FIGURE,
    CURVES_FIGURE,
    optional_json,
    run_names,
    run_render,
    write_result,
)
from distill.corpus.directory import Corpus, library_versions
from distill.engine import busy_seconds, read_run_manifest
from distill.io import InputError, atomic_open, dispatch, read_json
from nat.compare import (
    gain_table,
    markdown_table,
    score_columns,
    table_rows,
)
from nat.curves import plot_curves
from nat.systems import TEACHER_KIND, row_label


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


def _training_seconds(run_dir) -> float:
    """A finished run's training time over all its invocations, as its manifest records it (so a main
    job spread over several sittings reports what its training cost, not only the last sitting)."""
    seconds = read_run_manifest(run_dir).get("train_wall_seconds")
    if seconds is None:
        raise InputError(f"{Path(run_dir) / 'manifest.json'}: no train_wall_seconds (its train.log has no "
                         f"timed fairseq line); retrain {run_dir} to measure it")
    return seconds


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
    """results.json, the figures and REPORT.md in ``out``, read from the run's outputs: the teacher's manifest,
    the raw and distilled corpora, ``students``/compare.json and the analyses in ``out``; ``timings``: (step, wall
    seconds) of the invocation, ``commands``: its command lines."""
    out = Path(out)
    results = collect_results(name=name, teacher=Path(teacher), raw=Corpus.open(raw),
                              distilled=Corpus.open(distilled), students=Path(students),
                              complexity=read_json(out / "complexity" / "complexity.json"), quick=quick,
                              timings=timings, commands=commands)
    _bleu_figure(results["comparison"], out)
    plot_curves(results["comparison"]["curves"], out / CURVES_FIGURE, results["comparison"]["teacher_valid_bleu"])
    write_result(out / "results.json", results)  # and REPORT.md, rendered from it
    print(f"report: {out / 'REPORT.md'}\nresults: {out / 'results.json'}\nfigures: {out / BLEU_FIGURE}, "
          f"{out / CURVES_FIGURE}, {out / 'complexity'}/")


def collect_results(*, name: str, teacher: Path, raw: Corpus, distilled: Corpus, students: Path, complexity: dict,
                    quick: bool, timings: list[tuple[str, int]], commands: list[str]) -> dict:
    """What REPORT.md says, from the run's outputs: everything :func:`render_report` reads besides the analyses'
    own JSON files (written beside it), and the corpora's C(d) and F(d) (``complexity``: complexity.json), which
    ``check`` compares; nothing here is rendered."""
    compare_path = students / "compare.json"
    if not compare_path.is_file():
        raise InputError(f"{compare_path}: missing; run seqkd-nat compare "
                         "(scripts/reproduce_nat_distillation.sh) first")
    compare = read_json(compare_path)
    manifest = read_run_manifest(teacher)
    runs = [students / name for name in run_names(compare)]
    teacher_scores = next(record for record in compare["results"] if record["system"] == TEACHER_KIND)["scores"]
    cost = distilled.manifest["distillation"]["teacher_cost"]
    teacher_training = _training_seconds(teacher)
    return {"name": name, "quick": quick, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(), "versions": library_versions(), "corpus_name": raw.path.name,
            "corpus": raw.manifest["counts"],
            "teacher": {"preset": manifest["preset"], "device": manifest["device"], "settings": manifest["settings"],
                        "model": manifest["model"], "precision": manifest["precision"],
                        "train_wall_seconds": teacher_training, "test_scores": teacher_scores},
            "distillation": {"config": distilled.manifest["config"], "teacher_cost": cost,
                             "train_targets_vs_references":
                                 distilled.manifest["distillation"]["distilled_targets_vs_references"]["train"]},
            "comparison": compare, "complexity": complexity["corpora"],
            "compute_seconds": {"teacher_training": teacher_training, "regeneration": cost["wall_seconds"],
                                "student_training": busy_seconds([run / "train.log" for run in runs])},
            "student_train_wall_seconds": {run.name: _training_seconds(run) for run in runs},
            "timings": [{"step": step, "seconds": seconds} for step, seconds in timings], "commands": commands}


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
    batch size 1 at each thread count, BLEU; with where they were measured. Every teacher system; of each
    student, its lean path (float32, eager) and its fastest system at batch size 1, where that is another one
    (the benchmark's own table has every runtime, and each student through fairseq's path)."""
    from analysis.bench import is_plain_path, student_of

    decoding = bench["decoding"]
    threads = sorted(decoding["threads"])
    primary = decoding["reference"]
    fastest = {}  # student -> its system with the lowest latency at batch size 1, at any thread count
    for row in decoding["rows"]:
        student = student_of(row["system"])
        if row["engine"] != "fairseq" and (student not in fastest
                                           or row["bs1_p50_ms"] < fastest[student]["bs1_p50_ms"]):
            fastest[student] = row
    shown = {row["system"] for row in fastest.values()}
    rows = {}
    for row in decoding["rows"]:
        if row["system"].startswith("teacher") or row["system"] in shown or is_plain_path(row["system"]):
            rows.setdefault(row["system"], {})[row["threads"]] = row
    # a section measured on its own (--add-to-existing) has its own date and machine
    date, machine = decoding.get("date", bench["date"]), decoding.get("machine", bench["machine"])
    lines = [f"Decoding speed ([benchmark]({link}): every runtime of every student), {decoding['test_sentences']:,} "
             f"test sentences; measured {date} on {machine.get('processor') or machine['platform']}, "
             f"{machine['cpu_threads']} threads (device {machine['device']}); each student's plain path (eager "
             "PyTorch, float32) and its fastest system at batch size 1:", "",
             f"| system | sent/s batched, {threads[-1]} threads | "
             + " | ".join(f"p50 ms at batch size 1, {n} thread{'s' if n > 1 else ''}" for n in threads)
             + f" | BLEU {primary} |", "|---|---|" + "---|" * len(threads) + "---|"]
    for system, by_threads in rows.items():
        any_row = next(iter(by_threads.values()))
        lines.append(f"| {system} | {by_threads[threads[-1]]['batch_sentences_per_second']:.1f} | "
                     + " | ".join(f"{by_threads[n]['bs1_p50_ms']:.1f}" for n in threads)
                     + f" | {any_row['scores'][primary]['bleu']:.2f} |")
    return "\n".join(lines) + "\n"


def study_block(study: dict, results_dir: Path) -> str:
    """The README's account of the capacity-by-complexity study: its verdict, its gains table, its figure."""
    from analysis.study import points_table, verdict_paragraph

    link = f"{results_dir.as_posix()}/study"
    return "\n".join([f"**When distillation helps** ([study]({link}/study.md), scripts/distillation_study.sh): "
                      + verdict_paragraph(study), "", points_table(study), "",
                      f"![distillation gain against the raw student's share of the teacher]({link}/study.png)", ""])


def readme_results(results_dir: Path) -> str:
    """The README's results: per committed report (presets other than quick first), its gain table and,
    except for QUICK, its full table, with where and when it was measured; then the decoding benchmark."""
    reports = sorted((read_json(path) for path in results_dir.glob("*/results.json")),
                     key=lambda r: (r["comparison"]["preset"] == "quick", r["name"]))
    blocks = []
    study = optional_json(results_dir / "study" / "study.json")
    if study:  # the study's answer in place of the main report's tables (which its report keeps)
        blocks.append(study_block(study, results_dir))
    for results in reports:
        machine, compare = results["machine"], results["comparison"]
        seeds = ", ".join(f"`{student}` {','.join(map(str, s))}" for student, s in compare["seeds"].items())
        quick = compare["preset"] == "quick"
        blocks.append("\n".join([
            f"**{results['name']}** ([report]({results_dir.as_posix()}/{results['name']}/REPORT.md)): "
            f"`{compare['preset']}` preset, seeds {seeds}; measured {results['date']} on "
            f"{machine['cpu_cores']} CPU cores, {machine['memory_gib']} GiB ({machine['platform']}).", "",
            *([] if study and not quick else [gain_table(compare)]),
            *([] if quick or study else [markdown_table(compare)])]))
        if modes := optional_json(results_dir / results["name"] / ANALYSES["modes"]):
            rates = ", ".join(f"{row_label(system)} {system['mode_mixing_rate']:.1%}" for system in modes["systems"])
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
    render = commands.add_parser("render", help="each result's Markdown again from its JSON (compare.md, REPORT.md, "
                                 "lost_words.md, ...; analysis/render.py)")
    render.add_argument("paths", nargs="+", metavar="PATH", help="result directories (searched) or JSON files")
    render.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming each Markdown file that differs from its rendering")
    return parser


COMMANDS = {"write": run_report, "check": run_check, "readme": run_readme, "render": run_render}


def main(argv: list[str] | None = None) -> int:
    return dispatch(build_parser(), COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
