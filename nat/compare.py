"""Raw vs distilled: every student trained on both corpora over several seeds, one table.

The shape of Gu et al. (2018)'s "distillation vs no distillation" table: test BLEU (mean
± sd over seeds, sacrebleu, against every reference and all of them together), sacrebleu's
paired bootstrap p-value of distilled vs raw for each seed, and the decoding speedup over
the AR teacher (test set, batched, decoded in this process one after the other); an AR
student has a row per decoding (greedy, beam 5). Every student run also gets a learning
curve (validation BLEU at its interval checkpoints, :mod:`nat.curves`), drawn into curves.png.
Runs live in ``<out>/<student>-<raw|distilled>-seed<k>/``; finished runs are skipped, so
adding a seed or a student only trains what is missing. Several distilled corpora (SeqKD,
Seq-Inter, an ensemble teacher's, Kim & Rush 2016) can be compared at once: each is named, its
runs are ``<student>-<name>-seed<k>``, and each row says which corpus it used and what the
teacher spent on it per sentence (Shleifer & Rush 2020's "cost").
"""
from __future__ import annotations

import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from distill.corpus.directory import Corpus
from distill.engine import checkpoint_of, read_run_manifest, threads_each
from distill.io import InputError, atomic_open, read_json, write_json
from distill.scoring import evaluate_on_split, evaluation_files, run_evaluation
from distill.tables import markdown_table as write_table
from nat.registry import student_kind, student_names
from nat.students import train_student
from nat.systems import TEACHER

DISTILLED = "distilled"  # the name of the only distilled corpus, or of the unnamed one among several


def paired_bootstrap(baseline: list[str], system: list[str], references: dict[str, list[str]]) -> float:
    """sacrebleu's paired bootstrap p-value (1,000 resamples, seed 12345) of BLEU, all references."""
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    test = PairedTest([("raw", baseline), ("distilled", system)], {"BLEU": BLEU()},
                      references=list(references.values()), test_type="bs", n_samples=1000)
    _, scores = test()
    return float(scores["BLEU"][1].p_value)


def _summary(values: list[float]) -> dict:
    return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def student_run_dir(out, student: str, data: str, seed: int) -> Path:
    """Where ``compare`` keeps one student run (``data``: raw or distilled; the complexity study
    puts its students on other teachers' corpora beside them as distilled-<size>)."""
    return Path(out) / f"{student}-{data}-seed{seed}"


def decodings(student: str, iterations: int, length_beam: int = 1, rescored: bool = False) -> list:
    """How each run of ``student`` is decoded for the table (:meth:`nat.registry.StudentKind.decodings`)."""
    return student_kind(student).decodings(iterations, length_beam, rescored)


def evaluation_stem(student: str, beam: int | None, iterations: int, blank_penalty: float | None,
                    length_beam: int = 1, rescored: bool = False, strategy: str | None = None) -> str:
    """The file stem of a test-set evaluation, naming its decoding settings (so no setting overwrites another)."""
    return student_kind(student).evaluation_stem(beam, iterations, blank_penalty, length_beam, rescored, strategy)


