"""What one row of the results is: a :class:`System` (which model, trained on which corpus, decoded how).

Compute code keys its results by systems and writes their fields to JSON (``System.to_json``);
tables and figures render :attr:`System.label`, and nothing parses a label back.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

TEACHER_KIND = "teacher"  # the ``system`` field of the teacher's records in compare.json


@dataclass(frozen=True)
class System:
    """``student``: a registered student kind (:mod:`nat.registry`), or ``teacher``; ``data``: the name of
    the training corpus (raw, distilled, seq-inter, ...); ``decoding``: set where a kind has several decodings
    (ar: greedy and beam 5) and the result keeps them apart."""

    student: str
    data: str = "raw"
    decoding: str | None = None

    @property
    def is_teacher(self) -> bool:
        return self.student == TEACHER_KIND

    @property
    def label(self) -> str:
        """How tables and figures name it: "AR teacher", "ctc, raw", "ar, distilled, greedy"."""
        if self.is_teacher:
            return "AR teacher"
        return ", ".join([self.student, self.data, *([self.decoding] if self.decoding else [])])

    @property
    def label_without_data(self) -> str:
        """Its label without the training data ("ar, greedy"): one colour per model in a figure."""
        if self.is_teacher:
            return self.label
        return ", ".join([self.student, *([self.decoding] if self.decoding else [])])

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, fields: dict) -> System:
        return cls(**fields)


TEACHER = System(TEACHER_KIND)


def row_label(record: dict) -> str:
    """How a table or a figure names one row of an analysis's result: the label of its system (``system``: the
    fields of a :class:`System`), or the ``name`` it was given (``--hyp NAME=FILE``, a training corpus)."""
    return System.from_json(record["system"]).label if "system" in record else record["name"]


def row_key(system: System | str) -> dict:
    """The fields that say which row a result is (the inverse of :func:`row_label`'s reading)."""
    return {"system": system.to_json()} if isinstance(system, System) else {"name": system}
