"""Teacher training, resumption bookkeeping and sacrebleu evaluation on a tiny corpus."""
import json
import shutil

import pytest

from distill.io import InputError
from distill.teacher import evaluate_teacher, train_teacher


def test_tiny_teacher_trains_and_scores_with_signatures(tiny_teacher):
    run, manifest = tiny_teacher
    assert (run / "checkpoints" / "checkpoint_best.pt").is_file()
    assert json.loads((run / "config.json").read_text())["config_hash"] == manifest["config_hash"]
    result = evaluate_teacher(run, split="test", beam=5, device="cpu")
    scores = result["scores"]["tgt"]
    assert scores["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert "chrF2" in scores["chrf_signature"] or "nc:6" in scores["chrf_signature"]
    # the tiny corpus is deterministic (zero entropy): a trained teacher must get it mostly right
    assert scores["bleu"] > 60
    hyps = (run / "eval" / f"{result['corpus'].split('/')[-1]}.test.beam5.hyp").read_text().splitlines()
    assert len(hyps) == result["sentences"] == 40


def test_a_moved_run_finds_its_own_checkpoint(tiny_teacher, tmp_path):
    from distill.engine import read_run_manifest

    run, manifest = tiny_teacher
    assert manifest["train_wall_seconds"] > 0  # from the times of its train.log lines
    moved = tmp_path / "elsewhere"
    shutil.copytree(run, moved)
    assert read_run_manifest(moved)["checkpoint"] == str((moved / "checkpoints" / "checkpoint_best.pt").resolve())


def test_finished_run_is_skipped_and_other_config_refused(tiny_teacher, tiny_synthetic):
    run, manifest = tiny_teacher
    again = train_teacher(tiny_synthetic.path, run, preset="tiny", device="cpu")
    assert again == manifest
    with pytest.raises(InputError, match="holds a different run"):
        train_teacher(tiny_synthetic.path, run, preset="tiny", device="cpu", seed=2)


def test_word_level_kd_student_trains_with_kl_term(tiny_teacher, tiny_synthetic, tmp_path):
    """In bf16: the criterion runs the teacher too, inside the launcher's autocast (distill.fairseq_tool)."""
    import re

    _, teacher = tiny_teacher
    student = train_teacher(tiny_synthetic.path, tmp_path / "student", preset="tiny", device="cpu", precision="bf16",
                            overrides={"max_update": 20, "word_kd": {"teacher": teacher["checkpoint"], "alpha": 0.5}})
    log = (tmp_path / "student" / "train.log").read_text()
    assert "--criterion word_kd" in log and "-m distill.fairseq_tool train --precision bf16" in log
    kd = [float(value) for value in re.findall(r"kd_loss[= ]([0-9.]+)", log)]
    assert kd and all(0 < value < 20 for value in kd)  # the KL term is computed, finite, and reported
    assert student["settings"]["word_kd"]["alpha"] == 0.5 and student["precision"] == "bf16"


def test_two_processes_train_one_teacher_through_fairseqs_distributed_path(tiny_synthetic, tmp_path, capsys):
    """The multi-node code path (gloo, legacy_ddp, TCP rendezvous), run as two ranks on this machine."""
    from distill.cli import main as distill_main

    run = tmp_path / "teacher-2p"
    assert distill_main(["train-teacher", "--corpus", str(tiny_synthetic.path), "--out", str(run), "--preset", "tiny",
                         "--device", "cpu", "--processes", "2"]) == 0
    log, rank1 = (run / "train.log").read_text(), (run / "train.rank1.log").read_text()
    assert "distributed init (rank 0)" in log and "distributed init (rank 1)" in rank1
    assert "--distributed-world-size 2" in log and "num_updates 150" in log
    assert json.loads((run / "manifest.json").read_text())["settings"]["processes"] == 2
    evaluated = json.loads(next((run / "eval").glob("*.test.beam5.json")).read_text())
    assert evaluated["scores"]["tgt"]["bleu"] > 60  # the same floor as the one-process teacher
    with pytest.raises(InputError, match="--processes is for CPU"):
        train_teacher(tiny_synthetic.path, tmp_path / "gpu", preset="tiny", device="cuda", processes=2)


def test_the_word_level_kd_loss_on_a_two_token_vocabulary():
    """Student uniform (1/2, 1/2), teacher (3/4, 1/4), gold token 0: every number worked out by hand."""
    import math

    import torch

    from distill.kd import kl_to_teacher, word_kd_loss

    student = torch.tensor([[[0.0, 0.0], [0.0, 0.0]]])
    teacher = torch.tensor([[[math.log(3.0), 0.0], [math.log(3.0), 0.0]]])
    padding = torch.tensor([[False, True]])  # the second position is padding: no loss there
    kl = kl_to_teacher(student, teacher, padding)
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)  # 0.130812
    assert kl.tolist()[0] == pytest.approx([expected, 0.0], abs=1e-6)
    nll = torch.tensor(math.log(2.0))  # -log p_student(gold) = -log 1/2
    assert float(word_kd_loss(nll, kl.sum(), alpha=0.5)) == pytest.approx(0.5 * math.log(2) + 0.5 * expected)
    assert float(word_kd_loss(nll, kl.sum(), alpha=0.0)) == pytest.approx(math.log(2))
    # temperature 2 softens the teacher to (sqrt 3, 1) / (sqrt 3 + 1), and scales the term by 4
    soft = math.sqrt(3) / (math.sqrt(3) + 1)
    kl2 = kl_to_teacher(student, teacher, padding, temperature=2.0).sum()
    by_hand = soft * math.log(soft / 0.5) + (1 - soft) * math.log((1 - soft) / 0.5)
    assert float(kl2) == pytest.approx(by_hand, abs=1e-6)
    assert float(word_kd_loss(nll, kl2, alpha=1.0, temperature=2.0)) == pytest.approx(4 * by_hand, abs=1e-6)


