"""Raw vs distilled: every student trained on both corpora over several seeds, one table.

The shape of Gu et al. (2018)'s "distillation vs no distillation" table: test BLEU (mean
± sd over seeds, sacrebleu, against every reference and all of them together), sacrebleu's
paired bootstrap p-value of distilled vs raw for each seed, and the decoding speedup over
the AR teacher (test set, batched, decoded in this process one after the other); an AR
student has a row per decoding (greedy, beam 5). Every student run also gets a learning
curve (validation BLEU at its interval checkpoints, :mod:`nat.curves`), drawn into curves.png.
Runs live in ``<out>/<student>-<raw|distilled>-seed<k>/``; finished runs are skipped, so
adding a seed or a student only trains what is missing.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from distill.corpus.directory import Corpus
from distill.engine import checkpoint_of
from distill.io import InputError, atomic_open, write_json
from distill.scoring import evaluate_on_split
from nat.students import AUTOREGRESSIVE, CTC_STUDENTS, STUDENTS, train_student

DATA = ("raw", "distilled")


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


def decodings(student: str, iterations: int) -> list[tuple[str, int | None]]:
    """How each run of ``student`` is decoded for the table: (label, beam size for AR runs)."""
    if student in AUTOREGRESSIVE:  # the SeqKD question: does greedy come close to beam search?
        return [("greedy", 1), ("beam 5", 5)]
    if student == "cmlm":
        return [(f"{iterations} iterations", None)]
    if student in CTC_STUDENTS:
        return [("one pass, blank penalty tuned on valid", None)]
    return [("one pass", None)]


def compare(*, teacher: str, raw: str, distilled: str, out, seeds: dict[str, list[int]], preset: str,
            translator_for, iterations: int = 10, overrides: dict | None = None, device: str | None = None) -> dict:
    """Train what is missing, evaluate everything on raw's test set, draw learning curves on its valid set.

    ``seeds`` maps each student, in table order, to its training seeds;
    ``translator_for(run, beam=None, checkpoint=None)`` decodes with a run (beam: AR runs only).
    """
    from nat.curves import learning_curve

    unknown = sorted(set(seeds) - set(STUDENTS))
    if unknown:
        raise InputError(f"--students: unknown {', '.join(unknown)}; choose from {', '.join(STUDENTS)}")
    if not seeds or not all(seeds.values()):
        raise InputError("--seeds: give at least one student and one seed for each")
    test_corpus = Corpus.open(raw)
    references = test_corpus.references("test")
    out = Path(out)

    def evaluate(run, beam=None, split="test") -> dict:
        stem = "compare" if beam is None else f"compare.beam{beam}"
        return evaluate_on_split(translator_for(run, beam=beam), test_corpus, split, Path(run) / "eval",
                                 stem if split == "test" else f"{stem}.{split}")

    def tune(student, run) -> float | None:
        """A CTC run's blank penalty, tuned on raw's validation set (cached in the run)."""
        if student not in CTC_STUDENTS:
            return None
        from nat.decoding import tune_blank_penalty

        return tune_blank_penalty(run, test_corpus, lambda penalty: translator_for(run, blank_penalty=penalty))[
            "blank_penalty"]

    corpora = {"raw": raw, "distilled": distilled}

    # seed by seed, so that an interrupted job leaves whole seeds done (`--seeds 1` tables them)
    for seed in sorted(set().union(*seeds.values())):
        for student in (s for s, its_seeds in seeds.items() if seed in its_seeds):
            for data, corpus_dir in corpora.items():
                train_student(student, corpus_dir, student_run_dir(out, student, data, seed), preset=preset,
                              teacher=checkpoint_of(teacher), seed=seed, device=device, overrides=overrides)
    teacher_result = evaluate(teacher, beam=5)
    rows = [{"system": "teacher", "data": "raw", "decoding": "beam 5", "seeds": [],
             "bleu": {name: _summary([s["bleu"]]) for name, s in teacher_result["scores"].items()},
             "decode_wall_seconds": teacher_result["decode_wall_seconds"], "speedup": 1.0}]
    curves = []
    for student, student_seeds in seeds.items():
        for decoding, beam in decodings(student, iterations):
            outputs = {}
            for data in corpora:
                runs = [student_run_dir(out, student, data, seed) for seed in student_seeds]
                penalties = [tune(student, run) for run in runs]
                results = [evaluate(run, beam=beam) for run in runs]
                outputs[data] = results
                wall = statistics.median(r["decode_wall_seconds"] for r in results)
                rows.append({"system": student, "data": data, "decoding": decoding, "seeds": student_seeds,
                             **({"blank_penalty": penalties} if student in CTC_STUDENTS else {}),
                             "bleu": {name: _summary([r["scores"][name]["bleu"] for r in results])
                                      for name in results[0]["scores"]},
                             "decode_wall_seconds": wall,
                             "speedup": teacher_result["decode_wall_seconds"] / max(wall, 1e-9)})
            rows[-1]["p_value_vs_raw"] = [paired_bootstrap(r["hypotheses"], d["hypotheses"], references)
                                          for r, d in zip(outputs["raw"], outputs["distilled"])]
        for data in corpora:
            for seed in student_seeds:
                run = student_run_dir(out, student, data, seed)
                points = learning_curve(run, test_corpus, lambda checkpoint: translator_for(
                    run, beam=1, checkpoint=checkpoint, blank_penalty=0.0))  # plain argmax for CTC
                curves.append({"student": student, "data": data, "seed": seed, "points": points})
    teacher_valid = evaluate(teacher, beam=5, split="valid")["scores"]
    signatures = {name: score["bleu_signature"] for name, score in teacher_result["scores"].items()}
    return {"rows": rows, "teacher": teacher, "raw": str(raw), "distilled": str(distilled), "preset": preset,
            "seeds": seeds, "test_sentences": len(next(iter(references.values()))), "bleu_signatures": signatures,
            "references": list(references), "curves": curves,
            "teacher_valid_bleu": next(iter(teacher_valid.values()))["bleu"]}


def score_columns(result: dict) -> list[str]:
    """Reference sets in table order: each reference (primary first), then all of them together."""
    references = result["references"]
    return references + (["+".join(references)] if len(references) > 1 else [])


def markdown_table(result: dict) -> str:
    """The comparison as Markdown: BLEU mean ± sd per reference set, p-values, speedup."""
    columns = score_columns(result)
    lines = ["| system | training data | decoding | seeds | " + " | ".join(f"BLEU {c}" for c in columns)
             + " | p (distilled vs raw) | speedup vs teacher |", "|---|---|---|---|" + "---|" * (len(columns) + 2)]
    for row in result["rows"]:
        cells = []
        for column in columns:
            bleu = row["bleu"][column]
            cells.append(f"{bleu['mean']:.2f}" + (f" ± {bleu['sd']:.2f}" if len(bleu["values"]) > 1 else ""))
        p_values = row.get("p_value_vs_raw")
        p_cell = ", ".join(f"{p:.3f}" for p in p_values) if p_values else ""
        name = "AR teacher" if row["system"] == "teacher" else row["system"]
        lines.append(f"| {name} | {row['data']} | {row['decoding']} | {','.join(map(str, row['seeds']))} | "
                     + " | ".join(cells)
                     + f" | {p_cell} | {row['speedup']:.1f}x |")
    return ("\n".join(lines) + "\n\nStudents: mean ± sd over the seeds of their row; "
            f"p: sacrebleu paired bootstrap (1,000 resamples) of BLEU against all references, one per seed, "
            f"two-sided (the BLEU columns give the direction); "
            f"speedup: batched decoding of the {result['test_sentences']} test sentences, same process.\n"
            + "".join(f"sacrebleu ({name}): {signature}\n" for name, signature in result["bleu_signatures"].items()))


def gain_table(result: dict) -> str:
    """Markdown: per student and decoding, distilled minus raw BLEU (primary reference, mean over seeds),
    how many seeds are significant (p < 0.01), and each side as a share of the teacher's BLEU."""
    primary = result["references"][0]
    teacher = next(row for row in result["rows"] if row["system"] == "teacher")["bleu"][primary]["mean"]
    rows = {(row["system"], row["decoding"], row["data"]): row for row in result["rows"] if row["system"] != "teacher"}
    lines = [f"| system | decoding | distilled − raw, BLEU {primary} | seeds with p < 0.01 | raw / teacher "
             "| distilled / teacher |", "|---|---|---|---|---|---|"]
    for system, decoding in dict.fromkeys((system, decoding) for system, decoding, _ in rows):
        raw, distilled = rows[system, decoding, "raw"], rows[system, decoding, "distilled"]
        delta = distilled["bleu"][primary]["mean"] - raw["bleu"][primary]["mean"]
        significant = sum(p < 0.01 for p in distilled["p_value_vs_raw"])
        lines.append(f"| {system} | {decoding} | {delta:+.2f} | {significant} of {len(distilled['p_value_vs_raw'])} | "
                     f"{raw['bleu'][primary]['mean'] / teacher:.0%} | {distilled['bleu'][primary]['mean'] / teacher:.0%} |")
    return "\n".join(lines) + "\n"


def write_comparison(result: dict, out) -> str:
    """compare.json, compare.md and the learning curves (curves.png) in ``out``."""
    from nat.curves import plot_curves

    out = Path(out)
    write_json(out / "compare.json", result)
    plot_curves(result["curves"], out / "curves.png", result["teacher_valid_bleu"])
    table = markdown_table(result) + "\n" + gain_table(result)
    with atomic_open(out / "compare.md") as handle:
        handle.write(table)
    return table
