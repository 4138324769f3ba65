"""Rules for broken teacher outputs, applied when a distilled corpus is assembled.

A teacher's beam search sometimes writes nothing, stops early, or loops ("have have have have"), and a
student trained on such targets learns the fault (transformers#11912; DA-Transformer#11: a target too long
for the student's graph). Each rule names the first fault it finds in a (source, output) pair:

  empty         the output has no word
  length-ratio  output words / source words outside [low, high]
  repeats       a word or an n-gram of up to four words repeated more than N times in a row

A pair that breaks a rule is either dropped from the corpus or given its human target back (``action``);
every such pair is counted per split and rule in the manifest's ``filtered`` (``counts``: dropped,
``replaced``: given the human target) with a few examples, and the
data card lists the counts, so nothing is dropped silently. The rules and the action are part of the
distilled corpus's identity.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from distill.io import InputError

ACTIONS = ("drop", "human")
MAX_NGRAM = 4
EXAMPLES = 5


@dataclass(frozen=True)
class OutputFilters:
    """The rules in force (None: rule off) and what happens to a pair that breaks one."""

    empty: bool = False
    length_ratio: tuple[float, float] | None = None
    repeats: int | None = None
    action: str = "drop"

    def __post_init__(self):
        if self.action not in ACTIONS:
            raise InputError(f"--on-filtered {self.action!r}: choose one of {', '.join(ACTIONS)}")
        if self.length_ratio is not None:
            low, high = self.length_ratio
            if not 0 <= low < high:
                raise InputError(f"--filter-length-ratio {low:g},{high:g}: expected 0 <= LOW < HIGH")
        if self.repeats is not None and self.repeats < 1:
            raise InputError(f"--filter-repeats {self.repeats}: expected 1 or more")

    @property
    def active(self) -> bool:
        return self.empty or self.length_ratio is not None or self.repeats is not None

    def identity(self) -> dict | None:
        """The rules as the corpus's config hash sees them (None when no rule is on)."""
        if not self.active:
            return None
        fields = asdict(self)
        fields["length_ratio"] = list(self.length_ratio) if self.length_ratio else None
        return fields


def parse_length_ratio(text: str) -> tuple[float, float]:
    """``0.5,2`` -> (0.5, 2.0); one line naming the option otherwise."""
    try:
        low, high = (float(item) for item in text.split(","))
    except ValueError:
        raise InputError(f"--filter-length-ratio {text!r}: expected LOW,HIGH, e.g. 0.5,2") from None
    return low, high


def longest_run(words: list[str]) -> int:
    """How many times in a row the most repeated word or n-gram (n <= 4) of ``words`` occurs."""
    best = 1 if words else 0
    for n in range(1, MAX_NGRAM + 1):
        for start in range(n):  # every phase of n-grams
            run, previous = 0, None
            for i in range(start, len(words) - n + 1, n):
                gram = tuple(words[i:i + n])
                run = run + 1 if gram == previous else 1
                previous = gram
                best = max(best, run)
    return best


def broken_rule(source: str, output: str, filters: OutputFilters) -> str | None:
    """The first rule the pair breaks (``empty``, ``length-ratio``, ``repeats``), or None."""
    words = output.split()
    if filters.empty and not words:
        return "empty"
    if filters.length_ratio is not None and words:
        ratio = len(words) / max(len(source.split()), 1)
        low, high = filters.length_ratio
        if not low <= ratio <= high:
            return "length-ratio"
    if filters.repeats is not None and longest_run(words) > filters.repeats:
        return "repeats"
    return None


def apply_filters(columns: dict[str, list[str]], targets: list[str], filters: OutputFilters) -> dict:
    """Apply ``filters`` to one split: ``columns`` holds the split's raw columns (``src``, the human ``tgt``,
    ...), ``targets`` the teacher's outputs. Returns the split's new columns (the distilled ``tgt``, the human
    ``orig``, the rest) and its ``filtered`` record: counts per rule and a few examples."""
    counts: dict[str, int] = {}
    examples: list[dict] = []
    keep, new_targets = [], []
    for index, (source, target) in enumerate(zip(columns["src"], targets)):
        rule = broken_rule(source, target, filters) if filters.active else None
        if rule is None:
            keep.append(index)
            new_targets.append(target)
            continue
        counts[rule] = counts.get(rule, 0) + 1
        if len(examples) < EXAMPLES:
            examples.append({"line": index + 1, "rule": rule, "source": source, "output": target})
        if filters.action == "human":
            keep.append(index)
            new_targets.append(columns["tgt"][index])
    result = {name: [lines[i] for i in keep] for name, lines in columns.items() if name != "tgt"}
    result["orig"] = [columns["tgt"][i] for i in keep]
    result["tgt"] = new_targets
    # "counts" are the pairs dropped (the manifest's input_lines add them back); "replaced", those kept with
    # their human target
    dropped = counts if filters.action == "drop" else {}
    replaced = counts if filters.action == "human" else {}
    return {"columns": result, "filtered": {"counts": dropped, "replaced": replaced, "examples": examples}}
