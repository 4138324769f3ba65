"""Decoding any input: every student kind and the teacher give one output line per input line, in
order, for any text (blank, control characters, right-to-left marks, NUL, 0 to 3,000 tokens)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nat.cli import main as nat_main
from nat.decoding import load_translator
from nat.registry import student_names

KINDS = (*student_names(), "teacher")


@pytest.fixture(scope="module")
def runs(tiny_students, tiny_teacher):
    return {**{student: run for student, (run, _) in tiny_students.items()}, "teacher": tiny_teacher[0]}


@pytest.fixture(scope="module")
def translators(runs):
    return {kind: load_translator(run) for kind, run in runs.items()}


@pytest.fixture(scope="module")
def one_piece_word(translators):
    """A source word that sentencepiece keeps whole, so N copies are exactly N source tokens."""
    translator = translators["teacher"]
    for word in sorted(translator.task.source_dictionary.symbols, key=len, reverse=True):
        text = word.lstrip("▁")
        if word.startswith("▁") and text.isalpha() and len(translator.spm.encode(text)) == 1:
            return text
    raise AssertionError("no whole-word piece in the fixture's vocabulary")


@pytest.mark.parametrize("kind", KINDS)
def test_long_lines_decode_and_only_lines_past_the_source_positions_are_truncated(
        kind, runs, translators, one_piece_word, tmp_path, capsys):
    limit = translators[kind].max_source_tokens  # tokens, </s> included (and <s> where the task prepends it)
    assert limit >= 1000
    lines = ["", " ".join([one_piece_word] * (limit - 1)), "hola", " ".join([one_piece_word] * 2000), ""]
    source, output = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    assert nat_main(["decode", "--run", str(runs[kind]), "--input", str(source), "--output", str(output),
                     "--device", "cpu"]) == 0
    decoded = output.read_text(encoding="utf-8").split("\n")
    assert len(decoded) == len(lines) + 1 and decoded[-1] == ""  # one line each, newline-terminated
    assert decoded[0] == decoded[4] == ""
    warnings = [line for line in capsys.readouterr().err.splitlines() if "truncated" in line]
    assert len(warnings) == 1 and warnings[0].endswith("(lines 4)"), warnings  # the line that fits is not


LINE = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=40),  # as UTF-8 allows
    st.sampled_from(["", " ", "\t", "\x00", "\r", "a\rb", "\u200f", "\u202e hola \u202c", "\x1b[31m", "\ufeff"]),
    st.integers(0, 3000).map(lambda n: " ".join(["hola"] * n)),
)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=12, deadline=None)
@given(lines=st.lists(LINE, max_size=5))
def test_any_text_gives_one_output_line_per_input_line(kind, translators, lines):
    translator = translators[kind]
    output, truncated = translator.translate_lines(lines)
    assert len(output) == len(lines)
    assert all("\n" not in line for line in output)
    assert all(output[i] == "" for i, line in enumerate(lines) if not line.strip())
    too_long = [i for i, line in enumerate(lines)
                if line.strip() and len(translator.spm.encode(line)) + 1 > translator.max_source_tokens]
    assert truncated == too_long  # reported where they sit, never dropped


def test_a_carriage_return_inside_a_line_is_read_as_a_space_and_reported(runs, tmp_path, capsys):
    source, output = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_bytes(b"hola\r\nuno\rdos\n\n")
    assert nat_main(["decode", "--run", str(runs["ctc"]), "--input", str(source), "--output", str(output),
                     "--device", "cpu"]) == 0
    assert len(output.read_text(encoding="utf-8").split("\n")) == 4
    assert "1 input lines hold a carriage return, read as a space (lines 2)" in capsys.readouterr().err
