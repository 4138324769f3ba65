"""A teacher made elsewhere, as a CTranslate2 model directory with its tokenizers (issue: bring your own teacher).

Tested offline with this project's own tiny teacher, converted and used as if it came from elsewhere: it must give
the very corpus the built-in CTranslate2 path gives, and every mismatch is refused before any decoding."""
import random
import shutil

import pytest

from distill.io import InputError
from distill.regenerate import RegenerationRequest, regenerate


@pytest.fixture()
def external(tiny_teacher, tiny_synthetic, tmp_path):
    """The tiny teacher as CTranslate2's converter writes it, with its sentencepiece model beside it."""
    from distill.ctranslate2_backend import converted_model

    model = converted_model(tiny_teacher[1]["checkpoint"], tiny_synthetic)
    directory = tmp_path / "external"
    shutil.copytree(model, directory)
    (directory / "seqkd.json").unlink()  # what only this project's own conversions have
    shutil.copy(tiny_synthetic.spm_model, directory / "spm.model")
    return directory


def _request(teacher, corpus, out, **options):
    return RegenerationRequest(teachers=[str(teacher)], corpus=str(corpus.path), out=str(out), device="cpu",
                               compute_type="float32", shard_size=700, **options)


def test_an_external_teacher_gives_the_corpus_of_the_built_in_path(external, tiny_distilled, tiny_synthetic,
                                                                    tmp_path):
    built_in = tiny_distilled  # the same teacher through the built-in CTranslate2 path, same decoding and batching
    outside = regenerate(_request(external, tiny_synthetic, tmp_path / "outside"))  # the backend follows the model
    for split in ("train", "valid"):
        assert outside.raw(split, "tgt").read_bytes() == built_in.raw(split, "tgt").read_bytes()
    teacher = outside.manifest["config"]["teachers"][0]
    assert teacher["kind"] == "ctranslate2" and outside.manifest["config"]["backend"] == "ctranslate2"
    assert "CTranslate2 model" in (outside.path / "CARD.md").read_text()


def _other_tokenizer(tmp_path):
    import sentencepiece as spm

    rng = random.Random(0)
    words = ["".join(rng.choice("qwrtzpsdfghjklxcvbnm") for _ in range(6)) for _ in range(300)]
    text = tmp_path / "other.txt"
    text.write_text("\n".join(" ".join(rng.choice(words) for _ in range(8)) for _ in range(500)) + "\n")
    spm.SentencePieceTrainer.train(input=str(text), model_prefix=str(tmp_path / "other"), vocab_size=120,
                                   minloglevel=2)
    return tmp_path / "other.model"


@pytest.mark.parametrize("case, message", [
    ("not a model", "neither a training run"),
    ("no tokenizer", "no source sentencepiece model"),
    ("another tokenizer", "does not belong to the model"),
    ("unknown language", "target-language token 'xx_Latn' is not in its vocabulary"),
    ("two teachers", "decodes alone"),
])
def test_a_teacher_that_does_not_fit_is_refused_before_decoding(case, message, external, tiny_synthetic, tmp_path):
    options = {}
    teachers = [external]
    if case == "not a model":
        teachers = [tmp_path / "empty"]
        teachers[0].mkdir()
    elif case == "no tokenizer":
        (external / "spm.model").unlink()
    elif case == "another tokenizer":
        options["teacher_source_spm"] = str(_other_tokenizer(tmp_path))
    elif case == "unknown language":
        options["target_prefix"] = "xx_Latn"
    else:
        teachers = [external, external]
    request = RegenerationRequest(teachers=[str(t) for t in teachers], corpus=str(tiny_synthetic.path),
                                  out=str(tmp_path / "out"), device="cpu", **options)
    with pytest.raises(InputError, match=message):
        regenerate(request)
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.shards").exists()
