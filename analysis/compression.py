"""Distillation for compression of autoregressive students: the two tables the distillation talk this project follows
puts at its centre, on our corpora, with the cost of each method measured.

- **Kim & Rush (2016)**, "Sequence-Level Knowledge Distillation": a small AR student trained as the baseline, with
  word-level KD (per token, ``(1 - alpha) NLL + alpha KL(p_teacher || p_student)``), with sequence-level KD (the
  teacher's beam output), with Seq-Inter (the n-best output closest to the reference) and with word-level plus
  sequence-level KD; decoded greedily and with beam 5. Their findings: SeqKD beats word-level KD; a SeqKD student
  decoded greedily comes close to its own beam search.
- **Shleifer & Rush (2020)**, "Pre-trained Summarization Distillation": Score and Cost of Shrink (the student
  starts from a copy of the teacher's embeddings, encoder and maximally spaced decoder layers, then is fine-tuned on
  the raw data), KD (word-level) and SeqKD. Their finding: shrink and fine-tune is a strong, cheap baseline; SeqKD
  wins for translation, at a higher cost.

Cost, as Shleifer & Rush count it: the student's training plus what its method needs from the teacher (its
regeneration of the training set for SeqKD and Seq-Inter; for word-level KD the teacher's forward passes, which run
inside the student's training and so are in its training time); hours of wall time on the machine that ran it. The
teacher's own training is shared by every method and reported once.

:func:`compression_result` computes the typed result from the runs' own files; :func:`markdown` and :func:`plot`
render it. The job that trains everything is ``seqkd-reproduce compression`` (scripts/compression_tables.sh).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from distill.io import InputError, read_json

BEAMS = (1, 5)  # greedy and beam 5: Kim & Rush report both


@dataclass(frozen=True)
class Method:
    """One row of the table: how its student is trained. ``data``: the training corpus (raw, or the teacher's
    seqkd / seq-inter regeneration); ``word_kd``: with the word-level KD criterion; ``shrink``: started from the
    teacher's layers."""

    name: str
    key: str  # its runs' directory names: <key>-seed<k>
    data: str
    word_kd: bool = False
    shrink: bool = False


METHODS = (
    Method("Baseline", "baseline", "raw"),
    Method("Word-KD", "word-kd", "raw", word_kd=True),
    Method("SeqKD", "seqkd", "seqkd"),
    Method("Seq-Inter", "seq-inter", "seq-inter"),
    Method("Word-KD + SeqKD", "word-kd-seqkd", "seqkd", word_kd=True),
    Method("Shrink", "shrink", "raw", shrink=True),
    Method("Shrink + SeqKD", "shrink-seqkd", "seqkd", shrink=True),
)
DISTILLED_DATA = ("seqkd", "seq-inter")  # the regenerations by the teacher (distill regenerate --method)


def run_dir(runs: Path, each: Method, seed: int, alpha: float) -> Path:
    """Where one student run of the table is (word-level KD's runs are named by their alpha too, so the ones
    trained to choose it on valid sit beside the others)."""
    return Path(runs) / (f"{each.key}-a{alpha:g}-seed{seed}" if each.word_kd else f"{each.key}-seed{seed}")


def _summary(values: list[float]) -> dict:
    return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def _evaluation(run: Path, corpus, beam: int) -> tuple[dict, list[str]]:
    """A run's test scores and hypotheses at ``beam`` on ``corpus`` (a Corpus), as ``seqkd-distill evaluate``
    wrote them."""
    from distill.io import read_lines
    from distill.scoring import evaluation_files
    from distill.teacher import teacher_evaluation_stem

    hypotheses, scores = evaluation_files(run / "eval", teacher_evaluation_stem(corpus, "test", beam))
    return read_json(scores), read_lines(hypotheses)


