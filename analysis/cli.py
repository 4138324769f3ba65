"""`seqkd-analysis`: corpus complexity, faithfulness, and their validation on synthetic data.

  seqkd-analysis complexity --corpus [NAME=]RAW --corpus [NAME=]DISTILLED [...] --out DIR
        C(d) and corpus statistics of each corpus; F(d) of every later corpus against the
        first; JSON + figure (PNG and PDF)
  seqkd-analysis modes --corpus MULTI --hyp teacher=FILE --hyp nat-raw=FILE [...] --out DIR
  seqkd-analysis modes --corpus MULTI --compare STUDENTS/compare.json --out DIR
        mode-mixing rate of system outputs on a multi-target corpus; simplex (K=3) or histogram (K=2)
  seqkd-analysis lost-words --compare STUDENTS/compare.json [--corpus RAW --distilled DISTILLED] --out DIR
        what distillation loses: recall of reference words by source-word frequency, proper-name copies,
        target types and length ratio of the distilled corpus and of every system's test outputs
  seqkd-analysis confidence --compare STUDENTS/compare.json --out DIR
        entropy and calibration (ECE) under teacher forcing of the teacher and the AR and CTC students
  seqkd-analysis tradeoff --complexity-json FILE --bleu CORPUS=EVAL_JSON [...] --out DIR
        BLEU of students vs C(d) and F(d) of the corpora they were trained on
        the teacher-size study: teachers of several sizes, their distilled corpora, C(d) and F(d),
        and the BLEU of a student trained on each (scripts/complexity_plots.sh)
  seqkd-analysis validate --out DIR
        synthetic corpora of known H(y|x): estimated vs true complexity, Spearman rho,
        error table (Markdown + JSON) and figure

Every figure has a JSON file beside it with the numbers it plots.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from distill.io import InputError, atomic_open, dispatch, name_and_value, write_json
from nat.systems import row_key, row_label


def _pyplot():
    """matplotlib's pyplot, drawing to files only (no display on servers and in CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(figure, stem: Path) -> list[str]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix in (".png", ".pdf"):
        path = stem.with_name(stem.name + suffix)
        figure.savefig(path, dpi=150, bbox_inches="tight")
        paths.append(str(path))
    return paths


def _write_study(out: Path, stem: str, figure, report: dict) -> dict:
    """A study's figure (PNG and PDF), numbers (JSON, with the figures' paths) and table (Markdown, rendered from
    the JSON: :func:`analysis.render.write_result`), all named ``stem``."""
    from analysis.render import write_result

    report["figures"] = _save_figure(figure, out / stem)
    return write_result(out / f"{stem}.json", report)


def _named_corpus(item: str):
    """``NAME=DIR`` or ``DIR`` (named after its directory): the label a corpus gets in tables and figures."""
    from distill.corpus.directory import Corpus

    name, sep, path = item.partition("=")
    if not sep or Path(item).is_dir():
        name, path = Path(item).name, item
    return name, Corpus.open(path)


def run_complexity(args) -> dict:
    plt = _pyplot()

    from analysis.measures import AlignedCorpus, faithfulness

    named = [_named_corpus(item) for item in args.corpus]
    aligned = []
    results = []
    for name, corpus in named:
        print(f"aligning {corpus.path} ({args.split}) with eflomal ...", file=sys.stderr, flush=True)
        current = AlignedCorpus.from_corpus(corpus, args.split, args.limit)
        aligned.append(current)
        stats = {"name": name, "corpus": str(corpus.path), "kind": corpus.manifest["kind"],
                 **current.statistics(args.min_count)}
        if len(aligned) > 1:
            stats["faithfulness_bits_vs_first"] = faithfulness(aligned[0], current, args.min_count, args.smoothing)
        results.append(stats)
        print(f"  C(d) = {stats['complexity_bits']:.3f} bits"
              + (f", F(d) = {stats['faithfulness_bits_vs_first']:.3f} bits"
                 if "faithfulness_bits_vs_first" in stats else ""),
              file=sys.stderr)
    out = Path(args.out)
    labels = [r["name"] for r in results]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].bar(labels, [r["complexity_bits"] for r in results], color="tab:blue")
    axes[0].set_ylabel("complexity C(d) [bits]")
    axes[0].set_title(f"Corpus complexity ({args.split}, types with >= {args.min_count} links)")
    faithful = [r.get("faithfulness_bits_vs_first", 0.0) for r in results]
    axes[1].bar(labels, faithful, color="tab:orange")
    axes[1].set_ylabel(f"faithfulness F(d) vs {labels[0]} [bits]")
    axes[1].set_title("Faithfulness (KL to the first corpus)")
    for axis in axes:
        axis.tick_params(axis="x", rotation=20)
    report = {"split": args.split, "min_count": args.min_count, "smoothing": args.smoothing, "limit": args.limit,
              "aligner": "eflomal (forward links)", "tokenizer": "sacrebleu 13a, lowercased", "corpora": results}
    report["figures"] = _save_figure(figure, out / "complexity")
    write_json(out / "complexity.json", report)
    print(f"wrote {out / 'complexity.json'} and {', '.join(report['figures'])}", file=sys.stderr)
    return report