def test_a_shrunk_student_starts_from_its_teachers_kept_layers_and_resumes_from_its_own(tiny_synthetic, tmp_path,
                                                                                       capsys):
    """Shrink and fine-tune through the command line: a 1+3 teacher, a student keeping decoder layers 0 and 2; after
    one update its weights are still the teacher's (Adam's first step is about the learning rate), a student
    trained from scratch is nowhere near them."""
    import torch

    from distill.cli import main as distill_main

    common = ["train-teacher", "--corpus", str(tiny_synthetic.path), "--preset", "tiny", "--device", "cpu", "--no-eval"]
    assert distill_main([*common, "--out", str(tmp_path / "teacher"), "--decoder-layers", "3",
                         "--max-update", "30"]) == 0
    student = tmp_path / "shrunk"
    shrink = [*common, "--out", str(student), "--shrink-from", str(tmp_path / "teacher"), "--decoder-layers", "2",
              "--max-update", "1"]
    assert distill_main(shrink) == 0
    assert "decoder layers [0, 2] of 3" in capsys.readouterr().out
    assert "--finetune-from-model" in (student / "train.log").read_text()
    assert distill_main([*common, "--out", str(tmp_path / "scratch"), "--decoder-layers", "2", "--seed", "2",
                         "--max-update", "1"]) == 0  # another seed: the teacher's own start is near its 30 updates

    def weights(run):
        return torch.load(run / "checkpoints" / "checkpoint_best.pt", map_location="cpu", weights_only=False)["model"]

    teacher, shrunk, scratch = weights(tmp_path / "teacher"), weights(student), weights(tmp_path / "scratch")
    assert sum(name.startswith("decoder.layers.") for name in shrunk) * 3 == \
        sum(name.startswith("decoder.layers.") for name in teacher) * 2
    pairs = [("encoder.layers.0.fc1.weight", "encoder.layers.0.fc1.weight"),
             ("decoder.layers.1.fc1.weight", "decoder.layers.2.fc1.weight"),  # student layer 1 is teacher layer 2
             ("decoder.embed_tokens.weight", "decoder.embed_tokens.weight")]
    for mine, theirs in pairs:
        scale = teacher[theirs].abs().mean()
        assert (shrunk[mine] - teacher[theirs]).abs().mean() < 0.05 * scale, mine
        assert (scratch[mine] - teacher[theirs]).abs().mean() > 0.3 * scale, mine
    assert distill_main(shrink) == 0 and "already trained" in capsys.readouterr().out
    assert distill_main([*common, "--out", str(tmp_path / "wrong"), "--shrink-from", str(tmp_path / "teacher"),
                         "--decoder-layers", "2", "--size", "small"]) == 1
    error = capsys.readouterr().err
    assert "needs the teacher's shape (" in error and "encoder_embed_dim 64 vs 128;" in error
