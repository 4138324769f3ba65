"""Diverse distillation with reference selection: the joined corpus, and a ctc student trained on it."""
import pytest

from distill.corpus.directory import Corpus
from distill.diverse import build_diverse_corpus
from distill.io import InputError
from distill.regenerate import RegenerationRequest, regenerate


@pytest.fixture(scope="module")
def members(tiny_teacher, tiny_synthetic, tiny_distilled, tmp_path_factory):
    """Two distilled corpora of the tiny corpus with different targets: beam search and sampling."""
    sampled = regenerate(RegenerationRequest(teachers=[tiny_teacher[1]["checkpoint"]], corpus=str(tiny_synthetic.path),
                                             out=str(tmp_path_factory.mktemp("members") / "sample"), method="sample",
                                             device="cpu", backend="ctranslate2", compute_type="float32",
                                             shard_size=700))
    return [tiny_distilled, sampled]


def test_the_diverse_corpus_keeps_every_teachers_targets(members, tiny_synthetic, tmp_path):
    seqkd, sampled = members
    diverse = build_diverse_corpus([str(seqkd.path), str(sampled.path)], tmp_path / "diverse")
    assert diverse.manifest["kind"] == "diverse" and diverse.manifest["extra_targets"] == ["tgt.2"]
    assert diverse.lines("train", "tgt") == seqkd.lines("train", "tgt")
    assert diverse.lines("train", "tgt.2") == sampled.lines("train", "tgt")
    assert diverse.lines("train", "orig") == tiny_synthetic.lines("train", "tgt")
    assert diverse.lines("test", "tgt") == tiny_synthetic.lines("test", "tgt")
    assert [d.name for d in diverse.extra_target_dirs] == ["tgt.2"]
    assert (diverse.bin_dir / "tgt.2" / "train.src-tgt.tgt.bin").is_file()
    assert (diverse.bin_dir / "tgt.2" / "dict.tgt.txt").read_bytes() == (seqkd.bin_dir / "dict.tgt.txt").read_bytes()
    cost = diverse.manifest["distillation"]["teacher_cost"]
    assert cost["teachers"] == 2 and cost["cpu_seconds_per_sentence"] == pytest.approx(sum(
        m.manifest["distillation"]["teacher_cost"]["cpu_seconds_per_sentence"] for m in members))
    assert build_diverse_corpus([str(seqkd.path), str(sampled.path)], tmp_path / "diverse").path == diverse.path


@pytest.mark.parametrize("which, message", [("twice", "given twice"), ("raw", "not a distilled corpus"),
                                            ("one", "two or more")])
def test_a_diverse_corpus_of_the_wrong_members_is_refused(which, message, members, tiny_synthetic, tmp_path):
    paths = {"twice": [members[0].path] * 2, "raw": [members[0].path, tiny_synthetic.path],
             "one": [members[0].path]}[which]
    with pytest.raises(InputError, match=message):
        build_diverse_corpus([str(p) for p in paths], tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_ctc_student_selects_among_the_references_and_others_are_refused(members, tmp_path):
    from nat.students import train_student

    diverse = build_diverse_corpus([str(m.path) for m in members], tmp_path / "diverse")
    with pytest.raises(InputError, match="ctc students select among"):
        train_student("nat", diverse.path, tmp_path / "nat", preset="tiny", device="cpu")
    assert not (tmp_path / "nat").exists()
    run = tmp_path / "ctc"
    train_student("ctc", diverse.path, run, preset="tiny", device="cpu", overrides={"max_update": 60})
    log = (run / "train.log").read_text()
    assert "--task translation_multi_reference" in log or "translation_multi_reference" in log
    shares = [float(line.split("first_reference=")[1].split(",")[0]) for line in log.splitlines()
              if "first_reference=" in line]
    assert shares and all(0.0 <= share <= 1.0 for share in shares)
    assert Corpus.open(diverse.path).manifest["config"]["members"] == [m.manifest["config_hash"] for m in members]