def _compare_outputs(path: str) -> list[tuple]:
    """(system, hypothesis file) of the teacher and of the headline student (first seed, first decoding) on raw
    and on distilled data, read from the results of ``seqkd-nat compare``."""
    from distill.io import read_json
    from nat.systems import TEACHER, TEACHER_KIND, System

    comparison = read_json(path)
    # the results are in table order, the command line's; the JSON's keys (seeds) are sorted
    student = next(record["system"] for record in comparison["results"] if record["system"] != TEACHER_KIND)
    seeds = comparison["seeds"][student]
    outputs = {}
    for record in comparison["results"]:
        if record["system"] == TEACHER_KIND:
            outputs.setdefault(TEACHER, record["hypotheses"])
        elif record["system"] == student and record["seed"] == seeds[0]:
            outputs.setdefault(System(student, record["data"]), record["hypotheses"])
    return list(outputs.items())


def run_modes(args) -> dict:
    plt = _pyplot()
    import numpy as np

    from analysis.multimodality import ModeLexicon, mode_mixing, simplex_xy
    from distill.corpus.directory import Corpus
    from distill.io import read_lines

    if not args.hyp and not args.compare:
        raise InputError("modes: give system outputs with --hyp NAME=FILE or --compare COMPARE_JSON")
    corpus = Corpus.open(args.corpus)
    if not corpus.raw("train", "mode").is_file():
        raise InputError(f"{corpus.raw('train', 'mode')}: missing; mode mixing needs a multi-target corpus")
    names = {}
    for item in args.mode_name or []:
        mode, name = name_and_value(item, "--mode-name", "MODE=NAME, e.g. 0=WEB")
        names[mode] = name
    lexicon = ModeLexicon(corpus.lines("train", "tgt"), corpus.lines("train", "mode"),
                          min_posterior=args.marker_posterior, min_count=args.min_count, names=names)
    if unknown := set(names) - set(lexicon.modes):
        raise InputError(f"--mode-name {', '.join(sorted(unknown))}: no such mode in {corpus.raw('train', 'mode')} "
                         f"(modes {', '.join(lexicon.modes)})")
    given = [name_and_value(item, "--hyp", "NAME=FILE") for item in args.hyp or []]
    systems = []  # the --hyp files, then the comparison's systems
    for system, path in [*given, *(_compare_outputs(args.compare) if args.compare else [])]:
        outputs = read_lines(path)
        if not outputs:
            raise InputError(f"{path}: file is empty; expected one system output per line")
        systems.append({**row_key(system), **mode_mixing(lexicon, outputs)})
        print(f"{row_label(systems[-1])}: mode-mixing rate {systems[-1]['mode_mixing_rate']:.3f}, "
              f"mean majority share {systems[-1]['mean_majority_share']:.3f}", file=sys.stderr)
    k = len(lexicon.modes)
    figure, axes = plt.subplots(1, len(systems), figsize=(4.5 * len(systems), 4.2), squeeze=False)
    for axis, result in zip(axes[0], systems):
        shares = np.array(result["shares"]).reshape(-1, k)
        if not len(shares):
            axis.text(0.5, 0.5, "no attributable output", ha="center")
        elif k == 3:
            # identical share vectors are common (e.g. every token from one mode): one dot per
            # distinct point, its area proportional to how many sentences it stands for
            distinct, counts = np.unique(shares.round(3), axis=0, return_counts=True)
            points = simplex_xy(distinct)
            axis.plot([0, 1, 0.5, 0], [0, 0, np.sqrt(3) / 2, 0], "k-", linewidth=0.8)
            axis.scatter(points[:, 0], points[:, 1], s=6 + 400 * counts / counts.sum(), alpha=0.5)
            for (x, y), count in zip(points, counts):
                if count >= 0.05 * counts.sum():
                    axis.annotate(f"n={count}", (x, y), textcoords="offset points", xytext=(10, -3), fontsize=8)
            for corner, label in zip(([0, -0.07], [1, -0.07], [0.5, 0.91]), lexicon.labels):
                axis.text(*corner, label, ha="center")
            axis.set_aspect("equal")
            axis.axis("off")
        else:
            axis.hist(shares[:, 0], bins=20, range=(0, 1), color="tab:blue")
            axis.set_xlabel(f"share of marker words from {lexicon.labels[0]}")
            axis.set_ylabel("sentences")
        axis.set_title(f"{row_label(result)}\nmode mixing {result['mode_mixing_rate']:.1%}", pad=14)
    out = Path(args.out)
    report = {"corpus": str(corpus.path), "modes": lexicon.modes, "mode_labels": lexicon.labels,
              "marker_posterior": args.marker_posterior, "min_count": args.min_count,
              "attributable_words": len(lexicon.best_mode), "systems": systems}
    return _write_study(out, "mode_mixing", figure, report)


