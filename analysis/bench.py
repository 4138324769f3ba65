"""Benchmarks: decoding speed, regeneration throughput (fairseq vs CTranslate2), analysis throughput.

Throughputs are medians of --repeats runs, and every system of a section is measured in
the same run on the same inputs, one after another, so ratios are side by side. Model
loading and process start-up are excluded: the clock runs around translate() only.

  decoding      each system in a child process of its own, at each of --threads: the AR teacher
                in fairseq and in CTranslate2 int8 (beam 5, greedy), the AR student in CTranslate2
                int8 (greedy), every one-pass NAT student found (ctc, ctc-glat, nat, nat-glat,
                duration) through the lean path and through fairseq (ctc students also traced by
                TorchScript: "lean, TorchScript"), CMLM at 1/4/10 iterations;
                sentences/s at a large batch (--max-tokens, median of --repeats), p50/p90 latency
                at batch size 1 (over the first --latency-sentences lines), peak memory, BLEU;
                a speed-quality figure
  regeneration  the teacher on the first --regen-sentences training sources with the
                distill backends: fairseq, CTranslate2 float32 and int8 (beam 5)
  analysis      complexity + statistics of --analysis-pairs synthetic pairs (eflomal
                alignment included) in a child process: pairs/s and peak memory
  training      target tokens/s of fairseq-train in fp32 and in bf16 (distill.precision), the two
                alternating in one run, for the AR teacher and the ctc student at each of
                --train-sizes with the cpu preset's batches on --corpus: the median over --repeats
                runs of --train-updates updates each, the first log interval (start-up) left out

``profile`` shows where one system's time goes at batch size 1 (torch's profiler); ``openmp``
measures CTranslate2 at batch size 1 with 1..N intra-op threads under each OpenMP wait policy.
Writes <out>/bench.json, <out>/bench.md and <out>/speed_quality.png. Targets (reported, not
enforced): the best NAT student (its lean float32 path scores best) in its fastest lean runtime that
loses at most 0.5 BLEU, >= 15x the teacher at beam 5 and >= 2x the teacher in CTranslate2 int8
greedy at batch size 1; ONNX Runtime float32 gives torch's lines on >= 99 % of the test sentences
and its BLEU within 0.1; int8 and the shortlist each lose at most 0.5 BLEU; CTranslate2 int8
regeneration >= 3x fairseq with BLEU within 0.3; 1M pairs <= 10 min.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from distill.io import InputError, dispatch

TARGETS = {"nat_speedup_bs1": 15.0, "nat_vs_ct2_greedy_bs1": 2.0, "ct2_int8_speedup": 3.0, "ct2_int8_bleu_delta": 0.3,
           "analysis_1m_seconds": 600.0, "bf16_training_speedup": 1.4,
           # ONNX Runtime float32 against the same student in torch: lines identical, BLEU equal
           "onnx_identical_share": 0.99, "onnx_bleu_delta": 0.1,
           # what int8 and the vocabulary shortlist may cost, and so what the fastest system may lose
           "reduced_bleu_loss": 0.5}
SECTIONS = ("decoding", "regeneration", "analysis", "training")
TRAINING_MODELS = ("teacher", "ctc")  # the AR teacher and the headline student
TRAIN_LOG_INTERVAL = 10


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


def _latencies(translate_one, items) -> list[float]:
    """Wall seconds of ``translate_one(item)`` for each item, one call each (batch size 1)."""
    latencies = []
    for item in items:
        started = time.perf_counter()
        translate_one(item)
        latencies.append(time.perf_counter() - started)
    return latencies


def _decoding_systems(args) -> list[dict]:
    """What the decoding section measures, one spec per system (loaded later, each in its own process):
    the teacher in fairseq and in CTranslate2 int8 (beam 5 and greedy), the AR student in CTranslate2
    int8 (greedy), and each NAT student found in --students through the lean path and through fairseq."""
    from nat.registry import student_kinds

    specs = [{"name": f"teacher, {engine}, {label}", "engine": engine, "run": args.teacher, "beam": beam}
             for engine in ("fairseq", "CTranslate2 int8") for label, beam in (("beam 5", 5), ("greedy", 1))]
    for kind in student_kinds():
        runs = sorted(Path(args.students).glob(f"{kind.name}-{args.student_data}-seed*"))[:1]
        specs += [{"name": kind.name + system.suffix, "engine": system.engine, "run": str(run), **system.options}
                  for run in runs for system in kind.bench_systems()]
    if not any(spec["run"] != args.teacher for spec in specs):
        raise InputError(f"{args.students}: no <student>-{args.student_data}-seed* run; train the students first "
                         f"(make reproduce, or seqkd-nat compare)")
    return specs


# the lean engines that run a ctc student in another runtime (nat.decoding.RUNTIMES)
ENGINE_RUNTIMES = {"lean, TorchScript": "torchscript", "lean, ONNX Runtime": "onnxruntime",
                   "lean, ONNX Runtime int8": "onnxruntime"}


def _load_system(spec: dict, corpus, threads: int, max_tokens: int, device: str, one_batch_at_a_time: bool):
    """A translator for one spec (CTranslate2: ``threads`` on sub-batches, or all on one batch)."""
    from distill.ctranslate2_backend import CTranslate2Translator
    from distill.engine import checkpoint_of
    from distill.generation import DecodeSettings
    from nat.decoding import StudentSettings, load_translator

    if spec["engine"] == "CTranslate2 int8":
        return CTranslate2Translator(checkpoint_of(spec["run"]), corpus, DecodeSettings(
            beam=spec["beam"], max_tokens=max_tokens, device=device), compute_type="int8", threads=threads,
            one_batch_at_a_time=one_batch_at_a_time)
    settings = StudentSettings(iterations=spec.get("iterations", 0), max_tokens=max_tokens, device=device,
                               lean=spec["engine"].startswith("lean"),
                               runtime=ENGINE_RUNTIMES.get(spec["engine"], "eager"),
                               int8=spec["engine"].endswith("ONNX Runtime int8"), bf16=spec["engine"] == "lean, bf16",
                               dag_decoding=spec.get("dag_decoding"), shortlist=spec.get("shortlist", 0))
    return load_translator(spec["run"], corpus_dir=corpus.path, settings=settings, beam=spec.get("beam", 5))


def decoding_worker(args) -> None:
    """Child process: measure one system at each thread count; print JSON (its peak memory is its own)."""
    import torch

    from distill.corpus.directory import Corpus

    spec, corpus = json.loads(args.spec), Corpus.open(args.corpus)
    sources = corpus.lines("test", "src")
    latency_sources = sources[: args.latency_sentences]
    measured, outputs, loaded_mib, shortlist = [], None, 0.0, None
    for threads in args.threads:
        torch.set_num_threads(threads)
        translator = _load_system(spec, corpus, threads, args.max_tokens, args.device, one_batch_at_a_time=False)
        loaded_mib = max(loaded_mib, _peak_mib())
        translator.translate(sources[:8])  # warm-up (allocator, caches)
        if spec.get("shortlist") and shortlist is None:  # its size and hit rate (share of reference pieces inside)
            from nat.shortlist import translator_statistics

            shortlist = translator_statistics(translator, sources, corpus.lines("test", "tgt"))
        started = time.perf_counter()  # once per call: the rounds over all systems are bench_decoding's
        nbest = translator.translate(sources)
        batch_seconds = time.perf_counter() - started
        outputs = outputs or [h[0].text for h in nbest]
        if spec["engine"] == "CTranslate2 int8":  # one sentence at a time: all threads on it
            translator = _load_system(spec, corpus, threads, args.max_tokens, args.device, one_batch_at_a_time=True)
            translator.translate(sources[:8])
        # each sentence once: p50 and p90 over --latency-sentences calls
        latencies = _latencies(lambda line, translator=translator: translator.translate([line]), latency_sources)
        measured.append({"threads": threads, "batch_sentences_per_second": len(sources) / batch_seconds,
                         "bs1_sentences_per_second": 1 / statistics.mean(latencies),
                         "bs1_p50_ms": 1000 * statistics.median(latencies),
                         "bs1_p90_ms": 1000 * statistics.quantiles(latencies, n=10)[-1]})
        del translator
        gc.collect()
    print(json.dumps({"measured": measured, "outputs": outputs, "loaded_mib": loaded_mib, "peak_mib": _peak_mib(),
                      "shortlist": shortlist}))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_decoding(args) -> dict:
    """Every system in a child process of its own (peak memory per system), one after another."""
    from distill.corpus.directory import Corpus
    from distill.scoring import score_translations

    corpus = Corpus.open(args.corpus)
    references = corpus.references("test")
    primary = next(iter(references))
    specs = {spec["name"]: spec for spec in _decoding_systems(args)}
    # --repeats rounds over every system, each system once per round in a fresh process, the order reversed every
    # other round: a machine that drifts (another tenant, the clock) drifts for all systems alike, and every figure
    # is the median over the rounds, so the ratios between systems are measured side by side
    measured_rounds, results = {name: [] for name in specs}, {}
    for round_index in range(args.repeats):
        order = list(specs) if round_index % 2 == 0 else list(reversed(specs))
        for name in order:
            spec = specs[name]
            done = subprocess.run([sys.executable, "-m", "analysis.bench", "decoding-worker", "--spec",
                                   json.dumps(spec), "--corpus", args.corpus, "--threads", *map(str, args.threads),
                                   "--latency-sentences", str(args.latency_sentences),
                                   "--max-tokens", str(args.max_tokens), "--device", args.device],
                                  capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"decoding {name} failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if name in results:  # the same lines every round, or the table says how many rounds differed
                results[name]["rounds_with_other_outputs"] += result["outputs"] != results[name]["outputs"]
            results.setdefault(name, {**result, "rounds_with_other_outputs": 0})
            results[name]["peak_mib"] = max(results[name]["peak_mib"], result["peak_mib"])
            results[name]["loaded_mib"] = max(results[name]["loaded_mib"], result["loaded_mib"])
            measured_rounds[name].append(result["measured"])
            for measured in result["measured"]:
                print(f"  round {round_index + 1}/{args.repeats} {name:>38}, {measured['threads']} threads: "
                      f"{measured['batch_sentences_per_second']:7.1f} sent/s batched, p50 "
                      f"{measured['bs1_p50_ms']:6.1f} ms at batch size 1", flush=True)
    rows, outputs = [], {}
    for name, spec in specs.items():
        result = results[name]
        outputs[name] = result["outputs"]
        scores = score_translations(result["outputs"], references)
        for index, first in enumerate(measured_rounds[name][0]):
            per_round = [measured[index] for measured in measured_rounds[name]]
            medians = {key: statistics.median(m[key] for m in per_round) for key in first if key != "threads"}
            rows.append({"system": name, "engine": spec["engine"], "threads": first["threads"], **medians,
                         "bs1_p50_ms_rounds": [m["bs1_p50_ms"] for m in per_round], "scores": scores,
                         "rounds_with_other_outputs": result["rounds_with_other_outputs"],
                         "loaded_mib": result["loaded_mib"], "peak_mib": result["peak_mib"],
                         **({"shortlist": result["shortlist"]} if result["shortlist"] else {})})
            print(f"  {name:>38}, {first['threads']} threads: {medians['batch_sentences_per_second']:7.1f} "
                  f"sent/s batched, p50 {medians['bs1_p50_ms']:6.1f} ms at batch size 1 (median of "
                  f"{len(per_round)} rounds), BLEU {scores[primary]['bleu']:.2f}", flush=True)
    for row in rows:
        same_threads = {r["system"]: r for r in rows if r["threads"] == row["threads"]}
        base, ct2_greedy = same_threads["teacher, fairseq, beam 5"], same_threads["teacher, CTranslate2 int8, greedy"]
        row["speedup_batch"] = row["batch_sentences_per_second"] / base["batch_sentences_per_second"]
        row["speedup_bs1"] = base["bs1_p50_ms"] / row["bs1_p50_ms"]
        row["speedup_bs1_vs_ct2_greedy"] = ct2_greedy["bs1_p50_ms"] / row["bs1_p50_ms"]
    # the lean path (and its TorchScript trace) must give fairseq's outputs: identical lines per student
    identical = {}
    for name, lines in outputs.items():
        student, engine = student_of(name), specs[name]["engine"]
        if engine.startswith("lean") and not specs[name].get("dag_decoding"):  # fairseq's decodes the default path
            same = sum(a == b for a, b in zip(lines, outputs[f"{student}, fairseq"]))
            identical[name.replace(", lean", "")] = {"identical": same, "sentences": len(lines)}
    student_runs = {student_of(name): os.path.realpath(spec["run"]) for name, spec in specs.items()
                    if spec["run"] != args.teacher}
    return {"corpus": str(corpus.path), "reference": primary, "teacher": str(args.teacher),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": _machine(args.device),
            "students": f"{args.students}/*-{args.student_data}-seed*", "student_runs": student_runs,
            "test_sentences": len(references[primary]), "latency_sentences": args.latency_sentences,
            "max_tokens": args.max_tokens, "threads": args.threads, "rows": rows, "lean_identical": identical,
            "figure": _speed_quality_figure(rows, primary, Path(args.out))}


def _speed_quality_figure(rows: list[dict], reference: str, out: Path) -> str:
    """BLEU against sentences/s, batched and at batch size 1: one point per system (filled: most threads)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    most = max(row["threads"] for row in rows)
    colors = {"fairseq": "tab:gray", "CTranslate2 int8": "tab:red", "lean": "tab:blue", "lean, bf16": "tab:cyan",
              "lean, TorchScript": "tab:green", "lean, ONNX Runtime": "tab:purple",
              "lean, ONNX Runtime int8": "tab:orange"}
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for axis, key, title in ((axes[0], "batch_sentences_per_second", "batched"),
                             (axes[1], "bs1_sentences_per_second", "batch size 1")):
        for row in rows:
            bleu = row["scores"][reference]["bleu"]
            filled = row["threads"] == most
            axis.scatter(row[key], bleu, s=36, color=colors[row["engine"]], marker="o" if filled else "^",
                         facecolors=None if filled else "none")
            if filled:
                axis.annotate(row["system"], (row[key], bleu), fontsize=6.5, xytext=(4, 3), textcoords="offset points")
        axis.set_xscale("log")
        axis.set_xlabel("sentences / s (log scale)")
        axis.set_title(f"{title}: circles {most} threads, triangles fewer")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel(f"test BLEU ({reference})")
    for engine, color in colors.items():
        axes[1].scatter([], [], color=color, label=engine)
    axes[1].legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "speed_quality.png"
    figure.savefig(path, dpi=130)
    plt.close(figure)
    return path.name


