"""Preparing users' own parallel files: the format, the manifest and every bad-input case."""
import json

import pytest

from distill.cli import main
from distill.corpus.directory import Corpus
from distill.io import sha256_file


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def pair(tmp_path):
    src = [f"fuente numero {i} con palabras" for i in range(300)]
    tgt = [f"source number {i} with words" for i in range(300)]
    src[10], tgt[20] = "", "   "  # blank lines: dropped and counted
    src[30] = " ".join(["largo"] * 40)  # over --max-words 30: dropped and counted
    return _write(tmp_path / "train.es", src), _write(tmp_path / "train.en", tgt)


def _prepare(tmp_path, *extra):
    return main(["prepare", "files", "--out", str(tmp_path / "corpus"), "--vocab-size", "60", "--max-words", "30",
                 *extra])


def test_prepare_files_writes_a_complete_corpus(tmp_path, pair):
    src, tgt = pair
    assert _prepare(tmp_path, "--src", str(src), "--tgt", str(tgt), "--held-out-per-mille", "100") == 0
    corpus = Corpus.open(tmp_path / "corpus")
    manifest = corpus.manifest
    total_filtered = sum(sum(f["counts"].values()) for f in manifest["filtered"].values())
    assert total_filtered == 3
    assert sum(manifest["counts"].values()) + total_filtered == 300
    assert sum(manifest["input_lines"].values()) == 300
    assert all(manifest["counts"][s] > 0 for s in ("train", "valid", "test"))
    for relative, digest in manifest["files"].items():
        assert sha256_file(corpus.path / relative) == digest
    for needed in ("bin/dict.src.txt", "bin/train.src-tgt.src.bin", "bin/test.src-tgt.tgt.idx", "spm/spm.model"):
        assert needed in manifest["files"]
    assert len(corpus.lines("train", "src")) == len(corpus.lines("train", "tgt")) == manifest["counts"]["train"]
    # re-running the same command is a no-op
    before = (corpus.path / "manifest.json").read_bytes()
    assert _prepare(tmp_path, "--src", str(src), "--tgt", str(tgt), "--held-out-per-mille", "100") == 0
    assert (corpus.path / "manifest.json").read_bytes() == before


def test_explicit_valid_test_and_extra_reference(tmp_path, pair):
    src, tgt = pair
    dev_s = _write(tmp_path / "dev.es", ["hola mundo", "adios"])
    dev_t = _write(tmp_path / "dev.en", ["hello world", "bye"])
    dev_r = _write(tmp_path / "dev.ref2", ["hi world", "goodbye"])
    assert _prepare(tmp_path, "--src", str(src), "--tgt", str(tgt), "--valid-src", str(dev_s), "--valid-tgt",
                    str(dev_t),
                    "--test-src", str(dev_s), "--test-tgt", str(dev_t), "--valid-ref", f"alt={dev_r}",
                    "--test-ref", f"alt={dev_r}") == 0
    corpus = Corpus.open(tmp_path / "corpus")
    assert corpus.manifest["counts"]["train"] == 297
    assert corpus.references("test") == {"tgt": ["hello world", "bye"], "alt": ["hi world", "goodbye"]}


@pytest.mark.parametrize("case, expected", [
    ("missing", r"nope\.es: file not found"),
    ("empty", r"train\.es: file is empty"),
    ("mismatch", r"train\.en:4: line-count mismatch"),
    ("utf8", r"train\.es:2: invalid UTF-8"),
])
def test_bad_input_gives_one_line_error(tmp_path, capsys, case, expected):
    src, tgt = tmp_path / "train.es", tmp_path / "train.en"
    _write(src, ["uno", "dos", "tres", "cuatro"])
    _write(tgt, ["one", "two", "three", "four"])
    if case == "missing":
        src = tmp_path / "nope.es"
    elif case == "empty":
        src.write_text("")
    elif case == "mismatch":
        _write(tgt, ["one", "two", "three"])
    elif case == "utf8":
        src.write_bytes(b"uno\ndos \xff\n tres\ncuatro\n")
    assert _prepare(tmp_path, "--src", str(src), "--tgt", str(tgt)) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert __import__("re").search(expected, err), err
    assert not (tmp_path / "corpus").exists()


def test_corpus_without_manifest_is_refused(tmp_path):
    (tmp_path / "half").mkdir()
    from distill.io import InputError

    with pytest.raises(InputError, match=r"manifest\.json: missing"):
        Corpus.open(tmp_path / "half")


def test_synthetic_k3_corpus_records_entropy(tmp_path):
    assert main(["prepare", "synthetic", "--out", str(tmp_path / "k3"), "--modes", "3", "--train-size", "300",
                 "--valid-size", "20", "--test-size", "20", "--vocab-size", "300"]) == 0
    corpus = Corpus.open(tmp_path / "k3")
    truth = corpus.manifest["ground_truth"]
    assert truth["mode_entropy_bits"] == pytest.approx(1.5849625, abs=1e-6)
    assert truth["lexical_entropy_bits"] == pytest.approx(1.5849625 + 1.0, abs=1e-6)
    entropies = [float(x) for x in corpus.lines("train", "entropy")]
    lengths = [len(s.split()) for s in corpus.lines("train", "src")]
    assert entropies == pytest.approx([1.5849625 + n * 1.0 for n in lengths], abs=1e-5)
    assert set(corpus.lines("train", "mode")) == {"0", "1", "2"}
    json.dumps(corpus.manifest)  # serializable
