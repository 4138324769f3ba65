"""The embedded real corpus: markup stripping, split sizes, references, manifest accounting."""
import pytest

from distill.corpus.bible import Verse, assign_splits, clean_osis
from distill.corpus.directory import Corpus
from distill.io import sha256_file


def test_footnote_does_not_glue_words():
    # WEB John 3:16 as stored in the SWORD module: the footnote sits between "born" and "Son"
    markup = ('<w lemma="strong:G3439">only</w> born</q><note placement="foot"><reference type="annotateRef">3:16 '
              '</reference>The phrase “only born” is from the Greek word.</note><q marker="" who="Jesus">'
              '<w lemma="strong:G5207">Son</w>, <w>that</w> whoever')
    assert clean_osis(markup) == "only born Son, that whoever"


def test_translator_added_words_are_separate_words():
    markup = '<w>uno</w><transChange type="added">llamado</transChange><w>Lázaro</w>, <w>de</w>'
    assert clean_osis(markup) == "uno llamado Lázaro, de"


def test_inline_markup_and_pilcrows_are_removed():
    markup = '<q marker="">¶ <w>For</w> <divineName>Lord</divineName>s <w>God</w></q> .'
    assert clean_osis(markup) == "For Lords God."


def test_split_sizes_are_exact_and_depend_only_on_references():
    verses = [Verse("Gen", c, v) for c in range(1, 101) for v in range(1, 41)]
    names = assign_splits(verses)
    assert names.count("test") == 1010 and names.count("valid") == 1010
    assert assign_splits(list(reversed(verses))) == list(reversed(names))


@pytest.fixture(scope="module")
def bible(tmp_path_factory):
    from distill.corpus.bible import prepare_bible

    return prepare_bible(tmp_path_factory.mktemp("bible") / "bible-es-en", vocab_size=8000)


@pytest.mark.slow
def test_prepared_bible_corpus(bible: Corpus):
    manifest = bible.manifest
    counts = manifest["counts"]
    assert counts["train"] >= 29000
    assert 1000 <= counts["valid"] <= 2000 and 1000 <= counts["test"] <= 2000
    dropped = {split: sum(f["counts"].values()) for split, f in manifest["filtered"].items()}
    assert sum(counts.values()) + sum(dropped.values()) == 31102
    for split in counts:
        assert manifest["input_lines"][split] == counts[split] + dropped[split]
        assert len(bible.lines(split, "src")) == len(bible.lines(split, "tgt")) == \
            len(bible.lines(split, "ref.kjv")) == counts[split]
    refs = bible.references("test")
    assert list(refs) == ["web", "kjv"]
    assert manifest["references"] == {"primary": "web", "extra": ["kjv"]}
    web = bible.lines("train", "tgt") + bible.lines("valid", "tgt") + bible.lines("test", "tgt")
    john = [line for line in web if line.startswith("For God so loved the world")]
    assert john == ["For God so loved the world, that he gave his only born Son, that whoever believes in him "
                    "should not perish, but have eternal life."]
    assert not any("bornSon" in line for line in web)
    for relative, digest in manifest["files"].items():
        assert sha256_file(bible.path / relative) == digest


def test_train_limit_keeps_the_first_verses_and_counts_the_rest(tmp_path, monkeypatch):
    from distill.corpus import bible as bible_module

    verses = [(Verse("Gen", c, v), {"src": f"palabra {c} {v} casa", "web": f"word {c} {v} house",
                                    "kjv": f"the word {c} {v}"}) for c in range(1, 41) for v in range(1, 81)]
    monkeypatch.setattr(bible_module, "read_bible", lambda *args, **kwargs: iter(verses))
    limited = bible_module.prepare_bible(tmp_path / "limited", vocab_size=60, train_limit=100)
    manifest = limited.manifest
    assert manifest["counts"]["train"] == 100 and manifest["config"]["train_limit"] == 100
    assert manifest["filtered"]["train"]["counts"]["over_train_limit"] == len(verses) - 2020 - 100
    assert sum(manifest["input_lines"].values()) == len(verses)  # nothing vanishes uncounted
    assert len(limited.lines("train", "ref.kjv")) == 100
    # a re-run finds the finished corpus by its config before reading any SWORD module
    monkeypatch.setattr(bible_module, "read_bible", lambda *args, **kwargs: pytest.fail("read the modules again"))
    again = bible_module.prepare_bible(tmp_path / "limited", vocab_size=60, train_limit=100)
    assert again.manifest["config_hash"] == manifest["config_hash"]
