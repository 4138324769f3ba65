"""Held-out-fold distillation: every training target comes from a teacher that did not see its sentence."""
import pytest

from distill.corpus.directory import Corpus
from distill.heldout import fold_of, heldout_distill
from distill.io import InputError


def test_a_source_always_falls_in_the_same_fold():
    lines = [f"line {i}" for i in range(200)] + ["line 7"]
    folds = [fold_of(line, 2) for line in lines]
    assert folds[-1] == folds[7] and set(folds) == {0, 1}
    assert 60 < folds.count(0) < 140  # a hash, not a split by position


def test_each_target_is_regenerated_by_the_teacher_that_did_not_train_on_it(tiny_synthetic, tmp_path):
    out = tmp_path / "heldout"
    corpus = heldout_distill(tiny_synthetic.path, out, folds=2, preset="tiny", device="cpu", backend="ctranslate2",
                             compute_type="float32")
    work = tmp_path / "heldout.work"
    sources = tiny_synthetic.lines("train", "src")
    assert corpus.lines("train", "src") == sources and corpus.lines("train", "orig") == tiny_synthetic.lines(
        "train", "tgt")
    assert corpus.lines("test", "tgt") == tiny_synthetic.lines("test", "tgt")
    info = corpus.manifest["distillation"]["heldout"]
    assert info["folds"] == 2 and info["teacher_updates"] == 75  # the tiny preset's 150, halved
    for fold in (0, 1):
        trained_on = set(Corpus.open(work / f"train-without-fold-{fold}").lines("train", "src"))
        held_out = Corpus.open(work / f"fold-{fold}.seqkd")
        assert not trained_on & set(held_out.lines("train", "src"))
        regenerated = dict(zip(held_out.lines("train", "src"), held_out.lines("train", "tgt")))
        for source, target in zip(sources, corpus.lines("train", "tgt")):
            if fold_of(source, 2) == fold:
                assert target == regenerated[source]
    assert sum(t["regenerated"] for t in info["teachers"]) == len(sources)
    assert corpus.manifest["distillation"]["teacher_cost"]["teachers"] == 2
    assert "bleu_signature" in corpus.manifest["distillation"]["distilled_targets_vs_references"]["train"]["tgt"]
    again = heldout_distill(tiny_synthetic.path, out, folds=2, preset="tiny", device="cpu", backend="ctranslate2",
                            compute_type="float32")
    assert again.manifest["config_hash"] == corpus.manifest["config_hash"]


def test_one_fold_is_refused(tiny_synthetic, tmp_path):
    with pytest.raises(InputError, match="2 or more"):
        heldout_distill(tiny_synthetic.path, tmp_path / "x", folds=1)
