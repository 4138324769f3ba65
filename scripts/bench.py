"""Benchmarks: decoding speed, regeneration throughput (fairseq vs CTranslate2), analysis throughput.

Every number is the median of --repeats runs, and every system of a section is measured in
the same process on the same inputs, one after another, so ratios are side by side. Model
loading and process start-up are excluded: the clock runs around translate() only.

  decoding      AR teacher (beam 5, beam 1) and every NAT student found (ctc, ctc-glat,
                vanilla and glancing NAT, duration NAT, CMLM at 1/4/10 iterations) on a corpus's test set: sentences/s at a large
                batch (--max-tokens) and at batch size 1 (first --latency-sentences lines,
                median latency), BLEU of each, speedups over teacher beam 5
  regeneration  the teacher on the first --regen-sentences training sources with the
                distill backends: fairseq, CTranslate2 float32 and int8 (beam 5)
  analysis      complexity + statistics of --analysis-pairs synthetic pairs (eflomal
                alignment included) in a child process: pairs/s and peak memory

Writes <out>/bench.json and <out>/bench.md. Targets (reported, not enforced): NAT >= 15x teacher
beam 5 at batch size 1; CTranslate2 int8 >= 3x fairseq with BLEU within 0.3; 1M pairs <= 10 min.
"""
from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from distill.io import InputError, atomic_open, dispatch, write_json  # noqa: E402

TARGETS = {"nat_speedup_bs1": 15.0, "ct2_int8_speedup": 3.0, "ct2_int8_bleu_delta": 0.3, "analysis_1m_seconds": 600.0}


def _median_timing(function, repeats: int) -> tuple[float, object]:
    """Median wall seconds of ``function()`` over ``repeats`` calls, and the first call's result."""
    timings, first = [], None
    for repeat in range(repeats):
        started = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - started)
        if repeat == 0:
            first = result
    return statistics.median(timings), first


def _decoding_systems(args):
    """(name, translator) pairs, loaded once; students come from --students/<student>-*."""
    from distill.generation import DecodeSettings, Translator
    from distill.corpus.directory import Corpus
    from distill.engine import checkpoint_of
    from nat.decoding import StudentSettings, load_translator
    from nat.students import AUTOREGRESSIVE, STUDENTS

    corpus = Corpus.open(args.corpus)
    teacher = checkpoint_of(args.teacher)
    systems = [(f"teacher beam {beam}", Translator.autoregressive(
        [teacher], corpus, DecodeSettings(beam=beam, max_tokens=args.max_tokens, device=args.device)))
        for beam in (5, 1)]
    for student in STUDENTS:
        if student in AUTOREGRESSIVE:
            continue
        runs = sorted(Path(args.students).glob(f"{student}-{args.student_data}-seed*"))
        for count in [1, 4, 10] if student == "cmlm" else [0]:
            name = f"{student}" + (f" it{count}" if student == "cmlm" else "")
            settings = StudentSettings(iterations=count, max_tokens=args.max_tokens, device=args.device)
            systems += [(name, load_translator(run, corpus_dir=args.corpus, settings=settings)) for run in runs[:1]]
    if len(systems) == 2:
        raise InputError(f"{args.students}: no <student>-{args.student_data}-seed* run of a NAT student; train the "
                         f"students first (make reproduce QUICK=1, or seqkd-nat compare)")
    return corpus, systems


def bench_decoding(args) -> dict:
    from distill.scoring import score_translations

    corpus, systems = _decoding_systems(args)
    sources = corpus.lines("test", "src")
    latency_sources = sources[: args.latency_sentences]
    rows = []
    for name, translator in systems:
        translator.translate(sources[:8])  # warm-up (allocator, caches)
        batch_seconds, nbest = _median_timing(lambda: translator.translate(sources), args.repeats)

        def one_at_a_time():
            latencies = []
            for line in latency_sources:
                started = time.perf_counter()
                translator.translate([line])
                latencies.append(time.perf_counter() - started)
            return latencies

        bs1_seconds, latencies = _median_timing(one_at_a_time, args.repeats)
        scores = score_translations([h[0].text for h in nbest], corpus.references("test"))
        rows.append({"system": name, "sentences": len(sources),
                     "batch_sentences_per_second": len(sources) / batch_seconds,
                     "bs1_sentences_per_second": len(latency_sources) / bs1_seconds,
                     "bs1_median_latency_ms": 1000 * statistics.median(latencies),
                     "scores": scores})
        print(f"  {name:>14}: {rows[-1]['batch_sentences_per_second']:7.1f} sent/s batched, "
              f"{rows[-1]['bs1_sentences_per_second']:6.1f} sent/s at batch size 1", flush=True)
    base = rows[0]
    for row in rows:
        row["speedup_batch"] = row["batch_sentences_per_second"] / base["batch_sentences_per_second"]
        row["speedup_bs1"] = row["bs1_sentences_per_second"] / base["bs1_sentences_per_second"]
    return {"corpus": str(corpus.path), "students": f"{args.students}/*-{args.student_data}-seed*",
            "test_sentences": len(sources), "latency_sentences": len(latency_sources),
            "max_tokens": args.max_tokens, "rows": rows}


