import os

import pytest

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
