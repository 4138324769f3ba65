"""The student registry: what each built-in kind is, and a new kind added from this file alone."""
import json
import shutil

import pytest

from distill.io import InputError
from nat.cli import main as nat_main
from nat.registry import CTCStudent, register_student, registered, student_kind, student_names

# kind: (autoregressive, ctc, iterative, one pass, needs the teacher, teacher-forced confidence, model class)
KINDS = {
    "ctc": (False, True, False, True, False, True, "CTCNATModel"),
    "ctc-glat": (False, True, False, True, False, True, "CTCNATModel"),
    "nat": (False, False, False, True, False, False, "NATransformerModel"),
    "nat-glat": (False, False, False, True, False, False, "GlancingNATModel"),
    "cmlm": (False, False, True, False, False, False, "CMLMNATransformerModel"),
    "duration": (False, False, False, True, True, False, "DurationNATModel"),
    "dat": (False, False, False, True, False, False, "DATModel"),
    "ar": (True, False, False, False, False, True, None),
}


@pytest.mark.parametrize("name", KINDS)
def test_each_built_in_kind_says_what_it_is(name):
    kind = student_kind(name)
    assert (kind.autoregressive, kind.ctc, kind.iterative, kind.one_pass, kind.needs_teacher, kind.teacher_forced,
            kind.model_class) == KINDS[name]


def test_the_kinds_that_decode_a_length_beam():
    from nat.registry import student_kinds

    assert [kind.name for kind in student_kinds() if kind.predicts_length] == ["nat", "nat-glat", "cmlm", "duration"]


def test_the_built_in_kinds_in_their_order():
    assert student_names() == tuple(KINDS)


# kind, max_update -> the fairseq arguments that differ from the kind's family, as written in its run config
ARGUMENT_PARTS = [
    ("ctc", 300, ["--arch", "ctc_nat", "--criterion", "ctc_nat_loss"], "--glance-start"),
    ("ctc-glat", 1250, ["--glance-start", 0.5, "--glance-end", 0.3, "--glance-updates", 1250], None),
    ("nat", 300, ["--arch", "nonautoregressive_transformer", "--noise", "full_mask", "--src-embedding-copy"], None),
    ("nat-glat", 40, ["--arch", "glancing_nat", "--glance-start", 0.5, "--glance-end", 0.3, "--glance-updates", 40,
                      "--noise", "full_mask", "--src-embedding-copy"], None),
    ("cmlm", 300, ["--arch", "cmlm_transformer", "--noise", "random_mask", "--pred-length-offset"],
     "--apply-bert-init"),
    ("dat", 300, ["--arch", "dag_nat", "--criterion", "dag_nat_loss", "--encoder-learned-pos", "--activation-fn",
                  "gelu", "--glance-start", 0.5, "--glance-end", 0.3, "--glance-updates", 300], None),
    ("ar", 300, ["--arch", "transformer", "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1",
                 "--decoder-layers", 1], "--left-pad-source"),
]


@pytest.mark.parametrize("name, max_update, part, absent", ARGUMENT_PARTS)
def test_a_kinds_fairseq_arguments(name, max_update, part, absent):
    arguments = student_kind(name).arguments(None, max_update)
    start = arguments.index(part[0])
    assert arguments[start:start + len(part)] == part
    assert absent is None or absent not in arguments


def test_the_duration_kind_names_its_durations():
    arguments = student_kind("duration").arguments("durations/abc", 300)
    assert arguments[arguments.index("--durations-dir") + 1] == "durations/abc"


# kind, (iterations, length beam, rescored) -> (label, beam) of each decoding, and the evaluation file stems
DECODINGS = [
    ("ar", (10, 1, False), [("greedy", 1), ("beam 5", 5)], ["test.greedy", "test.beam5"]),
    ("ctc", (10, 1, False), [("one pass, blank penalty tuned on valid", None)], ["test.blank-penalty0.75"]),
    ("nat", (10, 1, False), [("one pass", None)], ["test.one-pass"]),
    ("nat", (10, 5, True), [("one pass, length beam 5, rescored by the teacher", None)],
     ["test.one-pass.length-beam5+teacher"]),
    ("cmlm", (4, 3, False), [("4 iterations, length beam 3", None)], ["test.iterations4.length-beam3"]),
]