def bench_regeneration(args) -> dict:
    import torch

    from distill.corpus.directory import Corpus
    from distill.ctranslate2_backend import CTranslate2Translator
    from distill.engine import checkpoint_of
    from distill.generation import DecodeSettings, Translator
    from distill.scoring import score_translations

    corpus = Corpus.open(args.regen_corpus or args.corpus)
    teacher = checkpoint_of(args.regen_teacher or args.teacher)
    sources = corpus.lines("train", "src")[: args.regen_sentences]
    references = {name: lines[: args.regen_sentences] for name, lines in corpus.references("train").items()}
    settings = DecodeSettings(beam=5, max_tokens=args.max_tokens, device=args.device)
    threads = torch.get_num_threads()
    backends = [("fairseq", lambda: Translator.autoregressive([teacher], corpus, settings))] + [
        (f"ctranslate2 {kind}", lambda kind=kind: CTranslate2Translator(teacher, corpus, settings, compute_type=kind,
                                                                         threads=threads))
        for kind in ("float32", "int8")]
    rows = []
    for name, load in backends:
        translator = load()  # one backend alive at a time: idle CTranslate2 threads must not slow fairseq
        translator.translate(sources[:8])
        seconds, nbest = _median_timing(lambda: translator.translate(sources), args.repeats)
        outputs = [h[0].text for h in nbest]
        rows.append({"backend": name, "sentences_per_second": len(sources) / seconds,
                     "scores": score_translations(outputs, references), "outputs": outputs})
        print(f"  {name:>20}: {rows[-1]['sentences_per_second']:7.1f} sent/s", flush=True)
        del translator
        gc.collect()
    primary = next(iter(references))
    for row in rows:
        row["speedup"] = row["sentences_per_second"] / rows[0]["sentences_per_second"]
        row["bleu_delta"] = row["scores"][primary]["bleu"] - rows[0]["scores"][primary]["bleu"]
        row["identical_outputs_share"] = sum(a == b for a, b in zip(row["outputs"], rows[0]["outputs"])) / len(sources)
    for row in rows:
        del row["outputs"]
    return {"corpus": str(corpus.path), "teacher": teacher, "sentences": len(sources), "beam": 5, "threads": threads,
            "rows": rows}


def analysis_worker(pairs: int) -> None:
    """Child process: time complexity on ``pairs`` synthetic pairs; print JSON (peak memory is ours)."""
    from analysis.measures import AlignedCorpus
    from distill.corpus.synthetic import SyntheticConfig, SyntheticLanguage

    config = SyntheticConfig(source_types=2000, min_len=4, max_len=16, candidates=4, word_entropy=1.0, reorder=0.3,
                             seed=1)
    started = time.perf_counter()
    columns = SyntheticLanguage(config).sample(pairs)
    generated = time.perf_counter()
    aligned = AlignedCorpus(columns["src"], columns["tgt"])
    measured = aligned.statistics()
    finished = time.perf_counter()
    peak_kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # eflomal runs as a child
    print(json.dumps({"pairs": pairs, "generation_seconds": generated - started,
                      "analysis_seconds": finished - generated, "peak_memory_mib": peak_kib / 1024,
                      "complexity_bits": measured["complexity_bits"], "synthetic": config.__dict__}))