def _without_data(record: dict) -> str:
    """A row's colour key: its system's label without the training data ("ar, greedy"); a row that is
    not a system (the training targets) keeps its name."""
    from nat.systems import System

    return System.from_json(record["system"]).label_without_data if "system" in record else record["name"]


def _trained_on_raw(record: dict) -> bool:
    """Whether a row is a system trained on raw data (its ``system`` fields)."""
    from nat.systems import System

    return "system" in record and (system := System.from_json(record["system"])).data == "raw" and not system.is_teacher


def run_lost_words(args) -> dict:
    """Rare-word recall, name copies, types and length: distilled vs raw corpus, and every system of a comparison."""
    plt = _pyplot()
    from analysis.lost_words import compare_systems, lost_words, training_corpus
    from distill.corpus.directory import Corpus
    from distill.io import read_json

    comparison = read_json(args.compare) if args.compare else {}
    if not (args.corpus or comparison) or not (args.distilled or comparison):
        raise InputError("lost-words: give --corpus and --distilled, or --compare (its corpora are the default)")
    result = lost_words(Corpus.open(args.corpus or comparison["raw"]),
                        Corpus.open(args.distilled or comparison["distilled"]),
                        compare_systems(comparison) if comparison else {})
    buckets = result["buckets"]
    # one colour per system, dashed on raw data, solid on distilled; the raw targets (the reference itself,
    # 100 %) are left out of the figure
    rows = [{**training_corpus(result, "distilled targets"), "name": "training targets, distilled"},
            *result["test_outputs"]]
    colors = dict(zip(dict.fromkeys(map(_without_data, rows)), plt.rcParams["axes.prop_cycle"].by_key()["color"] * 3))
    figure, (recall_axis, names_axis) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [3, 2]})
    for r in rows:
        recall = r["recall_by_source_frequency"]
        shown = [i for i, b in enumerate(buckets) if recall[b]["recall"] is not None]
        recall_axis.plot(shown, [100 * recall[buckets[i]]["recall"] for i in shown], "o", label=row_label(r),
                         color=colors[_without_data(r)], linestyle="--" if _trained_on_raw(r) else "-")
    recall_axis.set_xticks(range(len(buckets)), buckets)
    recall_axis.set_xlabel("training-source count of the aligned source word")
    recall_axis.set_ylabel("reference words recalled [%]")
    recall_axis.legend(fontsize=7, ncol=2)
    recall_axis.grid(alpha=0.3)
    named = [r for r in rows if r["names"]["rate"] is not None]
    names_axis.barh([row_label(r) for r in named], [100 * r["names"]["rate"] for r in named],
                    color=["tab:gray" if _trained_on_raw(r) else "tab:blue" for r in named])
    names_axis.invert_yaxis()
    names_axis.set_xlabel("names copied [%] (gray: trained on raw data)")
    names_axis.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    return _write_study(Path(args.out), "lost_words", figure, result)


