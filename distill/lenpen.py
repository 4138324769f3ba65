"""The teacher's length penalty, chosen on the valid split (fairseq's ``--lenpen``, CTranslate2's ``length_penalty``).

Beam search ranks finished hypotheses by their log-probability divided by ``length ** lenpen``; at
the default 1 a teacher's outputs can be shorter than the human references (an earlier bible-es-en
teacher's were; today's are not: docs/results/experiments/teacher-length-penalty/), and students trained
on its outputs learn that length. Wu et al.
(2016) and fairseq tune the penalty on held-out data; here the teacher decodes the valid split once per
candidate value and the value whose outputs fit best is kept:

  length-ratio  output length closest to the reference's (sacrebleu's sys_len / ref_len on the primary
                reference), ties by higher BLEU: what a student inherits is the length
  bleu          the highest BLEU, ties by the length ratio closest to 1

``seqkd-distill tune-lenpen`` prints the table; ``seqkd-distill regenerate --lenpen auto`` tunes, decodes
with the chosen value and records the table in the distilled corpus's manifest.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from distill.io import InputError

DEFAULT_VALUES = (0.6, 0.8, 1.0, 1.2, 1.4, 1.7, 2.0)
CRITERIA = ("length-ratio", "bleu")
TUNING_SPLIT = "valid"


@dataclass(frozen=True)
class LengthPenaltyPoint:
    """The teacher's valid-split outputs at one length penalty, scored against the primary reference."""

    lenpen: float
    bleu: float
    length_ratio: float  # output tokens / reference tokens (sacrebleu's 13a tokens)
    bleu_signature: str


@dataclass(frozen=True)
class LengthPenaltyTuning:
    """Every candidate's point and the value chosen by ``criterion``."""

    criterion: str
    split: str
    reference: str
    points: tuple[LengthPenaltyPoint, ...]
    chosen: float

    def as_dict(self) -> dict:
        return {"criterion": self.criterion, "split": self.split, "reference": self.reference,
                "chosen": self.chosen, "points": [asdict(point) for point in self.points]}

    @classmethod
    def from_dict(cls, data: dict) -> LengthPenaltyTuning:
        return cls(data["criterion"], data["split"], data["reference"],
                   tuple(LengthPenaltyPoint(**point) for point in data["points"]), data["chosen"])


def parse_values(text: str) -> tuple[float, ...]:
    """``0.8,1,1.2`` -> (0.8, 1.0, 1.2); a value that is not a positive number is a one-line error."""
    try:
        values = tuple(float(item) for item in text.split(",") if item.strip())
    except ValueError:
        raise InputError(f"--lenpen-values {text!r}: expected numbers separated by commas, e.g. 0.8,1,1.2") from None
    if not values or any(value <= 0 for value in values):
        raise InputError(f"--lenpen-values {text!r}: expected one or more positive numbers")
    return values


def choose(points: tuple[LengthPenaltyPoint, ...] | list[LengthPenaltyPoint], criterion: str) -> float:
    """The chosen length penalty (module docstring); among equal candidates, the one nearest 1 (the default)."""
    if criterion not in CRITERIA:
        raise InputError(f"unknown length-penalty criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
    if not points:
        raise ValueError("no length penalty to choose from")
    if criterion == "length-ratio":
        def rank(point):
            return (abs(point.length_ratio - 1), -point.bleu, abs(point.lenpen - 1))
    else:
        def rank(point):
            return (-point.bleu, abs(point.length_ratio - 1), abs(point.lenpen - 1))
    return min(points, key=rank).lenpen


def tune_length_penalty(translator, corpus, values=DEFAULT_VALUES, criterion: str = "length-ratio",
                        progress=None) -> LengthPenaltyTuning:
    """Decode the valid split with ``translator`` (a teacher's: :meth:`set_length_penalty`) at every value.

    ``progress``: called with each point as it is measured (the command line prints a row)."""
    from sacrebleu.metrics import BLEU

    from distill.scoring import length_ratio_of

    if criterion not in CRITERIA:
        raise InputError(f"unknown length-penalty criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
    reference_name, reference = next(iter(corpus.references(TUNING_SPLIT).items()))
    sources = corpus.lines(TUNING_SPLIT, "src")
    points = []
    for value in values:
        translator.set_length_penalty(value)
        hypotheses = [nbest[0].text for nbest in translator.translate(sources)]
        metric = BLEU()
        score = metric.corpus_score(hypotheses, [reference])
        point = LengthPenaltyPoint(lenpen=float(value), bleu=round(score.score, 2),
                                   length_ratio=length_ratio_of(score),
                                   bleu_signature=str(metric.get_signature()))
        points.append(point)
        if progress:
            progress(point)
    return LengthPenaltyTuning(criterion, TUNING_SPLIT, reference_name, tuple(points), choose(points, criterion))


def tuning_markdown(result: dict) -> str:
    """lenpen.md (``seqkd-distill tune-lenpen --out lenpen.json``): the table, the choice and the signature."""
    tuning = LengthPenaltyTuning.from_dict(result)
    where = (f"Teacher `{result['teacher']}` on `{result['corpus']}`'s {tuning.split} split, {result['backend']} beam "
             f"{result['beam']}." if "teacher" in result else "")
    return (f"{where}\n\n{format_tuning(tuning)}\n\nChosen ({tuning.criterion}): {tuning.chosen:g}. Length ratio: "
            f"output words / {tuning.reference} reference words (sacrebleu's 13a tokens).\n"
            f"sacrebleu: {tuning.points[0].bleu_signature}\n").lstrip("\n")


def format_tuning(tuning: LengthPenaltyTuning) -> str:
    """The table the command line prints (the chosen row marked)."""
    from distill.tables import markdown_table

    rows = [[f"{p.lenpen:g}", f"{p.bleu:.2f}", f"{p.length_ratio:.3f}", "chosen" if p.lenpen == tuning.chosen else ""]
            for p in tuning.points]
    return markdown_table(["length penalty", f"BLEU {tuning.reference} ({tuning.split})", "length ratio", ""], rows)
