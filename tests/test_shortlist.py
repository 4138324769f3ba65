"""The vocabulary shortlist of the ctc students (nat.shortlist): the lexical table on a hand-made alignment, the
batch's union and per-sentence masks, and decoding through it on the fixture (every runtime, alone and batched)."""
import pytest
import torch

from distill.io import InputError
from nat.cli import main as nat_main
from nat.decoding import RUNTIMES, StudentSettings, load_translator
from nat.shortlist import Shortlist, lexical_shortlist, translator_statistics

# sentence pairs of token ids and their alignment links (source index, target index)
SOURCES = [[10, 11], [10, 12]]
TARGETS = [[20, 21], [20, 22, 22]]
LINKS = [[(0, 0), (1, 1)], [(0, 0), (1, 1), (1, 2)]]


@pytest.mark.parametrize("top, frequent, per_source, always", [
    # counts: 10 -> {20: 2}, 11 -> {21: 1}, 12 -> {22: 2}; target counts 20: 2, 21: 1, 22: 2 (ties: the smaller id)
    (1, 1, {10: [20], 11: [21], 12: [22], 13: [-1]}, [0, 1, 20]),
    (2, 2, {10: [20, -1], 11: [21, -1], 12: [22, -1]}, [0, 1, 20, 22]),
    (1, 0, {10: [20]}, [0, 1]),
])
def test_the_lexical_table_keeps_each_sources_most_linked_targets_and_the_most_frequent(top, frequent, per_source,
                                                                                      always):
    shortlist = lexical_shortlist(SOURCES, TARGETS, LINKS, dictionary_size=30, top=top, frequent=frequent,
                                  specials=[0, 1])
    assert shortlist.per_source.shape == (30, top)
    for source, expected in per_source.items():
        assert shortlist.per_source[source].tolist() == expected
    assert shortlist.always.tolist() == always


def test_a_batch_is_projected_on_the_union_and_each_sentence_masked_to_its_own():
    shortlist = lexical_shortlist(SOURCES, TARGETS, LINKS, dictionary_size=30, top=1, frequent=1, specials=[0, 1])
    vocabulary, outside = shortlist.vocabulary(torch.tensor([[10, 11], [12, 1]]))  # 1: padding (no entry)
    assert vocabulary.tolist() == [0, 1, 20, 21, 22]
    assert outside.tolist() == [[False, False, False, False, True], [False, False, False, True, False]]
    alone, none = shortlist.vocabulary(torch.tensor([[12, 1]]))
    assert alone.tolist() == [0, 1, 20, 22] and none is None
    # sizes 4 and 4; the reference tokens 20, 21, 23 and 22, 20: 4 of 5 inside
    stats = shortlist.statistics([torch.tensor([10, 11]), torch.tensor([12])],
                                 [torch.tensor([20, 21, 23]), torch.tensor([22, 20])])
    assert stats == {"mean_size": 4.0, "hit_rate": 0.8, "top": 1, "always": 3}


def test_a_shortlist_of_the_whole_vocabulary_gives_the_full_projections_outputs(tiny_students, tiny_synthetic):
    run, _ = tiny_students["ctc"]
    sources = tiny_synthetic.lines("test", "src")
    full = load_translator(run, settings=StudentSettings(lean=True))
    listed = load_translator(run, settings=StudentSettings(lean=True, shortlist=2, shortlist_frequent=5))
    size = len(full.task.target_dictionary)
    listed.generator.shortlist = Shortlist(torch.full((size, 1), -1), torch.arange(size))  # nothing left out
    assert listed.translate_lines(sources) == full.translate_lines(sources)


def test_decoding_through_a_shortlist_keeps_the_floor_in_every_runtime_alone_and_batched(tiny_students,
                                                                                      tiny_synthetic, tmp_path):
    from distill.scoring import score_translations

    run, _ = tiny_students["ctc"]
    sources = tiny_synthetic.lines("test", "src")
    settings = {"lean": True, "shortlist": 3, "shortlist_frequent": 10}
    before = set(run.glob("shortlist-*.npz"))
    eager = load_translator(run, settings=StudentSettings(**settings))
    built = set(run.glob("shortlist-*.npz")) - before
    assert len(built) == 1  # built once, kept in the run directory (and read by the loads below)
    stats = translator_statistics(eager, sources, tiny_synthetic.lines("test", "tgt"))
    assert stats["mean_size"] < stats["dictionary"] / 2 and stats["hit_rate"] >= 0.95, stats
    lines, _ = eager.translate_lines(sources)
    bleu = score_translations(lines, tiny_synthetic.references("test"))["tgt"]["bleu"]
    assert bleu >= 90, f"ctc with a shortlist: test BLEU {bleu} below the ctc floor"
    assert [eager.translate_lines([line])[0][0] for line in sources[:8]] == lines[:8]  # the masks: alone = batched
    for runtime in RUNTIMES[1:]:
        other = load_translator(run, settings=StudentSettings(runtime=runtime, **settings))
        assert other.translate_lines(sources)[0] == lines, runtime
    assert set(run.glob("shortlist-*.npz")) - before == built

    out = tmp_path / "scores.json"
    assert nat_main(["evaluate", "--run", str(run), "--shortlist", "3", "--shortlist-frequent", "10",
                     "--out", str(out)]) == 0
    assert out.is_file()


@pytest.mark.parametrize("student, message", [
    ("nat", "a nat student; --shortlist projects the output of ctc, ctc-glat students onto a vocabulary shortlist"),
    ("ar", "an autoregressive model; --shortlist is for the ctc students' one pass"),
])
def test_a_shortlist_is_refused_for_students_without_a_ctc_output(student, message, tiny_students):
    with pytest.raises(InputError, match=message):
        load_translator(tiny_students[student][0], settings=StudentSettings(shortlist=5))