def compare(*, teacher: str, raw: str, distilled: str | dict[str, str], out, seeds: dict[str, list[int]],
            preset: str, translator_for, iterations: int = 10, length_beam: int = 1, rescored: bool = False,
            overrides: dict | None = None, device: str | None = None, parallel_runs: int = 1,
            precision: str | None = None) -> dict:
    """Train what is missing, evaluate everything on raw's test set, draw learning curves on its valid set.

    ``distilled``: a corpus directory, or {name: directory} for several (each compared with raw);
    ``seeds`` maps each student, in table order, to its training seeds;
    ``translator_for(run, beam=None, checkpoint=None, blank_penalty=None, length_beam=None, dag_decoding=None)``
    decodes with a run (beam: AR runs only; dag_decoding: passed for DAG runs only), by default with the
    ``length_beam`` and teacher rescoring (``rescored``, which counts only with a length beam, as in decoding)
    that the table's labels name;
    ``parallel_runs``: how many runs train at a time, each with that share of the CPU threads;
    ``precision``: the students' training arithmetic (default: :func:`distill.precision.choose_precision`).
    The result's ``results`` hold one record per (system, training data, seed, decoding), with its
    scores, hypotheses file and, for distilled data, the paired bootstrap p-value against the raw
    record of the same key; :func:`table_rows` summarizes them over seeds.
    """
    from nat.curves import learning_curve

    unknown = sorted(set(seeds) - set(student_names()))
    if unknown:
        raise InputError(f"--students: unknown {', '.join(unknown)}; choose from {', '.join(student_names())}")
    if not seeds or not all(seeds.values()):
        raise InputError("--seeds: give at least one student and one seed for each")
    test_corpus = Corpus.open(raw)
    references = test_corpus.references("test")
    out = Path(out)

    def tune(student, run) -> float | None:
        """A CTC run's blank penalty, tuned on raw's validation set (cached in the run)."""
        if not student_kind(student).ctc:
            return None
        from nat.decoding import tune_blank_penalty

        return tune_blank_penalty(run, test_corpus, lambda penalty: translator_for(run, blank_penalty=penalty))[
            "blank_penalty"]

    distilled_corpora = {DISTILLED: distilled} if isinstance(distilled, (str, Path)) else dict(distilled)
    if not distilled_corpora or "raw" in distilled_corpora:
        raise InputError("--distilled: give at least one distilled corpus; 'raw' is the raw corpus's name")
    corpora = {"raw": raw, **distilled_corpora}
    costs = {}  # what the teacher spent on each corpus, and where (a GPU's figure is its host's CPU time)
    for name, path in distilled_corpora.items():
        cost = Corpus.open(path).manifest.get("distillation", {}).get("teacher_cost", {})
        costs[name] = {key: cost.get(key) for key in ("cpu_seconds_per_sentence", "device")}

    # seed by seed, so that an interrupted job leaves whole seeds done (`--seeds 1` tables them)
    jobs = [(student, corpus_dir, seed, student_run_dir(out, student, data, seed))
            for seed in sorted(set().union(*seeds.values())) for student in seeds if seed in seeds[student]
            for data, corpus_dir in corpora.items()]

    def train(job, threads=None):
        student, corpus_dir, seed, run_dir = job
        return train_student(student, corpus_dir, run_dir, preset=preset, teacher=checkpoint_of(teacher), seed=seed,
                             device=device, overrides=overrides, threads=threads, precision=precision)

    finished = [job for job in jobs if (job[3] / "manifest.json").is_file()]
    precisions = {}  # what each run was trained in, from its manifest
    for job in finished:
        precisions[job[3].name] = train(job)["precision"]  # checked against its config and skipped
    waiting = [job for job in jobs if job not in finished]
    # the rest in turns of `parallel_runs` (a student's raw and distilled runs side by side), the CPU threads
    # shared; a failed run ends the job when its turn is over, before another run starts
    for start in range(0, len(waiting), parallel_runs):
        turn = waiting[start:start + parallel_runs]
        threads = threads_each(len(turn)) if len(turn) > 1 else None
        with ThreadPoolExecutor(max_workers=len(turn)) as pool:
            futures = [pool.submit(train, job, threads) for job in turn]
        for job, future in zip(turn, futures):
            precisions[job[3].name] = future.result()["precision"]
    teacher_result = _teacher_evaluation(teacher, test_corpus, translator_for)
    results = [{"system": "teacher", "data": "raw", "seed": None, "decoding": "beam 5", **teacher_result}]
    curves = []
    for student, student_seeds in seeds.items():
        for decoding in decodings(student, iterations, length_beam, rescored):
            hypotheses = {}
            path = {"dag_decoding": decoding.strategy} if decoding.strategy else {}
            for data in corpora:
                for seed in student_seeds:
                    run = student_run_dir(out, student, data, seed)
                    penalty = tune(student, run)
                    stem = evaluation_stem(student, decoding.beam, iterations, penalty, length_beam, rescored,
                                           decoding.strategy)
                    evaluation = run_evaluation(
                        run, lambda run=run, beam=decoding.beam, path=path: translator_for(run, beam=beam, **path),
                        test_corpus, "test", run / "eval", stem)
                    hypotheses[data, seed] = evaluation.pop("hypotheses")
                    results.append({"system": student, "data": data, "seed": seed, "decoding": decoding.label,
                                    "train_wall_seconds": read_run_manifest(run).get("train_wall_seconds"),
                                    **({"blank_penalty": penalty} if student_kind(student).ctc else {}),
                                    **_record(evaluation, run / "eval", stem)})
                    if data != "raw":
                        results[-1]["p_value_vs_raw"] = paired_bootstrap(hypotheses["raw", seed],
                                                                         hypotheses[data, seed], references)
        for data in corpora:
            for seed in student_seeds:
                run = student_run_dir(out, student, data, seed)
                # one plain pass (argmax for CTC, no length beam), so a cached curve holds for every decoding
                points = learning_curve(run, test_corpus, lambda checkpoint, run=run: translator_for(
                    run, beam=1, checkpoint=checkpoint, blank_penalty=0.0, length_beam=1))
                curves.append({"student": student, "data": data, "seed": seed, "points": points})
    teacher_valid = _teacher_evaluation(teacher, test_corpus, translator_for, "valid")["scores"]
    signatures = {name: score["bleu_signature"] for name, score in teacher_result["scores"].items()}
    return {"results": results, "teacher": teacher, "raw": str(raw),
            "distilled": str(next(iter(distilled_corpora.values()))),
            "distilled_corpora": {name: str(path) for name, path in distilled_corpora.items()},
            "teacher_cost": costs, "preset": preset, "overrides": overrides or {},
            "precisions": dict(sorted(precisions.items())),
            "seeds": seeds, "test_sentences": len(next(iter(references.values()))), "bleu_signatures": signatures,
            "references": list(references), "curves": curves,
            # against the primary reference, as the curves' points (the JSON's keys are sorted, so not its first)
            "teacher_valid_bleu": teacher_valid[next(iter(test_corpus.references("valid")))]["bleu"]}