def bench_analysis(args) -> dict:
    runs = []
    for _ in range(args.analysis_repeats):
        done = subprocess.run([sys.executable, __file__, "analysis-worker", "--pairs", str(args.analysis_pairs)],
                              check=True, capture_output=True, text=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    seconds = statistics.median(r["analysis_seconds"] for r in runs)
    result = {**runs[0], "analysis_seconds": seconds, "pairs_per_second": args.analysis_pairs / seconds,
              "peak_memory_mib": max(r["peak_memory_mib"] for r in runs), "repeats": len(runs),
              "all_analysis_seconds": [r["analysis_seconds"] for r in runs]}
    print(f"  complexity of {args.analysis_pairs} pairs: {seconds:.0f} s, {result['pairs_per_second']:.0f} pairs/s, "
          f"peak {result['peak_memory_mib']:.0f} MiB", flush=True)
    return result


def _machine(device: str) -> dict:
    import torch

    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_threads": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__,
            "device": device}
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _markdown(report: dict) -> str:
    lines = [f"Measured {report['date']} on {report['machine']['platform']} ({report['machine']['cpu_threads']} threads, "
             f"device {report['machine']['device']}{', ' + report['machine']['gpu'] if 'gpu' in report['machine'] else ''}); "
             f"medians of {report['repeats']} runs.", ""]
    if "decoding" in report:
        decoding = report["decoding"]
        primary = next(iter(decoding["rows"][0]["scores"]))
        lines += [f"### Decoding ({decoding['test_sentences']} test sentences of {Path(decoding['corpus']).name}; "
                  f"batch size 1 on the first {decoding['latency_sentences']}; teacher `{report['teacher']}`, "
                  f"students from `{decoding['students']}`)", "",
                  f"| system | sent/s (batch {decoding['max_tokens']} tokens) | speedup | sent/s (batch size 1) | "
                  f"speedup | latency ms | BLEU ({primary}) |", "|---|---|---|---|---|---|---|"]
        for row in decoding["rows"]:
            lines.append(f"| {row['system']} | {row['batch_sentences_per_second']:.1f} | {row['speedup_batch']:.1f}x | "
                         f"{row['bs1_sentences_per_second']:.1f} | {row['speedup_bs1']:.1f}x | "
                         f"{row['bs1_median_latency_ms']:.1f} | {row['scores'][primary]['bleu']:.2f} |")
        lines += ["", f"sacrebleu: {decoding['rows'][0]['scores'][primary]['bleu_signature']}", ""]
    if "regeneration" in report:
        regeneration = report["regeneration"]
        primary = next(iter(regeneration["rows"][0]["scores"]))
        lines += [f"### Teacher regeneration ({regeneration['sentences']} training sources of "
                  f"{Path(regeneration['corpus']).name}, beam 5, {regeneration['threads']} threads; teacher "
                  f"`{regeneration['teacher']}`)", "",
                  f"| backend | sent/s | speedup | BLEU ({primary}) | BLEU delta | outputs identical to fairseq |",
                  "|---|---|---|---|---|---|"]
        for row in regeneration["rows"]:
            lines.append(f"| {row['backend']} | {row['sentences_per_second']:.1f} | {row['speedup']:.1f}x | "
                         f"{row['scores'][primary]['bleu']:.2f} | {row['bleu_delta']:+.2f} | "
                         f"{100 * row['identical_outputs_share']:.1f} % |")
        lines.append("")
    if "analysis" in report:
        analysis = report["analysis"]
        lines += ["### Analysis", "", f"Complexity + statistics (eflomal included) of {analysis['pairs']:,} synthetic "
                  f"pairs: {analysis['analysis_seconds']:.0f} s ({analysis['pairs_per_second']:,.0f} pairs/s), "
                  f"peak memory {analysis['peak_memory_mib']:,.0f} MiB.", ""]
    lines += ["### Targets", "", "| target | wanted | measured | met |", "|---|---|---|---|"]
    for target in report["targets"]:
        lines.append(f"| {target['name']} | {target['wanted']} | {target['measured']} | "
                     f"{'yes' if target['met'] else 'no (' + target['gap'] + ')'} |")
    return "\n".join(lines) + "\n"


