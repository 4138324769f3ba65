"""Interruption, determinism and bad input across commands: each test fails if the guarantee breaks."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from distill.cli import main as distill_main
from distill.corpus.directory import Corpus
from distill.io import InputError
from nat.cli import main as nat_main

SYNTHETIC = ["prepare", "synthetic", "--modes", "2", "--source-types", "60", "--vocab-size", "300", "--seed", "5"]


def _kill_group_when(process, condition, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None and not condition():
        time.sleep(0.02)
    assert process.poll() is None, "the command finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_same_seed_gives_byte_identical_corpora(tmp_path):
    for name in ("a", "b"):
        assert distill_main([*SYNTHETIC, "--train-size", "500", "--out", str(tmp_path / name)]) == 0
    first, second = Corpus.open(tmp_path / "a"), Corpus.open(tmp_path / "b")
    assert first.manifest["files"] == second.manifest["files"]  # sha256 of raw, spm model, fairseq binaries


def test_killed_preparation_is_never_read_as_done_and_rerun_matches(tmp_path):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "distill", *SYNTHETIC, "--train-size", "60000", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    partial = tmp_path / ".killed.partial"
    _kill_group_when(process, lambda: (partial / "spm").is_dir())
    assert not out.exists()
    with pytest.raises(InputError):
        Corpus.open(out)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert distill_main([*SYNTHETIC, "--train-size", "60000", "--out", str(tmp_path / "straight")]) == 0
    assert Corpus.open(out).manifest["files"] == Corpus.open(tmp_path / "straight").manifest["files"]
    assert not partial.exists()


def test_killed_training_resumes_from_its_last_checkpoint(tiny_synthetic, tmp_path):
    run = tmp_path / "teacher"
    command = [sys.executable, "-m", "distill", "train-teacher", "--corpus", str(tiny_synthetic.path), "--out",
               str(run),
               "--preset", "tiny", "--max-update", "200", "--device", "cpu", "--no-eval"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    last = run / "checkpoints" / "checkpoint_last.pt"
    _kill_group_when(process, last.is_file)
    assert not (run / "manifest.json").exists()  # an interrupted run never looks finished
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = (run / "train.log").read_text()
    resumed = re.findall(r"Loaded checkpoint .*checkpoint_last\.pt \(epoch \d+ @ (\d+) updates\)", log)
    assert resumed and 0 < int(resumed[-1]) < 200
    assert "num_updates 200" in log.split("Loaded checkpoint")[-1]
    assert (run / "manifest.json").is_file()


def test_decoding_is_deterministic(tiny_students, tiny_synthetic, tmp_path):
    run, _ = tiny_students["cmlm"]
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.txt"
        assert nat_main(["decode", "--run", str(run), "--input", str(tiny_synthetic.raw("test", "src")),
                         "--output", str(out), "--device", "cpu", "--length-beam", "2"]) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("case", ["decode_utf8", "decode_missing_run", "decode_missing_input", "regenerate_no_manifest",
                                  "regenerate_wrong_kind", "regenerate_corrupt_checkpoint", "train_missing_corpus",
                                  "complexity_missing_corpus", "analysis_no_modes", "modes_empty_hyp",
                                  "modes_unknown_mode_name"])
def test_bad_input_is_a_one_line_error(case, tiny_students, tiny_synthetic, tmp_path, capsys):
    from analysis.cli import main as analysis_main

    half = tmp_path / "half-corpus"
    (half / "raw").mkdir(parents=True)
    if case == "decode_utf8":
        bad = tmp_path / "in.txt"
        bad.write_bytes(b"hola\n\xff\xfe\n")
        code = nat_main(["decode", "--run", str(tiny_students["nat"][0]), "--input", str(bad)])
        expected = r"in\.txt:2: invalid UTF-8"
    elif case == "decode_missing_run":
        code = nat_main(["decode", "--run", str(tmp_path / "nothing"), "--input", str(tiny_synthetic.raw("test",
                                                                                                         "src"))])
        expected = r"nothing/manifest\.json: missing"
    elif case == "regenerate_no_manifest":
        code = distill_main(["regenerate", "--teacher", str(tiny_students["nat"][1]["checkpoint"]), "--corpus",
                             str(half),
                             "--out", str(tmp_path / "d")])
        expected = r"half-corpus/manifest\.json: missing"
    elif case == "decode_missing_input":
        code = nat_main(["decode", "--run", str(tiny_students["nat"][0]), "--input", str(tmp_path / "absent.txt")])
        expected = r"absent\.txt: file not found"
    elif case == "regenerate_wrong_kind":  # a NAT student where the AR teacher belongs
        code = distill_main(["regenerate", "--teacher", str(tiny_students["nat"][0]), "--corpus",
                             str(tiny_synthetic.path), "--out", str(tmp_path / "d")])
        expected = r"checkpoint_last\.pt: holds a NATransformerModel, expected an autoregressive teacher"
    elif case == "regenerate_corrupt_checkpoint":
        broken = tmp_path / "broken.pt"
        broken.write_bytes(b"PK\x03\x04 truncated")
        code = distill_main(["regenerate", "--teacher", str(broken), "--corpus", str(tiny_synthetic.path),
                             "--out", str(tmp_path / "d")])
        expected = r"broken\.pt: cannot load checkpoint"
    elif case == "complexity_missing_corpus":
        code = analysis_main(["complexity", "--corpus", str(tmp_path / "gone"), "--out", str(tmp_path / "c")])
        expected = r"gone: corpus directory not found"
    elif case == "modes_empty_hyp":
        empty = tmp_path / "empty.hyp"
        empty.write_text("")
        corpus = distill_main([*SYNTHETIC, "--train-size", "300", "--out", str(tmp_path / "k2")])
        assert corpus == 0
        code = analysis_main(["modes", "--corpus", str(tmp_path / "k2"), "--hyp", f"x={empty}", "--out",
                              str(tmp_path / "m")])
        expected = r"empty\.hyp: file is empty"
    elif case == "modes_unknown_mode_name":
        corpus = distill_main([*SYNTHETIC, "--train-size", "300", "--out", str(tmp_path / "k2")])
        assert corpus == 0
        code = analysis_main(["modes", "--corpus", str(tmp_path / "k2"), "--hyp",
                              f"x={tmp_path / 'k2' / 'raw' / 'test.tgt'}",
                              "--mode-name", "7=WEB", "--out", str(tmp_path / "m")])
        expected = r"--mode-name 7: no such mode in .*train\.mode"
    elif case == "train_missing_corpus":
        code = nat_main(["train", "--student", "nat", "--corpus", str(tmp_path / "nope"), "--out", str(tmp_path / "r")])
        expected = r"nope: corpus directory not found"
    else:
        src, tgt = tmp_path / "a.es", tmp_path / "a.en"
        src.write_text("".join(f"uno {i}\n" for i in range(200)))
        tgt.write_text("".join(f"one {i}\n" for i in range(200)))
        assert distill_main(["prepare", "files", "--src", str(src), "--tgt", str(tgt), "--out", str(tmp_path / "c"),
                             "--vocab-size", "40", "--held-out-per-mille", "100"]) == 0
        code = analysis_main(["modes", "--corpus", str(tmp_path / "c"), "--hyp", f"x={src}", "--out",
                              str(tmp_path / "m")])
        expected = r"train\.mode: missing"
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len([line for line in err if line.startswith("error:")]) == 1
    assert re.search(expected, err[-1]), err


def test_decoding_an_empty_file_writes_an_empty_file(tiny_students, tmp_path, capsys):
    empty, out = tmp_path / "empty.txt", tmp_path / "out.txt"
    empty.write_text("")
    assert nat_main(["decode", "--run", str(tiny_students["duration"][0]), "--input", str(empty),
                     "--output", str(out), "--device", "cpu"]) == 0
    assert out.read_bytes() == b""
    assert "decoded 0 lines" in capsys.readouterr().err
