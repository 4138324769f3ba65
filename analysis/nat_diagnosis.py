"""Why a vanilla NAT learns little, and whether distillation helps it: BLEU at its own length and at the
reference's, repetition, and output length, per run (``seqkd-reproduce nat-diagnosis``).

Gu et al. (2018) trace vanilla NAT's errors to two sources: the target length it predicts, and the
multimodality of the data, which shows as repeated tokens ("the the Lord Lord"); Zhou, Gu & Neubig (2020)
measure the second as the repetition rate and show that distillation lowers it. Decoding every test sentence
at its reference's length (``seqkd-nat evaluate --oracle-length``) takes the first source away: what BLEU is
left is what the decoder itself does. So for each run the diagnosis keeps

  bleu, bleu_oracle_length     BLEU at the predicted and at the reference's length (primary reference)
  length_ratio                 output words / reference words at the predicted length (sacrebleu's 13a tokens)
  repetition, repetition_oracle_length    :func:`analysis.repetition.repetition_rate` of each output
  p_value_vs_raw, p_oracle_vs_raw         paired bootstrap of a distilled run against the raw run of its seed

with the reference's own repetition rate (the floor) and the teacher's outputs for comparison.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from analysis.repetition import repetition_rate
from distill.io import read_json, read_lines
from distill.scoring import length_ratio
from distill.tables import markdown_table
from nat.systems import TEACHER_KIND, System, row_key, row_label


def nat_variants() -> dict:
    """The configurations of vanilla NAT the job compares (name -> student kind), the registered ``nat`` first;
    the others are registered only while the job runs (:func:`nat.registry.registered`)."""
    from nat.registry import student_kind

    nat = student_kind("nat")
    return {"nat": nat,
            # fairseq's BERT-style init (N(0, 0.02)) held cmlm at the unigram plateau (nat/registry.py)
            "nat-default-init": replace(nat, name="nat-default-init", initialization=(),
                                        summary="vanilla NAT, fairseq's default initialization"),
            "nat-dec4": replace(nat, name="nat-dec4", extra_arguments=("--decoder-layers", 4),
                                summary="vanilla NAT, four decoder layers"),
            # contextual decoder inputs, as the ctc student's upsampled encoder states (nat/models/encoder_copy_nat.py)
            "nat-encoder-copy": replace(nat, name="nat-encoder-copy", arch="encoder_copy_nat",
                                        model_class="EncoderCopyNATModel", initialization=(),
                                        summary="vanilla NAT copying encoder states, fairseq's default init"),
            }


ORACLE_STEM = "test.oracle-length"  # a run's oracle-length evaluation: <run>/eval/test.oracle-length.{json,hyp}


def oracle_evaluation(run: Path) -> Path:
    """Where the job writes a run's oracle-length evaluation (its JSON; the .hyp beside it)."""
    return Path(run) / "eval" / f"{ORACLE_STEM}.json"


def _rate(lines: list[str]) -> float | None:
    rate = repetition_rate(lines)["rate"]
    return None if rate is None else round(rate, 4)


def nat_diagnosis(compare: dict, oracle_runs: dict[tuple[str, str, int], Path]) -> dict:
    """The diagnosis of the runs of ``compare`` (a ``seqkd-nat compare`` result) whose oracle-length evaluation
    ``oracle_runs`` names: (student, data, seed) -> that evaluation's JSON file."""
    from distill.corpus.directory import Corpus
    from nat.compare import paired_bootstrap

    references = Corpus.open(compare["raw"]).references("test")
    primary = compare["references"][0]
    reference = references[primary]
    teacher = next(r for r in compare["results"] if r["system"] == TEACHER_KIND)
    teacher_hypotheses = read_lines(teacher["hypotheses"])
    rows, outputs = [], {}
    for record in compare["results"]:
        key = (record["system"], record["data"], record["seed"])
        if key not in oracle_runs:
            continue
        hypotheses = read_lines(record["hypotheses"])
        oracle = read_json(oracle_runs[key])
        oracle_hypotheses = read_lines(Path(oracle_runs[key]).with_suffix(".hyp"))
        outputs[key] = (hypotheses, oracle_hypotheses)
        row = {**row_key(System(record["system"], record["data"])), "seed": record["seed"],
               "bleu": record["scores"][primary]["bleu"], "bleu_oracle_length": oracle["scores"][primary]["bleu"],
               "length_ratio": length_ratio(hypotheses, reference), "repetition": _rate(hypotheses),
               "repetition_oracle_length": _rate(oracle_hypotheses),
               "p_value_vs_raw": record.get("p_value_vs_raw"), "p_oracle_vs_raw": None}
        raw = (record["system"], "raw", record["seed"])
        if record["data"] != "raw" and raw in outputs:
            row["p_oracle_vs_raw"] = paired_bootstrap(outputs[raw][1], oracle_hypotheses, references)
        rows.append(row)
    return {"reference": primary, "bleu_signature": compare["bleu_signatures"][primary],
            "reference_repetition": _rate(reference),
            "teacher": {"bleu": teacher["scores"][primary]["bleu"],
                        "length_ratio": length_ratio(teacher_hypotheses, reference),
                        "repetition": _rate(teacher_hypotheses)},
            "rows": rows}


def _cell(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _percent(share: float | None) -> str:
    return "" if share is None else f"{100 * share:.1f} %"


def markdown(result: dict) -> str:
    """nat_diagnosis.md: one row per run, the teacher first."""
    teacher = result["teacher"]
    rows = [["AR teacher (beam 5)", "", f"{teacher['bleu']:.2f}", "", "", "", f"{teacher['length_ratio']:.3f}",
             _percent(teacher["repetition"]), ""]]
    rows += [[row_label(row), row["seed"], f"{row['bleu']:.2f}", _cell(row["p_value_vs_raw"], ".3f"),
              f"{row['bleu_oracle_length']:.2f}", _cell(row["p_oracle_vs_raw"], ".3f"), f"{row['length_ratio']:.3f}",
              _percent(row["repetition"]), _percent(row["repetition_oracle_length"])]
             for row in result["rows"]]
    table = markdown_table(["system", "seed", f"BLEU {result['reference']}", "p vs raw",
                            "BLEU at the oracle length", "p vs raw (oracle)", "length ratio", "repetition",
                            "repetition at the oracle length"], rows)
    return (table + f"\n\nOracle length: every test sentence decoded at its {result['reference']} reference's length "
            f"(`seqkd-nat evaluate --oracle-length`). Length ratio: output words / reference words (sacrebleu's 13a "
            f"tokens). Repetition: the share of output words equal to the word before them; the "
            f"{result['reference']} reference's own rate is {_percent(result['reference_repetition'])}. p: sacrebleu "
            f"paired bootstrap (1,000 resamples) of the distilled run against the raw run of its seed, all "
            f"references, two-sided.\nsacrebleu: {result['bleu_signature']}\n")
