import os
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distill.io import InputError, atomic_open, config_hash, read_lines, write_lines


def test_read_lines_reports_invalid_utf8_with_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok\nalso ok\ncaf\xe9\n")
    with pytest.raises(InputError, match=r"bad\.txt:3: invalid UTF-8"):
        read_lines(path)


def test_read_lines_missing_file(tmp_path):
    with pytest.raises(InputError, match="missing.txt: file not found"):
        read_lines(tmp_path / "missing.txt")


def test_read_lines_keeps_blank_lines_and_accepts_crlf(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"a\r\n\r\nb\n")
    assert read_lines(path) == ["a", "", "b"]


def test_atomic_open_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write("half")
            raise RuntimeError("killed")
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_write_lines_refuses_embedded_newline(tmp_path):
    with pytest.raises(ValueError, match="line 2"):
        write_lines(tmp_path / "x", ["fine", "bro\nken"])
    assert not (tmp_path / "x").exists()


def test_config_hash_ignores_key_order():
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


LINE = st.text(alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(LINE, max_size=25))
def test_written_lines_read_back_identically(lines):
    """Any text without line breaks (unicode, blanks, control characters) survives a round trip."""
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "x.txt")
        assert write_lines(path, lines) == len(lines)
        assert read_lines(path) == lines
        assert os.listdir(work) == ["x.txt"]  # no temporary file left behind


@settings(max_examples=40, deadline=None)
@given(st.lists(LINE, min_size=1, max_size=15), st.data())
def test_invalid_utf8_is_reported_at_its_line(lines, data):
    bad_line = data.draw(st.integers(0, len(lines) - 1))
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "x.txt")
        encoded = [line.encode("utf-8") for line in lines]
        encoded[bad_line] += b"\xff"  # 0xff never occurs in UTF-8
        with open(path, "wb") as handle:
            handle.write(b"".join(line + b"\n" for line in encoded))
        with pytest.raises(InputError, match=rf"x\.txt:{bad_line + 1}: invalid UTF-8"):
            read_lines(path)


@settings(max_examples=30, deadline=None)
@given(st.lists(LINE, min_size=1, max_size=10), st.data())
def test_a_line_break_inside_a_line_is_refused_not_written(lines, data):
    index = data.draw(st.integers(0, len(lines) - 1))
    lines[index] += data.draw(st.sampled_from(["\n", "\r", "a\r\nb"]))
    with tempfile.TemporaryDirectory() as work:
        with pytest.raises(ValueError, match=f"line {index + 1} contains a newline"):
            write_lines(os.path.join(work, "x.txt"), lines)
        assert os.listdir(work) == []


def test_two_builders_of_one_directory_each_use_their_own_work_directory_and_the_first_published_stays(tmp_path):
    from distill.io import private_work_directory, publish_directory

    target = tmp_path / "cache"
    first = private_work_directory(target)
    (first / "done").write_text("first")
    other = first.with_name(first.name + "-other")  # another process's, built at the same time
    other.mkdir()
    (other / "done").write_text("other")
    publish_directory(first, target, "done")
    publish_directory(other, target, "done")  # too late: discarded, not an error
    assert (target / "done").read_text() == "first" and not first.exists() and not other.exists()
    stale = private_work_directory(target)
    (stale / "half").write_text("x")
    (target / "done").rename(target / "half")  # a target without its completion file is never taken for finished
    with pytest.raises(OSError):
        publish_directory(stale, target, "done")