def run_profile(args) -> None:
    """Where the time of one system goes at batch size 1: torch operators (the model's arithmetic)
    against everything else (tokenization, batching, generator bookkeeping, in Python)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from distill.corpus.directory import Corpus

    torch.set_num_threads(args.threads)
    corpus = Corpus.open(args.corpus)
    spec = {"name": args.run, "engine": args.engine, "run": args.run, "beam": args.beam,
            "shortlist": args.shortlist}
    translator = _load_system(spec, corpus, args.threads, 6000, "cpu", one_batch_at_a_time=True)
    exported = ENGINE_RUNTIMES.get(args.engine) == "onnxruntime"
    if exported:  # the same exported model, in a session with ONNX Runtime's profiler on
        from nat.onnx_runtime import OnnxFunction, export_onnx

        generator = translator.generator
        with tempfile.TemporaryDirectory() as scratch:
            paths = export_onnx(translator.models[0], Path(scratch) / "model.onnx", int8=args.engine.endswith("int8"),
                                states=args.shortlist > 0)
            for attribute, path in zip(generator.graphs, paths, strict=True):
                setattr(generator, attribute, OnnxFunction(path, args.threads, profile=True))
    sources = corpus.lines("test", "src")[: args.sentences]
    translator.translate(sources[:8])
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        started = time.perf_counter()
        for line in sources:
            translator.translate([line])
        wall = time.perf_counter() - started
    events = profiler.key_averages()
    in_operators = sum(event.self_cpu_time_total for event in events) / 1e6
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.top))
    print(f"{args.run} ({args.engine}{', shortlist' if args.shortlist else ''}, {args.threads} threads), "
          f"{len(sources)} sentences one at a time: {1000 * wall / len(sources):.2f} ms each under the profiler; "
          f"torch operators {in_operators / wall:.0%} of the wall time (their CPU time over the threads, so it can "
          "pass 100 %), the rest is Python outside them")
    if exported:
        times: dict[str, float] = {}
        for attribute in generator.graphs:  # the warm-up's 8 sentences included
            for operator, seconds in getattr(generator, attribute).operator_times().items():
                times[operator] = times.get(operator, 0.0) + seconds
        share = sum(times.values()) / wall
        print(f"inside ONNX Runtime ({share:.0%} of the wall time; the warm-up's 8 sentences included):")
        for operator, seconds in sorted(times.items(), key=lambda item: -item[1])[: args.top]:
            print(f"  {operator:>24} {1000 * seconds / (len(sources) + 8):7.3f} ms per sentence "
                  f"({seconds / sum(times.values()):.0%})")


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
        seconds, nbest = _median_timing(lambda translator=translator: translator.translate(sources), args.repeats)
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
    return {"corpus": str(corpus.path), "reference": primary, "teacher": teacher, "sentences": len(sources), "beam": 5,
            "threads": threads,
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
        done = subprocess.run([sys.executable, "-m", "analysis.bench", "analysis-worker", "--pairs",
                               str(args.analysis_pairs)],
                              check=True, capture_output=True, text=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    seconds = statistics.median(r["analysis_seconds"] for r in runs)
    result = {**runs[0], "analysis_seconds": seconds, "pairs_per_second": args.analysis_pairs / seconds,
              "peak_memory_mib": max(r["peak_memory_mib"] for r in runs), "repeats": len(runs),
              "all_analysis_seconds": [r["analysis_seconds"] for r in runs]}
    print(f"  complexity of {args.analysis_pairs} pairs: {seconds:.0f} s, {result['pairs_per_second']:.0f} pairs/s, "
          f"peak {result['peak_memory_mib']:.0f} MiB", flush=True)
    return result


def _training_arguments(model: str, corpus, save_dir: Path, size: str, updates: int, precision: str) -> tuple[list,
                                                                                                              str]:
    """fairseq-train arguments and plugin of a short throughput run: the main job's own (the cpu preset's
    batches and each model's schedule) at another size, nothing saved or validated."""
    from distill.engine import DISTILL_USER_DIR
    from distill.teacher import PRESETS, training_arguments
    from nat import USER_DIR
    from nat.students import student_settings, student_training_arguments

    if model == "teacher":
        settings = {**PRESETS["cpu"], "size": size, "stop_time_hours": 0}
        arguments, user_dir = training_arguments(corpus, save_dir, settings, 1, "cpu", precision), DISTILL_USER_DIR
    else:
        settings = student_settings(model, "cpu", {"size": size})
        arguments, user_dir = student_training_arguments(model, corpus, save_dir, settings, 1, "cpu",
                                                         precision), USER_DIR
    # fairseq's argparse keeps the last value of an option given twice
    return [*arguments, "--max-update", updates, "--log-interval", TRAIN_LOG_INTERVAL, "--no-save",
            "--disable-validation"], user_dir


