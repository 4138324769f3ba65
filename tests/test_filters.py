"""Rules for broken teacher outputs (distill/filters.py): hand-made pairs and what each rule says."""
import pytest

from distill.filters import OutputFilters, apply_filters, broken_rule, longest_run
from distill.io import InputError

RUNS = [("", 0), ("a", 1), ("a b c", 1), ("a a b", 2), ("have have have have", 4), ("a b a b a b c", 3),
        ("x a b c a b c a b c", 3), ("a b a b a", 2), ("to be or not to be", 1)]


@pytest.mark.parametrize("text, expected", RUNS)
def test_the_longest_run_of_a_word_or_ngram(text, expected):
    assert longest_run(text.split()) == expected


ALL = OutputFilters(empty=True, length_ratio=(0.5, 2.0), repeats=2)
PAIRS = [
    ("uno dos tres", "", "empty"),
    ("uno dos tres cuatro", "one", "length-ratio"),          # 1/4 words per source word
    ("uno", "one two three", "length-ratio"),                # 3
    ("uno dos tres", "have have have", "repeats"),           # three in a row, more than 2
    ("uno dos tres cuatro", "the lord the lord the lord", "repeats"),
    ("uno dos tres", "one two three", None),
    ("uno dos tres", "one one two", None),                   # two in a row is allowed
]


@pytest.mark.parametrize("source, output, expected", PAIRS)
def test_the_rule_a_pair_breaks(source, output, expected):
    assert broken_rule(source, output, ALL) == expected


def test_rules_that_are_off_say_nothing():
    assert broken_rule("uno dos", "", OutputFilters()) is None
    assert broken_rule("uno", "a a a a a a", OutputFilters(empty=True)) is None


@pytest.mark.parametrize("action, kept, targets, counts, replaced", [
    ("drop", ["s1", "s3"], ["ok one", "ok three"], {"empty": 1, "repeats": 1}, {}),
    ("human", ["s1", "s2", "s3", "s4"], ["ok one", "human two", "ok three", "human four"], {},
     {"empty": 1, "repeats": 1}),
])
def test_a_broken_pair_is_dropped_or_given_its_human_target_and_counted(action, kept, targets, counts, replaced):
    columns = {"src": ["s1 x", "s2 x", "s3 x", "s4 x"], "tgt": ["human one", "human two", "human three", "human four"]}
    outputs = ["ok one", "", "ok three", "no no no no"]
    applied = apply_filters(columns, outputs, OutputFilters(empty=True, repeats=2, action=action))
    assert [s.split()[0] for s in applied["columns"]["src"]] == kept
    assert applied["columns"]["tgt"] == targets
    assert applied["columns"]["orig"] == [columns["tgt"][int(s[1]) - 1] for s in kept]
    assert applied["filtered"]["counts"] == counts and applied["filtered"]["replaced"] == replaced
    assert [e["line"] for e in applied["filtered"]["examples"]] == [2, 4]


@pytest.mark.parametrize("options, message", [({"action": "keep"}, "--on-filtered"),
                                              ({"length_ratio": (2.0, 1.0)}, "LOW < HIGH"),
                                              ({"repeats": 0}, "1 or more")])
def test_rules_that_cannot_hold_are_refused(options, message):
    with pytest.raises(InputError, match=message):
        OutputFilters(**options)