def _record(evaluation: dict, out_dir: Path, stem: str) -> dict:
    """What the results keep of an evaluation: its scores, decoding time and where its files are."""
    hypotheses, scores = evaluation_files(out_dir, stem)
    return {"scores": evaluation["scores"], "decode_wall_seconds": evaluation["decode_wall_seconds"],
            "hypotheses": str(hypotheses), "evaluation": str(scores)}


def _teacher_evaluation(teacher, corpus: Corpus, translator_for, split: str = "test") -> dict:
    """The teacher's evaluation on a split at beam 5: the one ``train-teacher`` (or an earlier
    ``compare``) wrote when it is of this run and corpus, else made now under the same name."""
    from distill.teacher import teacher_evaluation_stem

    out_dir, stem = Path(teacher) / "eval", teacher_evaluation_stem(corpus, split, 5)
    if not Path(teacher).is_dir():  # a checkpoint file, not a run: nothing to keep its evaluation by
        return _record(evaluate_on_split(translator_for(teacher, beam=5), corpus, split, out_dir, stem,
                                         details={"beam": 5}), out_dir, stem)
    return _record(run_evaluation(teacher, lambda: translator_for(teacher, beam=5), corpus, split, out_dir, stem,
                                  details={"beam": 5}), out_dir, stem)


def table_rows(result: dict) -> list[dict]:
    """The comparison's table: one row per (system, training data, decoding) in the order of
    ``results``, with BLEU per reference set summarized over its seeds (mean, sd, values), the
    per-seed p-values of distilled rows, the median decoding time and the speedup over the teacher."""
    groups: dict[tuple, list[dict]] = {}
    for record in result["results"]:
        groups.setdefault((record["system"], record["data"], record["decoding"]), []).append(record)
    teacher_seconds = groups["teacher", "raw", "beam 5"][0]["decode_wall_seconds"]
    rows = []
    for (system, data, decoding), records in groups.items():
        wall = statistics.median(r["decode_wall_seconds"] for r in records)
        rows.append({"system": system, "data": data, "decoding": decoding,
                     "seeds": [r["seed"] for r in records if r["seed"] is not None],
                     "bleu": {name: _summary([r["scores"][name]["bleu"] for r in records])
                              for name in records[0]["scores"]},
                     **({"p_value_vs_raw": [r["p_value_vs_raw"] for r in records]} if data != "raw" else {}),
                     "decode_wall_seconds": wall, "speedup": teacher_seconds / max(wall, 1e-9)})
    return rows


def score_columns(result: dict) -> list[str]:
    """Reference sets in table order: each reference (primary first), then all of them together."""
    references = result["references"]
    return references + (["+".join(references)] if len(references) > 1 else [])


def markdown_table(result: dict) -> str:
    """The comparison as Markdown: BLEU mean ± sd per reference set, p-values, speedup."""
    columns = score_columns(result)
    rows = []
    for row in table_rows(result):
        cells = []
        for column in columns:
            bleu = row["bleu"][column]
            cells.append(f"{bleu['mean']:.2f}" + (f" ± {bleu['sd']:.2f}" if len(bleu["values"]) > 1 else ""))
        p_values = row.get("p_value_vs_raw")
        name = TEACHER.label if row["system"] == TEACHER.student else row["system"]
        rows.append([name, row["data"], row["decoding"], ",".join(map(str, row["seeds"])), *cells,
                     ", ".join(f"{p:.3f}" for p in p_values or []), f"{row['speedup']:.1f}x"])
    lines = [write_table(["system", "training data", "decoding", "seeds", *(f"BLEU {c}" for c in columns),
                          "p (distilled vs raw)", "speedup vs teacher"], rows)]
    return ("\n".join(lines) + "\n\nStudents: mean ± sd over the seeds of their row; "
            f"p: sacrebleu paired bootstrap (1,000 resamples) of BLEU against all references, one per seed, "
            f"two-sided (the BLEU columns give the direction).\nSpeedup: batched decoding of the "
            f"{result['test_sentences']} test sentences against the teacher's at beam 5 (same job, not side by "
            f"side: see scripts/bench.sh).\n"
            + "".join(f"sacrebleu ({name}): {signature}\n" for name, signature in result["bleu_signatures"].items()))