def compression_result(runs: Path, corpus: Path, distilled: dict[str, Path], teacher: Path, seeds: list[int],
                       alpha: float, alphas: dict[str, float] | None = None) -> dict:
    """The table from the runs' own files: per method and decoding BLEU mean and sd over ``seeds``, sacrebleu's
    paired bootstrap p against the baseline of the same seed (and SeqKD against Word-KD), and the cost in hours.

    ``runs``: the directory of ``<method>-seed<k>`` runs and of the teacher; ``distilled``: the regenerated
    corpora by data name; ``alpha``: word-level KD's weight chosen on valid (``alphas``: each candidate's valid
    BLEU)."""
    from distill.corpus.directory import Corpus
    from distill.engine import read_run_manifest
    from nat.compare import paired_bootstrap

    raw = Corpus.open(corpus)
    references = raw.references("test")
    primary = next(iter(references))
    regeneration_hours = {data: Corpus.open(path).manifest["distillation"]["teacher_cost"]["wall_seconds"] / 3600
                          for data, path in distilled.items()}
    outputs, rows = {}, []
    for each in METHODS:
        row = {"method": each.name, "key": each.key, "data": each.data, "word_kd": each.word_kd,
               "shrink": each.shrink, "decodings": {}}
        hours = []
        for seed in seeds:
            run = run_dir(runs, each, seed, alpha)
            if not (run / "manifest.json").is_file():
                raise InputError(f"{run}: not trained; run the compression job (scripts/compression_tables.sh)")
            hours.append(read_run_manifest(run)["train_wall_seconds"] / 3600 + regeneration_hours.get(each.data, 0.0))
        row["cost_hours"] = _summary(hours)
        row["student_hours"] = _summary([h - regeneration_hours.get(each.data, 0.0) for h in hours])
        for beam in BEAMS:
            bleu, p_baseline = [], []
            for seed in seeds:
                scores, hypotheses = _evaluation(run_dir(runs, each, seed, alpha), raw, beam)
                outputs[each.key, beam, seed] = hypotheses
                bleu.append(scores["scores"][primary]["bleu"])
                if each.key != "baseline":
                    p_baseline.append(paired_bootstrap(outputs["baseline", beam, seed], hypotheses, references))
            row["decodings"][str(beam)] = {"bleu": _summary(bleu), "p_vs_baseline": p_baseline or None,
                                           "signature": scores["scores"][primary]["bleu_signature"]}
        rows.append(row)
    seqkd_vs_word_kd = {str(beam): [paired_bootstrap(outputs["word-kd", beam, seed], outputs["seqkd", beam, seed],
                                                     references) for seed in seeds] for beam in BEAMS}
    teacher_manifest = read_run_manifest(teacher)
    teacher_scores = {str(beam): _evaluation(teacher, raw, beam)[0]["scores"][primary]["bleu"] for beam in BEAMS}
    return {"corpus": str(corpus), "reference": primary, "seeds": seeds, "rows": rows,
            "seqkd_vs_word_kd_p": seqkd_vs_word_kd, "word_kd_alpha": alpha, "word_kd_alphas_valid_bleu": alphas,
            "regeneration_hours": regeneration_hours,
            "teacher": {"run": str(teacher), "model": teacher_manifest["model"], "bleu": teacher_scores,
                        "train_hours": teacher_manifest["train_wall_seconds"] / 3600},
            "student_model": read_run_manifest(run_dir(runs, METHODS[0], seeds[0], alpha))["model"]}


def _row(result: dict, key: str) -> dict:
    return next(row for row in result["rows"] if row["key"] == key)


def _bleu(row: dict, beam: int) -> float:
    return row["decodings"][str(beam)]["bleu"]["mean"]


def verdicts(result: dict) -> list[dict]:
    """The two papers' findings, each checked against the result: {"paper", "finding", "holds", "numbers"}."""
    base, word, seqkd, shrink = (_row(result, key) for key in ("baseline", "word-kd", "seqkd", "shrink"))
    found = []
    wins = [beam for beam in BEAMS if _bleu(seqkd, beam) > _bleu(word, beam)]
    found.append({"paper": "Kim & Rush 2016", "finding": "sequence-level KD beats word-level KD",
                  "holds": len(wins) == len(BEAMS),
                  "numbers": "; ".join(f"{'greedy' if beam == 1 else f'beam {beam}'}: SeqKD {_bleu(seqkd, beam):.2f} "
                                       f"vs Word-KD {_bleu(word, beam):.2f} (p "
                                       f"{', '.join(f'{p:.3f}' for p in result['seqkd_vs_word_kd_p'][str(beam)])})"
                                       for beam in BEAMS)})
    gap_seqkd, gap_base = _bleu(seqkd, 5) - _bleu(seqkd, 1), _bleu(base, 5) - _bleu(base, 1)
    found.append({"paper": "Kim & Rush 2016",
                  "finding": "a SeqKD student decoded greedily comes close to its beam search (closer than the "
                             "baseline)",
                  "holds": gap_seqkd < gap_base,
                  "numbers": f"beam 5 − greedy: SeqKD {gap_seqkd:+.2f}, baseline {gap_base:+.2f} BLEU"})
    cost = {row["key"]: row["cost_hours"]["mean"] for row in result["rows"]}
    found.append({"paper": "Shleifer & Rush 2020",
                  "finding": "shrink and fine-tune is a strong, cheap baseline (above the baseline, at no more cost "
                             "than word-level KD)",
                  "holds": _bleu(shrink, 5) > _bleu(base, 5) and cost["shrink"] <= cost["word-kd"],
                  "numbers": f"beam 5: Shrink {_bleu(shrink, 5):.2f} vs baseline {_bleu(base, 5):.2f}; cost "
                             f"{cost['shrink']:.2f} h vs Word-KD {cost['word-kd']:.2f} h"})
    best_other = max(_bleu(shrink, 5), _bleu(word, 5))
    found.append({"paper": "Shleifer & Rush 2020",
                  "finding": "SeqKD wins for translation, at a higher cost than Shrink",
                  "holds": _bleu(seqkd, 5) > best_other and cost["seqkd"] > cost["shrink"],
                  "numbers": f"beam 5: SeqKD {_bleu(seqkd, 5):.2f}, Shrink {_bleu(shrink, 5):.2f}, Word-KD "
                             f"{_bleu(word, 5):.2f}; cost SeqKD {cost['seqkd']:.2f} h vs Shrink "
                             f"{cost['shrink']:.2f} h"})
    return found