def run_confidence(args) -> dict:
    """Entropy and calibration under teacher forcing of the teacher and the AR and CTC students of a comparison."""
    plt = _pyplot()
    from tqdm import tqdm

    from analysis.confidence import compare_runs, mean_over_seeds, teacher_forced
    from distill.corpus.directory import Corpus
    from distill.io import read_json

    comparison = read_json(args.compare)
    corpus = Corpus.open(args.corpus or comparison["raw"])
    runs = compare_runs(comparison, Path(args.compare).parent)
    progress = tqdm(total=sum(map(len, runs.values())), desc="teacher forcing", unit="run")
    systems = []  # in the comparison's order: the teacher, then each student on each corpus
    for system, run_dirs in runs.items():
        results = []
        for run_dir in run_dirs:
            results.append(teacher_forced(run_dir, corpus, args.split))
            progress.update()
        systems.append({**row_key(system), **mean_over_seeds(results)})
    progress.close()
    figure, (reliability, entropy) = plt.subplots(1, 2, figsize=(11, 4.2))
    reliability.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    colors = dict(zip(dict.fromkeys(map(_without_data, systems)), plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for r in systems:
        bins = r["all_positions"]["bins"]
        reliability.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", markersize=3,
                         label=row_label(r), color=colors[_without_data(r)],
                         linestyle="--" if _trained_on_raw(r) else "-")
    reliability.set_xlabel("confidence (probability of the argmax)")
    reliability.set_ylabel("accuracy")
    reliability.set_title("reliability, all positions (first seed)")
    reliability.legend(fontsize=7)
    entropy.barh([row_label(r) for r in systems], [r["all_positions"]["mean_entropy_bits"] for r in systems],
                 color=["tab:gray" if _trained_on_raw(r) else "tab:blue" for r in systems])
    entropy.invert_yaxis()
    entropy.set_xlabel("mean entropy per position [bits] (gray: trained on raw data)")
    figure.tight_layout()
    result = {"corpus": str(corpus.path), "split": args.split, "systems": systems}
    return _write_study(Path(args.out), "confidence", figure, result)


def _teacher_valid_bleu(corpus_dir: str, reference: str) -> float | None:
    """The BLEU of a distilled corpus's regenerated valid targets against ``reference``: its teacher's
    beam-search BLEU on held-out data, measured when the corpus was made (None for a raw corpus)."""
    from distill.io import read_json

    distillation = read_json(Path(corpus_dir) / "manifest.json").get("distillation")
    if not distillation:
        return None
    return distillation["distilled_targets_vs_references"].get("valid", {}).get(reference, {}).get("bleu")


def _evaluated_outputs(eval_json: str, evaluation: dict, reference: str) -> tuple[list[str], dict[str, list[str]]]:
    """The outputs beside an eval JSON (``seqkd-nat evaluate`` writes them as .hyp) and the references
    named by ``reference`` ("web", "web+kjv") of the split it scored: what a paired bootstrap needs."""
    from distill.corpus.directory import Corpus
    from distill.io import read_lines

    outputs = Path(eval_json).with_suffix(".hyp")
    if not outputs.is_file():
        raise InputError(f"{outputs}: missing; tradeoff tests students against each other on their outputs, "
                         "which `seqkd-nat evaluate --out X.json` writes beside the JSON")
    references = Corpus.open(evaluation["corpus"]).references(evaluation["split"])
    return read_lines(outputs), {name: references[name] for name in reference.split("+")}


def run_tradeoff(args) -> dict:
    """Student BLEU against C(d) and F(d) of the corpus it was trained on (Zhou et al. 2020, Fig. 4)."""
    plt = _pyplot()

    from analysis.render import tradeoff_markdown
    from distill.io import read_json
    from nat.compare import paired_bootstrap

    corpora = {c.get("name", Path(c["corpus"]).name): c for c in read_json(args.complexity_json)["corpora"]}
    points, first_outputs = [], None
    for item in args.bleu:
        expected = f"CORPUS_NAME=EVAL_JSON with CORPUS_NAME one of {sorted(corpora)}"
        name, path = name_and_value(item, "--bleu", expected)
        if name not in corpora:
            raise InputError(f"--bleu {item!r}: expected {expected}")
        evaluation = read_json(path)
        scores = evaluation["scores"]
        # default: all references together ("web+kjv"); JSON key order says nothing about the primary one
        reference = args.reference or max(scores, key=lambda name: name.count("+"))
        if reference not in scores:
            raise InputError(f"{path}: no BLEU against {reference!r}; it has {', '.join(sorted(scores))}")
        outputs, references = _evaluated_outputs(path, evaluation, reference)
        p_vs_first = None if first_outputs is None else paired_bootstrap(first_outputs, outputs, references)
        points.append({"corpus": name, "complexity_bits": corpora[name]["complexity_bits"],
                       "faithfulness_bits": corpora[name].get("faithfulness_bits_vs_first"),
                       "teacher_valid_bleu": _teacher_valid_bleu(corpora[name]["corpus"], reference),
                       "bleu": scores[reference]["bleu"], "reference": reference, "p_vs_first": p_vs_first,
                       "bleu_signature": scores[reference]["bleu_signature"], "eval": path})
        first_outputs = first_outputs or outputs
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for axis, measure, label in ((axes[0], "complexity_bits", "complexity C(d) of the training corpus [bits]"),
                                 (axes[1], "faithfulness_bits", "faithfulness F(d) to the first corpus [bits]")):
        shown = [p for p in points if p[measure] is not None]  # the first corpus has no F(d) against itself
        axis.plot([p[measure] for p in shown], [p["bleu"] for p in shown], "o")
        for p in shown:
            teacher = "" if p["teacher_valid_bleu"] is None else f"\n(teacher {p['teacher_valid_bleu']:.1f} valid BLEU)"
            axis.annotate(p["corpus"] + teacher, (p[measure], p["bleu"]), textcoords="offset points", xytext=(4, 4),
                          fontsize=8)
        axis.set_xlabel(label)
        axis.margins(x=0.25, y=0.25)  # room for the labels
    axes[0].set_ylabel(f"student test BLEU ({points[0]['reference']})")
    axes[0].set_title("Student BLEU vs corpus complexity")
    axes[1].set_title("Student BLEU vs faithfulness")
    result = {"points": points}
    print(tradeoff_markdown(result))
    return _write_study(Path(args.out), "complexity_vs_bleu", figure, result)


VALIDATION_ENTROPIES = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5)