def distilled_names(result: dict) -> list[str]:
    """The comparison's distilled corpora, in command-line order (results written before there could be
    several have one, named ``distilled``)."""
    return list(dict.fromkeys(r["data"] for r in result["results"] if r["data"] != "raw" and r["system"] != "teacher"))


def gain_table(result: dict) -> str:
    """Markdown: per student, decoding and distilled corpus, distilled minus raw BLEU (primary reference, mean
    over seeds), how many seeds are significant (p < 0.01), each side as a share of the teacher's BLEU, and
    what the teacher spent on the corpus per sentence."""
    primary = result["references"][0]
    table = table_rows(result)
    teacher = next(row for row in table if row["system"] == "teacher")["bleu"][primary]["mean"]
    rows = {(row["system"], row["decoding"], row["data"]): row for row in table if row["system"] != "teacher"}
    costs = result.get("teacher_cost", {})
    lines = []
    for system, decoding, data in rows:
        if data == "raw":
            continue
        raw, distilled = rows[system, decoding, "raw"], rows[system, decoding, data]
        delta = distilled["bleu"][primary]["mean"] - raw["bleu"][primary]["mean"]
        significant = sum(p < 0.01 for p in distilled["p_value_vs_raw"])
        cost = costs.get(data, {})
        cost = (f"{1000 * cost['cpu_seconds_per_sentence']:.1f} ({cost['device']})"
                if cost.get("cpu_seconds_per_sentence") is not None else "")
        share = {side: f"{row['bleu'][primary]['mean'] / teacher:.0%}" for side, row in (("raw", raw),
                                                                                       ("distilled", distilled))}
        lines.append([system, decoding, data, f"{delta:+.2f}", f"{significant} of {len(distilled['p_value_vs_raw'])}",
                      share["raw"], share["distilled"], cost])
    lines = [write_table(["system", "decoding", "distilled corpus", f"distilled − raw, BLEU {primary}",
                          "seeds with p < 0.01", "raw / teacher", "distilled / teacher",
                          "teacher cost, CPU ms per sentence (device)"], lines)]
    return "\n".join(lines) + ("\n\nTeacher cost: the regeneration's CPU time per sentence, where it ran (on a GPU, "
                               "the host's CPU time: not comparable with a CPU's).\n")


def training_loss_table(result: dict) -> str:
    """Markdown: each student's training loss at its last update on raw vs each distilled corpus's targets
    (mean over seeds): distilled data should be clearly easier to fit (Zhou et al. 2020)."""
    losses: dict[tuple, list[float]] = {}
    updates = {}
    for curve in result["curves"]:
        last = curve["points"][-1] if curve["points"] else {}
        if last.get("train_loss") is not None:
            losses.setdefault((curve["student"], curve["data"]), []).append(last["train_loss"])
            updates[curve["student"]] = last["updates"]
    data = ["raw", *distilled_names(result)]
    lines = [write_table(["student", "updates", *(f"training loss, {name} targets" for name in data)],
                         ([student, updates[student],
                           *(f"{statistics.mean(losses[student, name]):.3f}" if (student, name) in losses else ""
                             for name in data)] for student in updates))]
    return "\n".join(lines) + "\n\nfairseq's training loss (its criterion's units, per target token) over the " \
                              "last log interval, mean over seeds.\n"


def student_precisions(result: dict) -> list[str]:
    """The precisions the students' runs were trained in (none for a compare.json older than the choice)."""
    return sorted(set(result.get("precisions", {}).values()))


def settings_line(result: dict) -> str:
    """What the students were trained with: the preset and what the command line changed in it."""
    changed = ", ".join(f"{key.replace('_', '-')} {value}" for key, value in sorted(result.get("overrides",
                                                                                               {}).items()))
    precisions = student_precisions(result)
    trained = f"; trained in {' and '.join(precisions)}" if precisions else ""
    return (f"Students: preset `{result['preset']}` with each student's own schedule (nat/registry.py){trained}"
            + (f"; changed on the command line: {changed}." if changed else "."))


def write_comparison(result: dict, out) -> str:
    """compare.json, compare.md and the learning curves (curves.png) in ``out``."""
    from nat.curves import plot_curves

    out = Path(out)
    write_json(out / "compare.json", result)
    plot_curves(result["curves"], out / "curves.png", result["teacher_valid_bleu"])
    table = comparison_markdown(read_json(out / "compare.json"))  # as `seqkd-report render` renders the file
    with atomic_open(out / "compare.md") as handle:
        handle.write(table)
    return table


def comparison_markdown(result: dict) -> str:
    """compare.md: the settings line, the score table, the gain table and the training losses."""
    return (settings_line(result) + "\n\n" + markdown_table(result) + "\n" + gain_table(result) + "\n"
            + training_loss_table(result))