@pytest.mark.parametrize("name, options, expected, stems", DECODINGS)
def test_how_a_kind_is_decoded_and_where_its_scores_go(name, options, expected, stems):
    kind = student_kind(name)
    iterations, length_beam, rescored = options
    decodings = kind.decodings(iterations, length_beam, rescored)
    assert [(d.label, d.beam) for d in decodings] == expected
    assert [kind.evaluation_stem(d.beam, iterations, 0.75, length_beam, rescored) for d in decodings] == stems


def test_a_name_is_registered_once_and_an_unknown_one_is_one_line():
    with pytest.raises(ValueError, match="'ctc' is registered already"):
        register_student(CTCStudent("ctc", "again"))
    with pytest.raises(InputError, match="unknown student 'ctc-big'; choose one of ctc, ctc-glat, nat"):
        student_kind("ctc-big")


# A new kind, defined here and nowhere else: a CTC NAT with three decoder positions per source token (the
# built-in one has two). No module of the package changes; the public commands train, decode, evaluate and
# compare it.
UPSAMPLED = CTCStudent("ctc-up3", "CTC NAT over 3x upsampled encoder states",
                       extra_arguments=("--upsample-ratio", 3))


def test_a_kind_registered_in_a_test_goes_through_the_public_commands(tiny_synthetic, tiny_teacher, tmp_path):
    out = tmp_path / "students"
    raw_run = out / "ctc-up3-raw-seed1"
    with registered(UPSAMPLED):
        assert nat_main(["train", "--student", "ctc-up3", "--corpus", str(tiny_synthetic.path), "--out", str(raw_run),
                         "--preset", "tiny", "--device", "cpu"]) == 0
        manifest = json.loads((raw_run / "manifest.json").read_text())
        assert manifest["student"] == "ctc-up3"
        command = next(line for line in (raw_run / "train.log").read_text().splitlines() if line.startswith("$ "))
        assert "--arch ctc_nat" in command and "--upsample-ratio 3" in command

        source, output = tmp_path / "in.txt", tmp_path / "out.txt"
        sources = tiny_synthetic.lines("test", "src")
        source.write_text("\n".join(sources) + "\n")
        assert nat_main(["decode", "--run", str(raw_run), "--input", str(source), "--output", str(output),
                         "--device", "cpu"]) == 0
        assert len(output.read_text().splitlines()) == len(sources)

        scores = tmp_path / "test.json"
        assert nat_main(["evaluate", "--run", str(raw_run), "--out", str(scores), "--device", "cpu"]) == 0
        bleu = json.loads(scores.read_text())["scores"]["tgt"]["bleu"]
        assert bleu >= 90, f"ctc-up3: test BLEU {bleu} below the ctc floor"

        # the fixture corpus stands for the distilled one too: its run is the raw run's twin, found trained
        shutil.copytree(raw_run, out / "ctc-up3-distilled-seed1")
        assert nat_main(["compare", "--teacher", str(tiny_teacher[0]), "--raw", str(tiny_synthetic.path),
                         "--distilled", str(tiny_synthetic.path), "--out", str(out), "--students", "ctc-up3",
                         "--preset", "tiny", "--device", "cpu"]) == 0
        records = json.loads((out / "compare.json").read_text())["results"]
        mine = [r for r in records if r["system"] == "ctc-up3"]
        assert [(r["data"], r["decoding"]) for r in mine] == [
            ("raw", "one pass, blank penalty tuned on valid"), ("distilled", "one pass, blank penalty tuned on valid")]
        assert all(0 <= r["blank_penalty"] <= 2.5 and r["scores"]["tgt"]["bleu"] >= 90 for r in mine)
        assert "| ctc-up3 | raw | one pass, blank penalty tuned on valid |" in (out / "compare.md").read_text()
    assert "ctc-up3" not in student_names()  # gone with its block