def _targets(report: dict) -> list[dict]:
    targets = []
    if "decoding" in report:
        one_pass = [r for r in report["decoding"]["rows"] if not r["system"].startswith(("teacher", "cmlm"))]
        nat = max(one_pass, key=lambda r: r["speedup_bs1"])
        targets.append({"name": f"fastest one-pass NAT ({nat['system']}) vs teacher beam 5, batch size 1", "wanted": f">= {TARGETS['nat_speedup_bs1']:.0f}x",
                        "measured": f"{nat['speedup_bs1']:.1f}x", "met": nat["speedup_bs1"] >= TARGETS["nat_speedup_bs1"],
                        "gap": f"{TARGETS['nat_speedup_bs1'] / nat['speedup_bs1']:.1f}x short"})
    if "regeneration" in report:
        int8 = report["regeneration"]["rows"][-1]
        targets.append({"name": "CTranslate2 int8 vs fairseq regeneration", "wanted": f">= {TARGETS['ct2_int8_speedup']:.0f}x",
                        "measured": f"{int8['speedup']:.1f}x", "met": int8["speedup"] >= TARGETS["ct2_int8_speedup"],
                        "gap": f"{TARGETS['ct2_int8_speedup'] / int8['speedup']:.1f}x short"})
        targets.append({"name": "CTranslate2 int8 BLEU difference", "wanted": f"within {TARGETS['ct2_int8_bleu_delta']}",
                        "measured": f"{int8['bleu_delta']:+.2f}",
                        "met": abs(int8["bleu_delta"]) <= TARGETS["ct2_int8_bleu_delta"],
                        "gap": f"{abs(int8['bleu_delta']) - TARGETS['ct2_int8_bleu_delta']:.2f} BLEU over"})
    if "analysis" in report:
        analysis = report["analysis"]
        projected = analysis["analysis_seconds"] * 1_000_000 / analysis["pairs"]
        targets.append({"name": "complexity of 1M pairs" + ("" if analysis["pairs"] == 1_000_000 else
                                                             f" (projected from {analysis['pairs']:,})"),
                        "wanted": "<= 600 s", "measured": f"{projected:.0f} s",
                        "met": projected <= TARGETS["analysis_1m_seconds"],
                        "gap": f"{projected - TARGETS['analysis_1m_seconds']:.0f} s over"})
    return targets


def run_bench(args) -> None:
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - {"decoding", "regeneration", "analysis"})
    if unknown:
        raise InputError(f"--sections: unknown {', '.join(unknown)}; choose from decoding, regeneration, analysis")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no GPU visible to torch")
    report = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": _machine(args.device),
              "repeats": args.repeats, "command": " ".join(sys.argv), "teacher": args.teacher}
    for section, function in (("decoding", bench_decoding), ("regeneration", bench_regeneration),
                              ("analysis", bench_analysis)):
        if section in sections:
            print(f"{section}:", flush=True)
            report[section] = function(args)
    report["targets"] = _targets(report)
    out = Path(args.out)
    write_json(out / "bench.json", report)
    with atomic_open(out / "bench.md") as handle:
        handle.write(_markdown(report))
    print(f"\n{_markdown(report)}\nwrote {out / 'bench.json'} and {out / 'bench.md'}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/bench.sh", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the benchmarks and write bench.json / bench.md")
    run.add_argument("--teacher", required=True, help="AR teacher run directory or checkpoint")
    run.add_argument("--students", required=True, help="directory with <student>-<data>-seed<k> runs")
    run.add_argument("--student-data", default="distilled", choices=["distilled", "raw"])
    run.add_argument("--corpus", required=True, help="corpus directory (test set for decoding, train for regeneration)")
    run.add_argument("--out", default="results/bench")
    run.add_argument("--sections", default="decoding,regeneration,analysis")
    run.add_argument("--repeats", type=int, default=3, help="runs per measurement (the median is reported)")
    run.add_argument("--latency-sentences", type=int, default=100, help="sentences decoded one at a time")
    run.add_argument("--regen-sentences", type=int, default=2000)
    run.add_argument("--regen-teacher", help="teacher for the regeneration section (default: --teacher)")
    run.add_argument("--regen-corpus", help="its corpus (default: --corpus)")
    run.add_argument("--analysis-pairs", type=int, default=1_000_000)
    run.add_argument("--analysis-repeats", type=int, default=1, help="1M-pair runs (each takes minutes)")
    run.add_argument("--max-tokens", type=int, default=6000, help="tokens per batch for the batched measurements")
    run.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    worker = commands.add_parser("analysis-worker", help=argparse.SUPPRESS)
    worker.add_argument("--pairs", type=int, required=True)
    return parser


if __name__ == "__main__":
    sys.exit(dispatch(build_parser(), {"run": run_bench, "analysis-worker": lambda a: analysis_worker(a.pairs)},
                      sys.argv[1:]))
