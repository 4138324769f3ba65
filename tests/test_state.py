"""A job's state kept for git (distill/state.py): derived corpora made again byte for byte from their own text,
runs kept without checkpoints and still reporting, a re-prepared corpus that came out otherwise refused."""
import json
import shutil
import tarfile

import pytest

from distill import state
from distill.io import InputError, sha256_file


def _files(corpus_dir):
    return {str(p.relative_to(corpus_dir)): sha256_file(p) for p in sorted(corpus_dir.rglob("*"))
            if p.is_file() and "logs" not in p.relative_to(corpus_dir).parts}


def test_a_distilled_corpus_is_kept_as_its_own_text_and_made_again_byte_for_byte(tiny_synthetic, tiny_distilled,
                                                                                  tmp_path):
    root, store = tmp_path / "root", tmp_path / "store"
    shutil.copytree(tiny_synthetic.path, root / "data" / "raw")  # prepared: its own vocabulary
    shutil.copytree(tiny_distilled.path, root / "data" / "raw.seqkd")  # derived: the fixture's vocabulary
    before = _files(root / "data" / "raw.seqkd")
    report = state.save(root, store)
    assert report.done == {"prepared corpus": 1, "derived corpus": 1}
    assert (store / "prepared" / "data" / "raw" / "manifest.json").is_file()
    with tarfile.open(store / "corpora" / "data" / "raw.seqkd.tar.gz") as tar:
        kept = sorted(tar.getnames())
        from_base = json.loads(tar.extractfile("from_base.json").read())
    # the regenerated targets are kept; the sources and original targets come from the base corpus; nothing derived
    assert "raw/train.tgt" in kept and "raw/train.src" not in kept and from_base["raw/train.src"] == "raw/train.src"
    assert not [name for name in kept if name.startswith(("bin/", "spm/"))]
    assert state.save(root, store).done == {}  # reproducible archives: saving again writes nothing

    shutil.rmtree(root / "data" / "raw.seqkd")
    report = state.restore(store, root)
    assert report.done == {"derived corpus": 1} and report.unchanged == {"prepared corpus": 1}
    assert _files(root / "data" / "raw.seqkd") == before  # manifest, text, sentencepiece and fairseq binaries
    assert state.restore(store, root).done == {}  # what is there is left as it is

    manifest = json.loads((root / "data" / "raw" / "manifest.json").read_text())
    manifest["files"]["raw/train.tgt"] = "0" * 64  # prepared again, it came out otherwise
    (root / "data" / "raw" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"data/raw: prepared again, it differs .* raw/train.tgt"):
        state.restore(store, root)
    with pytest.raises(InputError, match="saved from"):
        state.restore(store, tmp_path / "elsewhere")


def test_a_run_kept_without_checkpoints_reports_its_comparison_without_decoding(tiny_synthetic, tiny_teacher,
                                                                                tiny_students, tmp_path, monkeypatch):
    from nat import cli
    from nat.cli import main as nat_main

    root, store = tmp_path / "root", tmp_path / "store"
    out = root / "runs" / "students"
    run, _ = tiny_students["ctc"]
    for data in ("raw", "distilled"):  # the fixture corpus stands for the distilled one: the run is its own twin
        shutil.copytree(run, out / f"ctc-{data}-seed1")
    command = ["compare", "--teacher", str(tiny_teacher[0]), "--raw", str(tiny_synthetic.path), "--distilled",
               str(tiny_synthetic.path), "--out", str(out), "--students", "ctc", "--preset", "tiny", "--device", "cpu"]
    assert nat_main(command) == 0
    first = json.loads((out / "compare.json").read_text())
    checkpoint = out / "ctc-raw-seed1" / json.loads((out / "ctc-raw-seed1" / "manifest.json").read_text())["checkpoint"]
    named = sha256_file(checkpoint)

    report = state.save(root, store)
    assert report.done == {"run": 2, "file": 3}  # compare.json, compare.md, curves.png
    shutil.rmtree(root / "runs")
    assert state.restore(store, root).done == {"run": 2, "file": 3}
    assert not list((root / "runs").rglob("*.pt"))
    assert state.checkpoint_sha256(checkpoint) == named  # what regenerate names a teacher by

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(cli, "_translator", no_decoding)
    (out / "compare.json").unlink()
    assert nat_main(command) == 0
    again = json.loads((out / "compare.json").read_text())
    assert again["results"] == first["results"] and again["curves"] == first["curves"]
    assert [r["scores"]["tgt"]["bleu"] for r in again["results"][1:]] == [
        r["scores"]["tgt"]["bleu"] for r in first["results"][1:]]


