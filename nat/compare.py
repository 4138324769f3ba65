"""Raw vs distilled: every student trained on both corpora over several seeds, one table.

The shape of Gu et al. (2018)'s "distillation vs no distillation" table: test BLEU (mean
± sd over seeds, sacrebleu, against every reference and all of them together), sacrebleu's
paired bootstrap p-value of distilled vs raw for each seed, and the decoding speedup over
the AR teacher (test set, batched, decoded in this process one after the other).
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


def compare(*, teacher: str, raw: str, distilled: str, out, students: list[str], seeds: list[int], preset: str,
            translator_for, overrides: dict | None = None, device: str | None = None) -> dict:
    """Train what is missing, evaluate everything on raw's test set; ``translator_for(run)`` decodes."""
    from nat.students import STUDENTS, train_student

    unknown = sorted(set(students) - set(STUDENTS))
    if unknown:
        raise InputError(f"--students: unknown {', '.join(unknown)}; choose from {', '.join(STUDENTS)}")
    if not seeds:
        raise InputError("--seeds: give at least one seed")
    test_corpus = Corpus.open(raw)
    references = test_corpus.references("test")
    out = Path(out)

    def evaluate(run) -> dict:
        return evaluate_on_split(translator_for(run), test_corpus, "test", Path(run) / "eval", "compare")

    corpora = {"raw": raw, "distilled": distilled}

    # seed by seed, so that an interrupted job leaves whole seeds done (`--seeds 1` tables them)
    for seed in seeds:
        for student in students:
            for data, corpus_dir in corpora.items():
                train_student(student, corpus_dir, student_run_dir(out, student, data, seed), preset=preset,
                              teacher=checkpoint_of(teacher), seed=seed, device=device, overrides=overrides)
    teacher_result = evaluate(teacher)
    rows = [{"system": "teacher", "data": "raw", "seeds": [],
             "bleu": {name: _summary([s["bleu"]]) for name, s in teacher_result["scores"].items()},
             "decode_wall_seconds": teacher_result["decode_wall_seconds"], "speedup": 1.0}]
    for student in students:
        outputs = {}
        for data in corpora:
            results = [evaluate(student_run_dir(out, student, data, seed)) for seed in seeds]
            outputs[data] = results
            wall = statistics.median(r["decode_wall_seconds"] for r in results)
            rows.append({"system": student, "data": data, "seeds": seeds,
                         "bleu": {name: _summary([r["scores"][name]["bleu"] for r in results])
                                  for name in results[0]["scores"]},
                         "decode_wall_seconds": wall, "speedup": teacher_result["decode_wall_seconds"] / max(wall, 1e-9)})
        rows[-1]["p_value_vs_raw"] = [paired_bootstrap(r["hypotheses"], d["hypotheses"], references)
                                      for r, d in zip(outputs["raw"], outputs["distilled"])]
    signatures = {name: score["bleu_signature"] for name, score in teacher_result["scores"].items()}
    return {"rows": rows, "teacher": teacher, "raw": str(raw), "distilled": str(distilled), "preset": preset,
            "seeds": seeds, "test_sentences": len(next(iter(references.values()))), "bleu_signatures": signatures,
            "references": list(references)}


def score_columns(result: dict) -> list[str]:
    """Reference sets in table order: each reference (primary first), then all of them together."""
    references = result["references"]
    return references + (["+".join(references)] if len(references) > 1 else [])


def markdown_table(result: dict) -> str:
    """The comparison as Markdown: BLEU mean ± sd per reference set, p-values, speedup."""
    columns = score_columns(result)
    seeds = len(result["seeds"])
    lines = ["| system | training data | " + " | ".join(f"BLEU {c}" for c in columns)
             + " | p (distilled vs raw) | speedup vs teacher |", "|---|---|" + "---|" * (len(columns) + 2)]
    for row in result["rows"]:
        cells = []
        for column in columns:
            bleu = row["bleu"][column]
            cells.append(f"{bleu['mean']:.2f}" + (f" ± {bleu['sd']:.2f}" if len(bleu["values"]) > 1 else ""))
        p_values = row.get("p_value_vs_raw")
        p_cell = ", ".join(f"{p:.3f}" for p in p_values) if p_values else ""
        name = "AR teacher (beam 5)" if row["system"] == "teacher" else row["system"]
        lines.append(f"| {name} | {row['data']} | " + " | ".join(cells) + f" | {p_cell} | {row['speedup']:.1f}x |")
    return ("\n".join(lines) + f"\n\nStudents: mean ± sd over {seeds} seed(s) ({', '.join(map(str, result['seeds']))}); "
            f"p: sacrebleu paired bootstrap (1,000 resamples) of BLEU against all references, one per seed, "
            f"two-sided (the BLEU columns give the direction); "
            f"speedup: batched decoding of the {result['test_sentences']} test sentences, same process.\n"
            + "".join(f"sacrebleu ({name}): {signature}\n" for name, signature in result["bleu_signatures"].items()))


def write_comparison(result: dict, out) -> str:
    out = Path(out)
    write_json(out / "compare.json", result)
    table = markdown_table(result)
    with atomic_open(out / "compare.md") as handle:
        handle.write(table)
    return table