def _mean_sd(summary: dict) -> str:
    return f"{summary['mean']:.2f} ± {summary['sd']:.2f}" if len(summary["values"]) > 1 else f"{summary['mean']:.2f}"


def _ps(values: list[float] | None) -> str:
    return ", ".join(f"{p:.3f}" for p in values) if values else ""


def markdown(result: dict, figure: str | None = None) -> str:
    """The report section: the table, the teacher, how cost is counted, and the papers' findings checked."""
    from distill.tables import markdown_table

    teacher, student = result["teacher"], result["student_model"]
    seeds = len(result["seeds"])
    lines = ["## Compression: word-level KD, SeqKD, Seq-Inter and shrink for an autoregressive student", "",
             f"Teacher: {teacher['model'].get('encoder_layers', teacher['model']['layers'])}+"
             f"{teacher['model'].get('decoder_layers', teacher['model']['layers'])} layers, d = "
             f"{teacher['model']['embed_dim']}, test BLEU {teacher['bleu']['1']:.2f} greedy, {teacher['bleu']['5']:.2f}"
             f" beam 5, trained in {teacher['train_hours']:.2f} h (shared by every method, not in the cost column). "
             f"Student: {student.get('encoder_layers', student['layers'])}+"
             f"{student.get('decoder_layers', student['layers'])} layers, d = {student['embed_dim']}; seeds "
             f"{', '.join(map(str, result['seeds']))}; word-level KD alpha {result['word_kd_alpha']:g}"
             + (" (chosen on valid, greedy BLEU: " + ", ".join(f"{a} → {b:.2f}" for a, b in
                                                                result["word_kd_alphas_valid_bleu"].items()) + ")"
                if result.get("word_kd_alphas_valid_bleu") else "") + ".", ""]
    header = ["method", "training data", "BLEU greedy", "p vs baseline", "BLEU beam 5", "p vs baseline",
              "cost, hours"]
    body = [[row["method"], row["data"], _mean_sd(row["decodings"]["1"]["bleu"]),
             _ps(row["decodings"]["1"]["p_vs_baseline"]), _mean_sd(row["decodings"]["5"]["bleu"]),
             _ps(row["decodings"]["5"]["p_vs_baseline"]), f"{row['cost_hours']['mean']:.2f}"]
            for row in result["rows"]]
    lines += [markdown_table(header, body), "",
              f"BLEU ({result['reference']}): mean ± sd over {seeds} seed{'s' if seeds > 1 else ''}; p: sacrebleu's "
              "paired bootstrap (1,000 resamples) against the baseline of the same seed, one per seed. Cost: the "
              "student's training wall time plus, for SeqKD and Seq-Inter, the teacher's regeneration of the "
              "training set (" + ", ".join(f"{data} {hours:.2f} h" for data, hours in
                                           result["regeneration_hours"].items()) + "); word-level KD's teacher "
              "passes are inside its training time.", "",
              f"sacrebleu: {result['rows'][0]['decodings']['5']['signature']}", ""]
    if figure:
        lines += [f"![BLEU against cost]({figure})", ""]
    lines += ["### The papers' findings, checked here", ""]
    for verdict in verdicts(result):
        lines.append(f"- **{verdict['paper']}: {verdict['finding']}.** "
                     f"{'Holds' if verdict['holds'] else 'Does not hold'} here: {verdict['numbers']}.")
    return "\n".join(lines) + "\n"


def plot(result: dict, out: Path) -> str:
    """Beam-5 BLEU against cost, one point per method (bars: sd over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 4.4))
    for row in result["rows"]:
        bleu = row["decodings"]["5"]["bleu"]
        axis.errorbar(row["cost_hours"]["mean"], bleu["mean"], yerr=bleu["sd"], xerr=row["cost_hours"]["sd"],
                      fmt="o", capsize=3, color="tab:red" if row["data"] != "raw" else "tab:blue")
        axis.annotate(row["method"], (row["cost_hours"]["mean"], bleu["mean"]), fontsize=8, xytext=(5, 4),
                      textcoords="offset points")
    axis.set_xlabel("cost: student training + regeneration, hours")
    axis.set_ylabel(f"test BLEU ({result['reference']}), beam 5")
    axis.set_title("red: trained on the teacher's outputs; blue: on the raw data", fontsize=9)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "compression.png"
    figure.savefig(path, dpi=130)
    plt.close(figure)
    return path.name