def _finished_run(run, with_checkpoint: bool):
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "manifest.json").write_text(json.dumps({"config_hash": "h", "checkpoint": "checkpoints/checkpoint_best.pt"}))
    (run / "train.log").write_text("log\n")
    if with_checkpoint:
        (run / "checkpoints").mkdir()
        (run / "checkpoints" / "checkpoint_best.pt").write_bytes(b"weights")


def test_a_fold_teacher_is_trained_again_only_when_its_checkpoint_is_gone_and_its_fold_not_regenerated(tmp_path):
    from distill.heldout import fold_teachers_to_retrain

    out, work = tmp_path / "c.heldout", tmp_path / "c.heldout.work"
    _finished_run(work / "teacher-without-fold-0", with_checkpoint=False)  # its fold regenerated: not needed
    _finished_run(work / "teacher-without-fold-1", with_checkpoint=False)
    (work / "fold-0.seqkd").mkdir()
    (work / "fold-0.seqkd" / "manifest.json").write_text("{}")
    assert fold_teachers_to_retrain(out) == [work / "teacher-without-fold-1"]
    (work / "teacher-without-fold-1" / "checkpoints").mkdir()
    (work / "teacher-without-fold-1" / "checkpoints" / "checkpoint_best.pt").write_bytes(b"weights")
    assert fold_teachers_to_retrain(out) == []
    shutil.rmtree(work / "teacher-without-fold-1" / "checkpoints")
    out.mkdir()
    (out / "manifest.json").write_text("{}")  # the held-out corpus made: no teacher is needed
    assert fold_teachers_to_retrain(out) == []


def test_a_run_taken_out_of_the_store_is_not_restored(tmp_path):
    root, store = tmp_path / "root", tmp_path / "store"
    _finished_run(root / "runs" / "teacher", with_checkpoint=True)
    _finished_run(root / "runs" / "other", with_checkpoint=True)
    assert state.save(root, store).done == {"run": 2}
    assert json.loads((root / "runs" / "teacher" / state.OMITTED).read_text()) == {
        "checkpoints/checkpoint_best.pt": {"bytes": 7, "sha256": sha256_file(root / "runs" / "teacher" / "checkpoints"
                                                                             / "checkpoint_best.pt")}}
    assert state.forget(store, root, root / "runs" / "teacher") == [store / "runs" / "runs" / "teacher.tar.gz"]
    shutil.rmtree(root / "runs")
    assert state.restore(store, root).done == {"run": 1}
    assert not (root / "runs" / "teacher").exists() and (root / "runs" / "other" / "train.log").read_text() == "log\n"
    assert not state.has_checkpoint(root / "runs" / "other")


def test_a_loose_file_already_there_is_left_and_a_differing_one_named(tmp_path):
    root, store = tmp_path / "root", tmp_path / "store"
    root.mkdir()
    (root / "study.log").write_text("earlier sessions\n")
    (root / "same.txt").write_text("same\n")
    assert state.save(root, store).done == {"file": 2}
    (root / "study.log").write_text("this session\n")  # a new machine: the log a wrapper opened before the restore
    report = state.restore(store, root)
    assert report.unchanged == {"file": 2} and not report.done
    assert report.notes == [f"{root / 'study.log'}: differs from the kept copy {store / 'files' / 'study.log'}; the "
                            "one here is left as it is, and the next save keeps it in its place"]
    assert (root / "study.log").read_text() == "this session\n"