def _interval_throughputs(train_log: Path) -> list[float]:
    """fairseq's target tokens/s (``wps``) of each log interval after the first (start-up, first batches)."""
    import re

    return [float(value) for value in re.findall(r"\| train_inner \|.* wps=([0-9.]+)", train_log.read_text())][1:]


def bench_training(args) -> dict:
    """fp32 and bf16 training throughput, alternating within each repeat so that the ratio is side by side."""
    import shutil
    import tempfile

    from distill.corpus.directory import Corpus
    from distill.engine import run_fairseq
    from distill.precision import cpu_bf16_feature

    corpus = Corpus.open(args.corpus)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-training-") as scratch:
        for model in TRAINING_MODELS:
            for size in args.train_sizes:
                measured = {"fp32": [], "bf16": []}
                for repeat in range(args.repeats):
                    for precision in measured:
                        run = Path(scratch) / f"{model}-{size}-{precision}-{repeat}"
                        arguments, user_dir = _training_arguments(model, corpus, run / "checkpoints", size,
                                                                  args.train_updates, precision)
                        run_fairseq("train", arguments, run / "train.log", echo=False, user_dir=user_dir,
                                    threads=args.train_threads, precision=precision)
                        measured[precision] += _interval_throughputs(run / "train.log")
                        shutil.rmtree(run / "checkpoints", ignore_errors=True)
                row = {"model": model, "size": size, "threads": args.train_threads,
                       **{f"{precision}_tokens_per_second": statistics.median(values)
                          for precision, values in measured.items()},
                       "intervals": {precision: len(values) for precision, values in measured.items()}}
                row["bf16_speedup"] = row["bf16_tokens_per_second"] / row["fp32_tokens_per_second"]
                rows.append(row)
                print(f"  {model:>8} {size:>6}: fp32 {row['fp32_tokens_per_second']:7.0f}, bf16 "
                      f"{row['bf16_tokens_per_second']:7.0f} target tokens/s ({row['bf16_speedup']:.2f}x)", flush=True)
    return {"corpus": str(corpus.path), "updates_per_run": args.train_updates, "log_interval": TRAIN_LOG_INTERVAL,
            "threads": args.train_threads, "repeats": args.repeats, "cpu_bf16_feature": cpu_bf16_feature(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": _machine("cpu"),
            "rows": rows}


def _machine(device: str) -> dict:
    import torch

    from distill.precision import cpu_model

    info = {"platform": platform.platform(), "processor": cpu_model() or platform.processor() or platform.machine(),
            "cpu_threads": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__,
            "device": device}
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


WAIT_POLICIES = ("default", "PASSIVE", "ACTIVE")


def run_openmp(args) -> None:
    """CTranslate2 int8 greedy at batch size 1 with 1..N intra-op threads, under each OpenMP wait policy,
    each in a child process that never imports torch: whether intra-op threads help one sentence here."""
    import os

    from distill.corpus.directory import Corpus
    from distill.ctranslate2_backend import converted_model
    from distill.engine import checkpoint_of

    model = converted_model(checkpoint_of(args.run), Corpus.open(args.corpus))
    columns = " | ".join(f"p50 ms, {n} thread{'s' if n > 1 else ''}" for n in args.threads)
    lines = ["| OMP_WAIT_POLICY | " + columns + " |",
             "|---|" + "---|" * len(args.threads)]
    for policy in WAIT_POLICIES:
        env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
        if policy != "default":
            env["OMP_WAIT_POLICY"] = policy
        cells = []
        for threads in args.threads:
            done = subprocess.run([sys.executable, "-m", "analysis.bench", "openmp-worker", "--model", str(model),
                                   "--corpus",
                                   args.corpus, "--threads", str(threads), "--sentences", str(args.sentences)],
                                  capture_output=True, text=True, env=env)
            if done.returncode:
                raise RuntimeError(f"openmp worker failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if result["torch_loaded"]:
                raise RuntimeError("the openmp worker imported torch; it must measure CTranslate2 alone")
            cells.append(f"{result['p50_ms']:.1f}")
        lines.append(f"| {policy} | " + " | ".join(cells) + " |")
    print(f"{args.run}, CTranslate2 int8 greedy, batch size 1, first {args.sentences} test sentences, "
          f"median latency; no torch in the process:\n" + "\n".join(lines))


def openmp_worker(args) -> None:
    """Child process of ``openmp``: CTranslate2 and sentencepiece only."""
    import ctranslate2
    import sentencepiece as spm

    from distill.corpus.directory import Corpus

    corpus = Corpus.open(args.corpus)
    pieces = spm.SentencePieceProcessor(model_file=str(corpus.spm_model))
    sources = [pieces.encode(line, out_type=str) for line in corpus.lines("test", "src")[: args.sentences]]
    translator = ctranslate2.Translator(args.model, device="cpu", compute_type="int8", inter_threads=1,
                                        intra_threads=args.threads)
    translator.translate_batch(sources[:8], beam_size=1)  # warm-up
    latencies = _latencies(lambda source: translator.translate_batch([source], beam_size=1), sources)
    print(json.dumps({"p50_ms": 1000 * statistics.median(latencies), "torch_loaded": "torch" in sys.modules}))


def student_of(system: str) -> str:
    """The student (or teacher) a benchmark system's name belongs to: "ctc, lean, shortlist" -> "ctc"."""
    return system.partition(", ")[0]


def _reduced(row: dict) -> bool:
    """int8 weights or a vocabulary shortlist: allowed to lose up to TARGETS["reduced_bleu_loss"]."""
    return row["engine"].endswith("int8") or "shortlist" in row


def is_plain_path(system: str) -> bool:
    """A student's lean path in eager PyTorch, float32, over the full vocabulary: "<student>, lean"."""
    return system == f"{student_of(system)}, lean"


def _full_paths(fastest: dict) -> dict[str, dict]:
    """Each student's lean float32 row over the full vocabulary (:func:`is_plain_path`), by student."""
    return {student_of(name): row for name, row in fastest.items() if is_plain_path(name)}


def _best_one_pass(fastest: dict, primary: str) -> dict | None:
    """The student whose lean float32 path scores best, in its fastest lean runtime at batch size 1 among those
    that lose at most TARGETS["reduced_bleu_loss"] BLEU against that path (int8, the shortlist: issue 36)."""
    full = _full_paths(fastest)
    if not full:
        return None
    student = max(full, key=lambda name: full[name]["scores"][primary]["bleu"])
    floor = full[student]["scores"][primary]["bleu"] - TARGETS["reduced_bleu_loss"]
    candidates = [row for name, row in fastest.items() if row["engine"].startswith("lean")
                  and student_of(name) == student and row["scores"][primary]["bleu"] >= floor]
    return min(candidates, key=lambda row: row["bs1_p50_ms"])


def _output_targets(decoding: dict, fastest: dict, primary: str) -> list[dict]:
    """ONNX Runtime float32 against torch (identical lines, equal BLEU), and what int8 and the shortlist lose,
    each against the same student's lean float32 path."""
    targets, full_paths = [], _full_paths(fastest)
    for name, row in sorted(fastest.items()):
        student = student_of(name)
        full = full_paths.get(student)
        if not row["engine"].startswith("lean") or full is None or row is full:
            continue
        delta = row["scores"][primary]["bleu"] - full["scores"][primary]["bleu"]
        if row["engine"] == "lean, ONNX Runtime" and not _reduced(row):
            same = decoding["lean_identical"][name.replace(", lean", "")]
            share, wanted = same["identical"] / same["sentences"], TARGETS["onnx_identical_share"]
            targets.append({"name": f"{name}: output lines identical to torch's", "wanted": f">= {wanted:.0%}",
                            "measured": f"{share:.1%} ({same['identical']:,} of {same['sentences']:,})",
                            "met": share >= wanted, "gap": f"{wanted - share:.1%} short"})
            targets.append({"name": f"{name}: BLEU against torch's", "wanted": f"within {TARGETS['onnx_bleu_delta']}",
                            "measured": f"{delta:+.2f}", "met": abs(delta) <= TARGETS["onnx_bleu_delta"] + 1e-9,
                            "gap": f"{abs(delta) - TARGETS['onnx_bleu_delta']:.2f} BLEU over"})
        elif _reduced(row):
            allowed = TARGETS["reduced_bleu_loss"]
            targets.append({"name": f"{name}: BLEU lost against {student}, lean (float32, full vocabulary)",
                            "wanted": f"at most {allowed}", "measured": f"{-delta:.2f}",
                            "met": -delta <= allowed + 1e-9, "gap": f"{-delta - allowed:.2f} BLEU over"})
    return targets


def _targets(report: dict) -> list[dict]:
    targets = []
    if "decoding" in report:
        # each system at its fastest thread count: what a user would run at batch size 1
        fastest = {}
        for row in report["decoding"]["rows"]:
            if row["system"] not in fastest or row["bs1_p50_ms"] < fastest[row["system"]]["bs1_p50_ms"]:
                fastest[row["system"]] = row
        primary = report["decoding"]["reference"]
        targets += _output_targets(report["decoding"], fastest, primary)
        nat = _best_one_pass(fastest, primary)
        if nat:
            bleu = nat["scores"][primary]["bleu"]
            for against, wanted in (("teacher, fairseq, beam 5", TARGETS["nat_speedup_bs1"]),
                                    ("teacher, CTranslate2 int8, greedy", TARGETS["nat_vs_ct2_greedy_bs1"])):
                other = fastest[against]
                speedup = other["bs1_p50_ms"] / nat["bs1_p50_ms"]
                targets.append({"name": f"best NAT ({nat['system']}, BLEU {bleu:.2f}, "
                                        f"{nat['threads']} thr.) vs {against} ({other['threads']} thr.), p50 at batch "
                                        f"size 1, each at its fastest thread count", "wanted": f">= {wanted:g}x",
                                "measured": f"{speedup:.2f}x ({other['bs1_p50_ms']:.1f} / {nat['bs1_p50_ms']:.1f} ms)",
                                "met": speedup >= wanted, "gap": f"{wanted / speedup:.1f}x short"})
    if "regeneration" in report:
        int8 = report["regeneration"]["rows"][-1]
        targets.append({"name": "CTranslate2 int8 vs fairseq regeneration",
                        "wanted": f">= {TARGETS['ct2_int8_speedup']:.0f}x",
                        "measured": f"{int8['speedup']:.1f}x", "met": int8["speedup"] >= TARGETS["ct2_int8_speedup"],
                        "gap": f"{TARGETS['ct2_int8_speedup'] / int8['speedup']:.1f}x short"})
        targets.append({"name": "CTranslate2 int8 BLEU difference",
                        "wanted": f"within {TARGETS['ct2_int8_bleu_delta']}",
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
    if "training" in report:
        for row in report["training"]["rows"]:
            if row["size"] == "small":
                wanted = TARGETS["bf16_training_speedup"]
                targets.append({"name": f"bf16 / fp32 training throughput, {row['model']} small "
                                        f"({report['training']['machine']['processor']})",
                                "wanted": f">= {wanted:g}x", "measured": f"{row['bf16_speedup']:.2f}x",
                                "met": row["bf16_speedup"] >= wanted,
                                "gap": f"{wanted / row['bf16_speedup']:.2f}x short"})
    return targets


def run_render(args) -> None:
    """bench.md again from bench.json (targets recomputed), without measuring anything."""
    from analysis.render import write_result  # here: the openmp worker must not import torch
    from distill.io import read_json

    out = Path(args.out)
    report = read_json(out / "bench.json")
    report["targets"] = _targets(report)
    write_result(out / "bench.json", report)
    print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")


def _default_runs(args) -> None:
    """Fill the runs that the command line leaves out from the environment and the main job's layout."""
    import os

    from analysis.settings import Settings

    layout = Settings.from_environment().layout
    env = os.environ
    args.teacher = args.teacher or env.get("TEACHER") or str(layout.teacher)
    args.students = args.students or env.get("STUDENT_RUNS") or str(layout.students)
    args.corpus = args.corpus or env.get("CORPUS") or str(layout.corpus)
    args.out = args.out or env.get("OUT") or str(layout.results / "bench")
    args.device = args.device or env.get("DEVICE") or "cpu"
    if not args.regen_teacher:
        if env.get("REGEN_TEACHER"):
            if not env.get("REGEN_CORPUS"):
                raise InputError("REGEN_TEACHER: set REGEN_CORPUS too")
            args.regen_teacher, args.regen_corpus = env["REGEN_TEACHER"], env["REGEN_CORPUS"]
        else:
            cpu = Settings.from_environment({**env, "QUICK": "0", "PRESET": "cpu", "CORPUS": ""}).layout
            if (cpu.teacher / "manifest.json").is_file() and (cpu.corpus / "manifest.json").is_file():
                args.regen_teacher, args.regen_corpus = str(cpu.teacher), str(cpu.corpus)


def run_bench(args) -> None:
    from analysis.render import write_result  # here: the openmp worker must not import torch

    _default_runs(args)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise InputError(f"--sections: unknown {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no GPU visible to torch")
    out = Path(args.out)
    report = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": _machine(args.device),
              "repeats": args.repeats, "command": " ".join(sys.argv), "teacher": args.teacher}
    if args.add_to_existing:
        from distill.io import read_json

        if not (out / "bench.json").is_file():
            raise InputError(f"--add-to-existing: {out / 'bench.json'} not found")
        kept = read_json(out / "bench.json")
        report = {**kept, "sections_added": {**kept.get("sections_added", {}), **{
            section: {"date": report["date"], "command": report["command"]} for section in sections}}}
    for section, function in (("decoding", bench_decoding), ("regeneration", bench_regeneration),
                              ("analysis", bench_analysis), ("training", bench_training)):
        if section in sections:
            print(f"{section}:", flush=True)
            report[section] = function(args)
    report["targets"] = _targets(report)
    write_result(out / "bench.json", report)
    print(f"\n{(out / 'bench.md').read_text()}\nwrote {out / 'bench.json'} and {out / 'bench.md'}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkd-bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the benchmarks and write bench.json / bench.md")
    # the defaults: the runs of `make reproduce` (QUICK=1: of `make reproduce QUICK=1`), found by its layout
    run.add_argument("--teacher", help="AR teacher run directory or checkpoint (default: TEACHER, else the main job's)")
    run.add_argument("--students", help="directory with <student>-<data>-seed<k> runs (default: STUDENT_RUNS, "
                                        "else the main job's)")
    run.add_argument("--student-data", default="distilled", choices=["distilled", "raw"])
    run.add_argument("--corpus", help="corpus directory (test set for decoding, train for regeneration; default: "
                                      "CORPUS, else the main job's)")
    run.add_argument("--out", help="default: OUT, else RESULTS/bench")
    run.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated, from %(default)s")
    run.add_argument("--add-to-existing", action="store_true",
                     help="keep the other sections of <out>/bench.json and replace only these (each section "
                          "records when it was measured)")
    run.add_argument("--repeats", type=int, default=3,
                     help="runs per measurement (the median is reported); decoding: rounds over all systems, each "
                          "system once per round in a fresh process, the order reversed every other round")
    run.add_argument("--latency-sentences", type=int, default=100, help="sentences decoded one at a time")
    run.add_argument("--regen-sentences", type=int, default=2000)
    run.add_argument("--regen-teacher", help="teacher for the regeneration section (default: REGEN_TEACHER, else the "
                     "cpu main job's teacher where it exists, else --teacher: CTranslate2's advantage grows with "
                     "model size, the quick teacher is tiny)")
    run.add_argument("--regen-corpus", help="its corpus (default: REGEN_CORPUS, else that teacher's, else --corpus)")
    run.add_argument("--analysis-pairs", type=int, default=1_000_000)
    run.add_argument("--analysis-repeats", type=int, default=1, help="1M-pair runs (each takes minutes)")
    run.add_argument("--max-tokens", type=int, default=6000, help="tokens per batch for the batched measurements")
    run.add_argument("--device", choices=["cpu", "cuda"], help="default: DEVICE, else cpu")
    run.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts of the decoding section")
    run.add_argument("--train-sizes", nargs="+", default=["tiny", "small", "medium"],
                     help="model sizes of the training section (default: %(default)s)")
    run.add_argument("--train-updates", type=int, default=40,
                     help=f"updates per training run; fairseq logs every {TRAIN_LOG_INTERVAL} (default: %(default)s)")
    run.add_argument("--train-threads", type=int, default=2,
                     help="CPU threads of each training run (default: %(default)s)")
    render = commands.add_parser("render", help="rewrite bench.md (and the targets) from <out>/bench.json")
    render.add_argument("--out", default="results/bench")
    profiler = commands.add_parser("profile", help="where one system's time goes at batch size 1 (torch's profiler; "
                                 "for the ONNX Runtime engines, ONNX Runtime's too)")
    profiler.add_argument("--run", required=True, help="teacher or student run directory")
    profiler.add_argument("--corpus", required=True, help="corpus directory (its test sources are decoded)")
    profiler.add_argument("--engine", default="lean", choices=["lean", "lean, bf16", *ENGINE_RUNTIMES, "fairseq",
                                                               "CTranslate2 int8"],
                          help="lean: one-pass students only; lean, TorchScript: ctc students only (default: "
                               "%(default)s)")
    profiler.add_argument("--beam", type=int, default=1, help="beam of an AR run (default: %(default)s)")
    profiler.add_argument("--sentences", type=int, default=100)
    profiler.add_argument("--threads", type=int, default=2)
    profiler.add_argument("--top", type=int, default=15, help="operators listed (default: %(default)s)")
    profiler.add_argument("--shortlist", type=int, default=0, metavar="K",
                          help="ctc students: decode through a vocabulary shortlist of K pieces per source piece")
    openmp = commands.add_parser("openmp", help="CTranslate2 at batch size 1: intra-op threads under each OpenMP "
                                 "wait policy (why 2 threads can be slower than 1 on a small VM)")
    openmp.add_argument("--run", required=True, help="teacher (or AR student) run directory")
    openmp.add_argument("--corpus", required=True, help="corpus directory (its test sources are decoded)")
    openmp.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    openmp.add_argument("--sentences", type=int, default=100)
    openmp_child = commands.add_parser("openmp-worker", help=argparse.SUPPRESS)
    openmp_child.add_argument("--model", required=True)
    openmp_child.add_argument("--corpus", required=True)
    openmp_child.add_argument("--threads", type=int, required=True)
    openmp_child.add_argument("--sentences", type=int, required=True)
    decoder = commands.add_parser("decoding-worker", help=argparse.SUPPRESS)
    decoder.add_argument("--spec", required=True)
    decoder.add_argument("--corpus", required=True)
    decoder.add_argument("--threads", type=int, nargs="+", required=True)
    decoder.add_argument("--latency-sentences", type=int, required=True)
    decoder.add_argument("--max-tokens", type=int, required=True)
    decoder.add_argument("--device", required=True)
    worker = commands.add_parser("analysis-worker", help=argparse.SUPPRESS)
    worker.add_argument("--pairs", type=int, required=True)
    return parser


COMMANDS = {"run": run_bench, "render": run_render, "profile": run_profile, "openmp": run_openmp,
            "decoding-worker": decoding_worker, "openmp-worker": openmp_worker,
            "analysis-worker": lambda args: analysis_worker(args.pairs)}


def main(argv: list[str] | None = None) -> int:
    return dispatch(build_parser(), COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
