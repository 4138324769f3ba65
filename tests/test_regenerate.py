"""Sequence-level KD regeneration: methods, the distilled corpus format, kill-and-resume."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from distill.corpus.directory import Corpus
from distill.generation import Hypothesis
from distill.regenerate import RegenerationRequest, pick, regenerate


def test_seq_inter_keeps_the_hypothesis_closest_to_the_reference():
    nbest = [Hypothesis("the cat sat", -0.1), Hypothesis("a dog sat on the mat", -0.5),
             Hypothesis("the dog sat on the mat", -0.9)]
    assert pick("seqkd", nbest, "the dog sat on the mat") == "the cat sat"
    assert pick("seq-inter", nbest, "the dog sat on the mat") == "the dog sat on the mat"


def _request(teacher_manifest, corpus, out, **kw):
    return RegenerationRequest(teachers=[teacher_manifest["checkpoint"]], corpus=str(corpus.path), out=str(out),
                               device="cpu", **kw)


def test_seqkd_and_seq_inter_write_distilled_corpora(tiny_teacher, tiny_synthetic, tmp_path):
    _, manifest = tiny_teacher
    for method in ("seqkd", "seq-inter"):
        distilled = regenerate(_request(manifest, tiny_synthetic, tmp_path / method, method=method, shard_size=256))
        info = distilled.manifest
        assert info["counts"] == tiny_synthetic.manifest["counts"]
        assert distilled.lines("test", "tgt") == tiny_synthetic.lines("test", "tgt")  # test is never regenerated
        assert distilled.lines("train", "orig") == tiny_synthetic.lines("train", "tgt")
        assert distilled.lines("train", "orig.mode") == tiny_synthetic.lines("train", "mode")
        assert not distilled.raw("train", "mode").exists()  # modes of teacher outputs are unknown
        assert info["distillation"]["teacher_cost"]["sentences"] == 640
        assert info["distillation"]["teacher_cost"]["cpu_seconds_per_sentence"] > 0
        assert "bleu_signature" in info["distillation"]["distilled_targets_vs_references"]["train"]["tgt"]
        # same vocabulary as the source corpus
        dictionary = (tiny_synthetic.bin_dir / "dict.src.txt").read_bytes()
        assert (distilled.bin_dir / "dict.src.txt").read_bytes() == dictionary
        assert not (tmp_path / f".{method}.shards").exists()


@pytest.mark.parametrize("backend", ["fairseq", "ctranslate2"])
def test_killed_regeneration_resumes_to_a_byte_identical_corpus(backend, tiny_teacher, tiny_synthetic, tmp_path):
    _, manifest = tiny_teacher
    # CTranslate2 is much faster on the tiny teacher: smaller shards, so that the kill lands mid-way
    shard_size = {"fairseq": 10, "ctranslate2": 2}[backend]
    options = {"backend": backend, **({"compute_type": "float32"} if backend == "ctranslate2" else {})}
    common = ["--teacher", manifest["checkpoint"], "--corpus", str(tiny_synthetic.path), "--shard-size",
              str(shard_size), "--max-tokens", "40", "--device", "cpu",
              *[f"--{key.replace('_', '-')}={value}" for key, value in options.items()]]
    reference = regenerate(_request(manifest, tiny_synthetic, tmp_path / "straight", shard_size=shard_size,
                                    max_tokens=40, **options))

    out = tmp_path / "resumed"
    shard_dir = tmp_path / ".resumed.shards"
    command = [sys.executable, "-m", "distill", "regenerate", *common, "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(shard_dir.glob("*.json"))) < 6:  # config.json + 5 shards
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done_before_resume = len(list(shard_dir.glob("train-*.json")))
    assert 0 < done_before_resume < 600 / shard_size, "the kill must land mid-way"
    assert not (out / "manifest.json").exists()

    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    resumed = Corpus.open(out)
    for split in ("train", "valid", "test"):
        assert resumed.raw(split, "tgt").read_bytes() == reference.raw(split, "tgt").read_bytes()
    for name in ("train.src-tgt.tgt.bin", "valid.src-tgt.tgt.bin"):
        assert (resumed.bin_dir / name).read_bytes() == (reference.bin_dir / name).read_bytes()
    assert resumed.manifest["files"] == reference.manifest["files"]


def test_ctranslate2_backend_matches_fairseq_and_splits_across_workers(tiny_teacher, tiny_synthetic, tmp_path):
    _, manifest = tiny_teacher
    reference = regenerate(_request(manifest, tiny_synthetic, tmp_path / "fairseq", shard_size=100))
    float32 = regenerate(_request(manifest, tiny_synthetic, tmp_path / "ct2", shard_size=100, backend="ctranslate2",
                                  compute_type="float32"))
    assert float32.manifest["config"]["backend"] == "ctranslate2"
    assert float32.manifest["config"]["batching"] == {"max_batch_size": 32, "batch_type": "examples"}
    assert float32.manifest["config_hash"] != reference.manifest["config_hash"]
    agree = sum(a == b for a, b in zip(float32.lines("train", "tgt"), reference.lines("train", "tgt")))
    assert agree >= 0.95 * len(reference.lines("train", "tgt"))  # same model, same beam search
    assert "ctranslate2" in float32.manifest["versions"]

    # two workers, each a fresh process-free call, assemble the same bytes as one straight run
    split = [_request(manifest, tiny_synthetic, tmp_path / "ct2-workers", shard_size=100, backend="ctranslate2",
                      compute_type="float32", num_workers=2, worker_index=i) for i in (0, 1)]
    assert regenerate(split[0]) is None  # worker 1's shards are still missing
    assembled = regenerate(split[1])
    assert assembled.raw("train", "tgt").read_bytes() == float32.raw("train", "tgt").read_bytes()


def test_ctranslate2_backend_refuses_an_ensemble(tiny_teacher, tiny_synthetic, tmp_path):
    from distill.io import InputError

    checkpoint = tiny_teacher[1]["checkpoint"]
    request = RegenerationRequest(teachers=[checkpoint, checkpoint], corpus=str(tiny_synthetic.path),
                                  out=str(tmp_path / "x"), device="cpu", backend="ctranslate2")
    with pytest.raises(InputError, match="one teacher"):
        regenerate(request)


def test_a_conversion_killed_mid_way_is_redone_not_used(tiny_teacher, tiny_synthetic, tmp_path):
    import ctranslate2

    from distill.ctranslate2_backend import converted_model
    from distill.io import sha256_file

    checkpoint = tmp_path / "checkpoint_best.pt"  # a copy: conversions are cached beside the checkpoint
    shutil.copy(tiny_teacher[1]["checkpoint"], checkpoint)
    digest = sha256_file(checkpoint)
    partial = tmp_path / f".ct2-{digest[:12]}.partial-{2 ** 22 + 1}"  # what a killed conversion leaves behind
    partial.mkdir()
    (partial / "model.bin").write_bytes(b"half")
    target = converted_model(str(checkpoint), tiny_synthetic)
    assert target == tmp_path / f"ct2-{digest[:12]}" and not partial.exists()
    assert json.loads((target / "seqkd.json").read_text())["checkpoint_sha256"] == digest
    assert ctranslate2.Translator(str(target), device="cpu").model_is_loaded


def _point(lenpen, bleu, ratio):
    from distill.lenpen import LengthPenaltyPoint

    return LengthPenaltyPoint(lenpen=lenpen, bleu=bleu, length_ratio=ratio, bleu_signature="")


# candidates (lenpen, BLEU, length ratio) -> the value each criterion chooses, worked out by hand
LENPEN_CHOICES = [
    # the teacher short at 1: the longer outputs of 1.4 fit the references best, 1.2 has the best BLEU
    ([(1.0, 30.0, 0.95), (1.2, 30.4, 0.98), (1.4, 30.1, 1.005), (1.7, 29.0, 1.04)], 1.4, 1.2),
    # 0.8 and 1.2 as far from a ratio of 1: the higher BLEU wins; the BLEU tie goes to the ratio nearer 1
    ([(0.8, 29.0, 0.97), (1.2, 29.5, 1.03), (1.7, 29.5, 1.06)], 1.2, 1.2),
    # all equal: the default, 1
    ([(0.6, 30.0, 1.0), (1.0, 30.0, 1.0), (1.4, 30.0, 1.0)], 1.0, 1.0),
]


@pytest.mark.parametrize("candidates, by_length, by_bleu", LENPEN_CHOICES)
def test_the_length_penalty_chosen_by_each_criterion(candidates, by_length, by_bleu):
    from distill.lenpen import choose

    points = [_point(*candidate) for candidate in candidates]
    assert choose(points, "length-ratio") == by_length
    assert choose(points, "bleu") == by_bleu


@pytest.mark.parametrize("options, message", [
    ({"lenpen": -1.0}, "positive number"),
    ({"lenpen": "long"}, "positive number"),
    ({"lenpen": 1.2, "method": "sample"}, "sample method"),
    ({"lenpen": "auto", "method": "sample"}, "sample method"),
])
def test_a_length_penalty_that_cannot_apply_is_refused(options, message, tmp_path):
    from distill.io import InputError

    request = RegenerationRequest(teachers=["t.pt"], corpus="c", out=str(tmp_path / "x"), **options)
    with pytest.raises(InputError, match=message):
        request.check()


def test_lenpen_auto_decodes_with_the_value_tuned_on_valid(tiny_teacher, tiny_synthetic, tmp_path):
    from distill.lenpen import LengthPenaltyTuning, choose

    _, manifest = tiny_teacher
    options = {"backend": "ctranslate2", "compute_type": "float32", "shard_size": 300}
    tuned = regenerate(_request(manifest, tiny_synthetic, tmp_path / "auto", lenpen="auto",
                                lenpen_values=(0.2, 1.0, 4.0), **options))
    record = LengthPenaltyTuning.from_dict(tuned.manifest["distillation"]["length_penalty"])
    assert [p.lenpen for p in record.points] == [0.2, 1.0, 4.0]
    assert record.split == "valid" and record.chosen == choose(record.points, "length-ratio")
    assert tuned.manifest["config"]["decoding"]["lenpen"]["values"] == [0.2, 1.0, 4.0]
    # the same corpus as decoding with that value given outright, under another identity
    fixed = regenerate(_request(manifest, tiny_synthetic, tmp_path / "fixed", lenpen=record.chosen, **options))
    assert fixed.raw("train", "tgt").read_bytes() == tuned.raw("train", "tgt").read_bytes()
    assert fixed.manifest["distillation"]["length_penalty"] == {"chosen": record.chosen}
    assert fixed.manifest["config_hash"] != tuned.manifest["config_hash"]
    # the command that shows the table: the same choice, its Markdown as `seqkd-report render` makes it
    from analysis.render import renderer_of
    from distill.cli import main as distill_main
    from distill.io import read_json

    assert distill_main(["tune-lenpen", "--teacher", manifest["checkpoint"], "--corpus", str(tiny_synthetic.path),
                         "--backend", "ctranslate2", "--compute-type", "float32", "--lenpen-values", "0.2,1,4",
                         "--out", str(tmp_path / "table")]) == 0
    table = read_json(tmp_path / "table" / "lenpen.json")
    assert table["chosen"] == record.chosen and table["points"] == [vars(p) for p in record.points]
    markdown, renderer = renderer_of(tmp_path / "table" / "lenpen.json")
    assert markdown.read_text() == renderer.render(table, tmp_path / "table" / "lenpen.json")
    assert f"| {record.chosen:g} |" in markdown.read_text() and "chosen" in markdown.read_text()


def test_every_distilled_corpus_has_a_data_card_made_from_its_manifest(tiny_teacher, tiny_synthetic, tiny_distilled,
                                                                      tmp_path):
    from distill.card import CARD
    from distill.cli import main as distill_main
    from distill.teacher import evaluate_teacher

    run, manifest = tiny_teacher
    evaluate_teacher(run, device="cpu")  # the card shows the teacher's evaluations
    distilled = tiny_distilled
    assert distill_main(["card", "--corpus", str(distilled.path)]) == 0  # again, now with the evaluation
    card = (distilled.path / CARD).read_text()
    sha = distilled.manifest["config"]["teachers"][0]["sha256"]
    for expected in (f"`{sha}`", "| backend | ctranslate2 |", "| beam | 5 |", "| length penalty | 1 |",
                     f"| test | {tiny_synthetic.manifest['counts']['test']} | human, never regenerated |",
                     "None applied", "ms CPU", "| train | tgt |", "times the words of the human ones",
                     f"| {run.name} | tiny-syn | test | 5 |"):  # the teacher's own evaluation, with its BLEU
        assert expected in card, expected
    parameters = sum(p.numel() for p in __import__("torch").load(manifest["checkpoint"], weights_only=False)[
        "model"].values())
    assert f"{parameters:,}" in card
    assert distill_main(["card", "--corpus", str(distilled.path), "--out", str(tmp_path / "copy")]) == 0
    assert (tmp_path / "copy" / CARD).read_text() == card
    from analysis.render import renderer_of
    from distill.io import read_json

    markdown, renderer = renderer_of(tmp_path / "copy" / "card.json")  # a committed card re-renders from its JSON
    assert renderer.render(read_json(tmp_path / "copy" / "card.json"), markdown) == card
    assert distill_main(["card", "--corpus", str(tiny_synthetic.path)]) == 1  # a raw corpus has no card


def test_filtered_training_pairs_are_counted_in_the_manifest_and_the_card(tiny_teacher, tiny_synthetic, tiny_distilled,
                                                                         tmp_path):
    from distill.card import CARD
    from distill.filters import OutputFilters, longest_run

    _, manifest = tiny_teacher
    options = {"backend": "ctranslate2", "compute_type": "float32", "shard_size": 700}
    plain = tiny_distilled  # the same request without rules
    # no word twice in a row: the synthetic lexicon's random words break it now and then (a third of the lines)
    rules = OutputFilters(repeats=1)
    filtered = regenerate(_request(manifest, tiny_synthetic, tmp_path / "filtered", filters=rules, **options))
    sources, outputs = plain.lines("train", "src"), plain.lines("train", "tgt")
    broken = sum(longest_run(o.split()) > 1 for o in outputs)
    assert 0 < broken < len(sources)
    assert filtered.manifest["filtered"]["train"]["counts"] == {"repeats": broken}
    assert filtered.manifest["counts"]["train"] == len(sources) - broken
    assert filtered.manifest["input_lines"]["train"] == len(sources)
    assert filtered.manifest["counts"]["valid"] == plain.manifest["counts"]["valid"]  # valid is not filtered
    assert all(longest_run(o.split()) == 1 for o in filtered.lines("train", "tgt"))
    kept = [s for s, o in zip(sources, outputs) if longest_run(o.split()) == 1]
    assert filtered.lines("train", "src") == kept  # in order, the rest dropped
    assert filtered.manifest["config_hash"] != plain.manifest["config_hash"]
    assert f"| train | repeats | {broken} | dropped |" in (filtered.path / CARD).read_text()