def run_validate(args) -> dict:
    plt = _pyplot()
    from scipy.stats import pearsonr, spearmanr

    from analysis.measures import AlignedCorpus
    from distill.corpus.synthetic import SyntheticConfig, SyntheticLanguage

    rows = []
    for modes in args.modes:
        for bits in VALIDATION_ENTROPIES:
            config = SyntheticConfig(source_types=args.source_types, candidates=8, word_entropy=bits, modes=modes,
                                     reorder=0.3, seed=args.seed)
            language = SyntheticLanguage(config)
            sample = language.sample(args.pairs)
            aligned = AlignedCorpus(sample["src"], sample["tgt"])
            estimate = aligned.complexity(args.min_count)
            rows.append({"modes": modes, "word_entropy_bits": bits, "true_bits": language.lexical_entropy_bits,
                         "estimated_bits": estimate, "error_bits": estimate - language.lexical_entropy_bits,
                         "types_measured": len(aligned.table.frequent_types(args.min_count))})
            print(f"K={modes} H={language.lexical_entropy_bits:.3f} -> C(d)={estimate:.3f}", file=sys.stderr)
    true = [r["true_bits"] for r in rows]
    estimated = [r["estimated_bits"] for r in rows]
    summary = {"spearman_rho": float(spearmanr(true, estimated).statistic),
               "pearson_r": float(pearsonr(true, estimated).statistic),
               "mean_abs_error_bits": sum(abs(r["error_bits"]) for r in rows) / len(rows),
               "pairs_per_corpus": args.pairs, "source_types": args.source_types, "min_count": args.min_count,
               "seed": args.seed}
    out = Path(args.out)
    figure, axis = plt.subplots(figsize=(5, 5))
    for modes in args.modes:
        mine = [r for r in rows if r["modes"] == modes]
        axis.plot([r["true_bits"] for r in mine], [r["estimated_bits"] for r in mine], "o-", label=f"K = {modes}")
    top = max(true + estimated) + 0.2
    axis.plot([0, top], [0, top], "k--", linewidth=0.8, label="estimate = truth")
    axis.set_xlabel("true H(y|x) of the generator [bits]")
    axis.set_ylabel("estimated complexity C(d) [bits]")
    axis.set_title(f"Complexity estimator vs ground truth\nSpearman ρ = {summary['spearman_rho']:.3f}")
    axis.legend()
    figures = _save_figure(figure, out / "validation")
    table = ["| K | word entropy | true H(y|x) | estimated C(d) | error |", "|---|---|---|---|---|"]
    table += [f"| {r['modes']} | {r['word_entropy_bits']:.1f} | {r['true_bits']:.3f} | {r['estimated_bits']:.3f} | "
              f"{r['error_bits']:+.3f} |" for r in rows]
    table.append(f"\nSpearman ρ = {summary['spearman_rho']:.3f}, Pearson r = {summary['pearson_r']:.3f}, "
                 f"mean |error| = {summary['mean_abs_error_bits']:.3f} bits "
                 f"({args.pairs} pairs per corpus, types with >= {args.min_count} links)\n")
    with atomic_open(out / "validation.md") as handle:
        handle.write("\n".join(table))
    report = {"rows": rows, "summary": summary, "figures": figures}
    write_json(out / "validation.json", report)
    print("\n".join(table))
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkd-analysis", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    complexity = commands.add_parser("complexity", help="C(d), F(d) and statistics of corpus directories")
    complexity.add_argument("--corpus", action="append", required=True, metavar="[NAME=]DIR",
                            help="corpus directory, optionally labelled; the first is the reference for F(d)")
    complexity.add_argument("--out", required=True)
    complexity.add_argument("--split", default="train", choices=["train", "valid", "test"])
    complexity.add_argument("--limit", type=int, help="use only the first N pairs")
    complexity.add_argument("--min-count", type=int, default=10, help="source types with fewer links are left out")
    complexity.add_argument("--smoothing", type=float, default=0.1,
                            help="add-k smoothing of the distilled table in F(d)")
    modes = commands.add_parser("modes", help="mode mixing of system outputs on a multi-target corpus")
    modes.add_argument("--corpus", required=True, help="multi-target corpus directory (with raw/train.mode)")
    modes.add_argument("--hyp", action="append", metavar="NAME=FILE", help="system output; repeatable")
    modes.add_argument("--compare", metavar="COMPARE_JSON", help="also the teacher's and the headline student's "
                       "outputs (raw and distilled, first seed) recorded by `seqkd-nat compare`")
    modes.add_argument("--marker-posterior", type=float, default=0.0, metavar="P",
                       help="attribute only words whose best mode has at least this posterior (real data: e.g. 0.9; "
                            "default 0: every word)")
    modes.add_argument("--mode-name", action="append", metavar="MODE=NAME",
                       help="a name for a mode of raw/train.mode in tables and figures, e.g. 0=WEB; repeatable")
    modes.add_argument("--min-count", type=int, default=1,
                       help="attribute only words seen this often in training targets")
    modes.add_argument("--out", required=True)
    lost = commands.add_parser("lost-words", help="rare-word recall, name copies, types and length ratio: "
                               "distilled vs raw corpus and students' outputs")
    lost.add_argument("--corpus", help="raw corpus directory: its test set and primary reference (default: the "
                      "comparison's)")
    lost.add_argument("--distilled",
                      help="distilled corpus directory, same lines as --corpus (default: the comparison's)")
    lost.add_argument("--compare", metavar="COMPARE_JSON", help="every system of a `seqkd-nat compare` result "
                      "(students: mean over seeds)")
    lost.add_argument("--out", required=True)
    confidence = commands.add_parser("confidence", help="entropy and calibration (ECE) under teacher forcing, "
                                     "raw vs distilled students")
    confidence.add_argument("--compare", required=True, metavar="COMPARE_JSON",
                            help="the teacher and the AR and CTC students of a `seqkd-nat compare` result")
    confidence.add_argument("--corpus", help="corpus whose split is scored (default: the comparison's raw corpus)")
    confidence.add_argument("--split", default="test", choices=["valid", "test"])
    confidence.add_argument("--out", required=True)
    tradeoff = commands.add_parser("tradeoff", help="figure: C(d) of training corpora vs BLEU of their students")
    tradeoff.add_argument("--complexity-json", required=True, help="complexity.json from `complexity`")
    tradeoff.add_argument("--bleu", action="append", required=True, metavar="CORPUS_NAME=EVAL_JSON",
                          help="evaluation JSON (seqkd-nat evaluate) of the student trained on that corpus; repeatable")
    tradeoff.add_argument("--reference", help="reference set to plot BLEU against (default: all references together)")
    tradeoff.add_argument("--out", required=True)
    validate = commands.add_parser("validate", help="estimated vs true complexity on synthetic corpora")
    validate.add_argument("--out", required=True)
    validate.add_argument("--pairs", type=int, default=20000)
    validate.add_argument("--source-types", type=int, default=200)
    validate.add_argument("--modes", type=int, nargs="+", default=[1, 3])
    validate.add_argument("--min-count", type=int, default=10)
    validate.add_argument("--seed", type=int, default=1)
    return parser


COMMANDS = {"complexity": run_complexity, "validate": run_validate, "modes": run_modes, "tradeoff": run_tradeoff,
            "lost-words": run_lost_words, "confidence": run_confidence}


def main(argv: list[str] | None = None) -> int:
    return dispatch(build_parser(), COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
