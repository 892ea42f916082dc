"""Speaker-independent protocols (ser_jax.splits.speakers): ``speaker_kfold`` (alias ``actor_kfold``)
keeps the old actor_kfold plan on RAVDESS and with several corpora holds out speakers of every corpus
in every fold; ``loso``; ``speakers`` (alias ``actors``) takes explicit lists, resolving "7", "07" and
"ravdess:07". EmoBox's folds and cross_corpus: test_speakers_emobox.py, test_speakers_cross_corpus.py.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest

from ser_jax.splits import SplitConfig, make_splits, speaker_folds

from .helpers import (
    assert_disjoint,
    assert_speaker_independent,
    checked_speaker_sets,
    rav,
    ravdess_gender,
    ravdess_metadata,
    speaker_sets,
    used_rows,
)


def test_speaker_folds_reproduces_the_old_actor_kfold_plan_on_ravdess_dev():
    # The old actor_folds(range(1, 21), folds=5, val_actors=2), written out: contiguous groups of
    # four actors; validation = the first male (odd) and first female (even) after the group, cycling.
    ids = rav(*range(1, 21))
    assert speaker_folds(ids, ravdess_gender(ids), folds=5, val_speakers=2) == [
        (("ravdess:01", "ravdess:02", "ravdess:03", "ravdess:04"), ("ravdess:05", "ravdess:06")),
        (("ravdess:05", "ravdess:06", "ravdess:07", "ravdess:08"), ("ravdess:09", "ravdess:10")),
        (("ravdess:09", "ravdess:10", "ravdess:11", "ravdess:12"), ("ravdess:13", "ravdess:14")),
        (("ravdess:13", "ravdess:14", "ravdess:15", "ravdess:16"), ("ravdess:17", "ravdess:18")),
        (("ravdess:17", "ravdess:18", "ravdess:19", "ravdess:20"), ("ravdess:01", "ravdess:02")),
    ]


def test_speaker_folds_plan_balances_genders_when_it_can_and_fills_when_it_cannot():
    # (test speakers, val speakers) per fold. Odd RAVDESS actors are male, even female.
    ids = rav(1, 2, 3, 4, 5, 6, 7, 9, 11, 13)
    assert speaker_folds(ids, ravdess_gender(ids), folds=2, val_speakers=2) == [
        (rav(1, 2, 3, 4, 5), rav(6, 7)),  # next speakers are 6, 7, 9...: one of each gender
        (rav(6, 7, 9, 11, 13), rav(1, 2)),
    ]
    ids = rav(2, 4, 5, 6, 7, 9, 11)
    assert speaker_folds(ids, ravdess_gender(ids), folds=2, val_speakers=2) == [
        (rav(2, 4, 5, 6), rav(7, 9)),  # no female left outside the test group: two males
        (rav(7, 9, 11), rav(2, 5)),  # not 2, 4: one of each gender
    ]
    ids = rav(*range(1, 7))
    assert speaker_folds(ids, ravdess_gender(ids), folds=3, val_speakers=1) == [
        (rav(1, 2), rav(3)), (rav(3, 4), rav(5)), (rav(5, 6), rav(1)),
    ]


def test_speaker_folds_without_genders_takes_the_next_speakers_for_validation():
    assert speaker_folds(["s:a", "s:b", "s:c", "s:d", "s:e", "s:f"], {}, folds=3, val_speakers=2) == [
        (("s:a", "s:b"), ("s:c", "s:d")), (("s:c", "s:d"), ("s:e", "s:f")), (("s:e", "s:f"), ("s:a", "s:b")),
    ]


def test_speaker_kfold_uses_contiguous_speaker_groups_and_next_speakers_for_validation(dev):
    splits = make_splits(SplitConfig(protocol="speaker_kfold", folds=5), dev)
    assert [s.name for s in splits] == [f"speaker_kfold/fold_{k}" for k in range(5)]
    assert [s.fold for s in splits] == list(range(5))
    _, val0, test0 = speaker_sets(splits[0], dev)
    assert test0 == set(rav(1, 2, 3, 4)) and val0 == set(rav(5, 6))
    _, val4, test4 = speaker_sets(splits[4], dev)
    assert test4 == set(rav(17, 18, 19, 20)) and val4 == set(rav(1, 2))  # validation cycles back to the start
    assert splits[1].description == (
        "speaker-independent fold_1 of 5; test speakers ravdess:05,ravdess:06,ravdess:07,ravdess:08; "
        "val speakers ravdess:09,ravdess:10; 14 train speakers"
    )


def test_speaker_kfold_is_speaker_independent_and_tests_every_speaker_once(dev):
    splits = make_splits(SplitConfig(protocol="speaker_kfold", folds=5), dev)
    tested = collections.Counter()
    for split in splits:
        train, val, test = checked_speaker_sets(split, dev)
        assert train | val | test == set(rav(*range(1, 21)))  # every row of every speaker is used
        assert len(split.train) + len(split.val) + len(split.test) == len(dev["speaker"])
        tested.update(test)
    assert tested == {s: 1 for s in rav(*range(1, 21))}


def test_speaker_kfold_validation_is_gender_balanced_even_with_a_gap_in_speaker_ids(dev):
    # Song only: actor 18 has no song, so the last group is 17, 19, 20 and ids are not contiguous.
    splits = make_splits(SplitConfig(protocol="speaker_kfold", channels="song", folds=5), dev)
    assert "ravdess:18" not in set(dev["speaker"][used_rows(splits)].tolist())
    for split in splits:
        _, val, _ = speaker_sets(split, dev)
        genders = sorted(ravdess_gender(val).values())
        assert genders == ["female", "male"], f"{split.name}: val speakers {val} not one male one female"


def test_speaker_kfold_single_fold_equals_that_fold_of_all(dev):
    all_folds = make_splits(SplitConfig(protocol="speaker_kfold", folds=5), dev)
    [one] = make_splits(SplitConfig(protocol="speaker_kfold", folds=5, fold=3), dev)
    assert one.name == all_folds[3].name and one.fold == 3
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(one, part), getattr(all_folds[3], part))


@pytest.mark.parametrize("n_actors, folds, val_speakers", [(3, 5, 2), (4, 2, 2), (6, 3, 4)])
def test_speaker_kfold_with_too_few_speakers_says_so(n_actors, folds, val_speakers):
    meta = ravdess_metadata(actors=range(1, n_actors + 1))
    with pytest.raises(ValueError, match=r"too few.*folds"):
        make_splits(SplitConfig(protocol="speaker_kfold", folds=folds, val_speakers=val_speakers), meta)


def test_speaker_kfold_with_two_corpora_holds_out_speakers_of_every_corpus_in_every_fold(two_corpora):
    corpus_of = dict(zip(two_corpora["speaker"].tolist(), two_corpora["corpus"].tolist()))
    splits = make_splits(SplitConfig(protocol="speaker_kfold", folds=5), two_corpora)
    assert len(splits) == 5
    tested = collections.Counter()
    for split in splits:
        assert_disjoint(split)
        assert_speaker_independent(split, two_corpora)
        train, val, test = speaker_sets(split, two_corpora)
        for part, speakers in (("train", train), ("val", val), ("test", test)):
            assert {corpus_of[s] for s in speakers} == {"ravdess", "emodb"}, f"{split.name} {part}: {speakers}"
        assert len([s for s in val if corpus_of[s] == "emodb"]) == 2  # val_speakers counts per corpus
        tested.update(test)
    assert tested == {s: 1 for s in corpus_of}  # every speaker of both corpora tested exactly once


def test_loso_has_one_fold_per_speaker_and_tests_each_speaker_exactly_once(dev):
    splits = make_splits(SplitConfig(protocol="loso"), dev)
    assert [s.name for s in splits] == [f"loso/fold_{k}" for k in range(20)]
    assert [s.fold for s in splits] == list(range(20))
    tested = collections.Counter()
    for split in splits:
        train, val, test = checked_speaker_sets(split, dev)
        assert len(test) == 1 and len(val) == 2
        assert train | val | test == set(rav(*range(1, 21)))
        tested.update(test)
    assert tested == {s: 1 for s in rav(*range(1, 21))}


def test_loso_with_several_corpora_validates_on_the_test_speakers_corpus(two_corpora):
    corpus_of = dict(zip(two_corpora["speaker"].tolist(), two_corpora["corpus"].tolist()))
    splits = make_splits(SplitConfig(protocol="loso"), two_corpora)
    assert len(splits) == len(corpus_of) == 30
    tested = collections.Counter()
    for split in splits:
        assert_speaker_independent(split, two_corpora)
        train, val, test = speaker_sets(split, two_corpora)
        [speaker] = test
        assert {corpus_of[s] for s in val} == {corpus_of[speaker]}, f"{split.name}: val {val} for {speaker}"
        assert {corpus_of[s] for s in train} == {"ravdess", "emodb"}  # train keeps every corpus
        tested.update(test)
    assert tested == {s: 1 for s in corpus_of}


def test_loso_single_fold_and_a_fold_past_the_last_speaker(dev):
    all_folds = make_splits(SplitConfig(protocol="loso"), dev)
    [one] = make_splits(SplitConfig(protocol="loso", fold=7), dev)
    assert one.name == "loso/fold_7"
    np.testing.assert_array_equal(one.test, all_folds[7].test)
    with pytest.raises(ValueError, match=r"SplitConfig\.fold is 20.*20 folds"):
        make_splits(SplitConfig(protocol="loso", fold=20), dev)


def test_explicit_speaker_lists_become_the_three_parts(dev):
    cfg = SplitConfig(protocol="speakers", train_speakers=["1", "2", "3", "4", "5", "6"],
                      val_speaker_ids=("7", "8"), test_speakers=("9", "10"))
    assert cfg.train_speakers == ("1", "2", "3", "4", "5", "6")  # lists from flags are stored as tuples
    [split] = make_splits(cfg, dev)
    assert split.name == "speakers"
    assert speaker_sets(split, dev) == (set(rav(1, 2, 3, 4, 5, 6)), set(rav(7, 8)), set(rav(9, 10)))
    assert len(split.test) == 2 * (60 + 44)  # every row of the listed speakers
    assert_disjoint(split)
    assert not split.leaky


@pytest.mark.parametrize("given", ["7", "07", "ravdess:07"])
def test_explicit_speakers_resolve_bare_padded_and_namespaced_ids(two_corpora, given):
    # With two corpora too: EmoDB has no speaker 07, so "7" and "07" are unambiguous.
    cfg = SplitConfig(protocol="speakers", train_speakers=("1", "2"), val_speaker_ids=("emodb:03",),
                      test_speakers=(given,))
    [split] = make_splits(cfg, two_corpora)
    np.testing.assert_array_equal(split.test, np.flatnonzero(two_corpora["speaker"] == "ravdess:07"))
    assert "test speakers ravdess:07" in split.description


def test_explicit_speaker_shared_by_two_corpora_is_ambiguous(two_corpora):
    cfg = SplitConfig(protocol="speakers", train_speakers=("03",), val_speaker_ids=("1",), test_speakers=("2",))
    with pytest.raises(ValueError, match=r"train_speakers: speaker '03' is ambiguous \(emodb:03,ravdess:03\)"):
        make_splits(cfg, two_corpora)


def test_explicit_speaker_named_twice_under_different_spellings_is_refused(dev):
    # "7" and "ravdess:07" are one speaker: a speaker may be in one part only.
    cfg = SplitConfig(protocol="speakers", train_speakers=("7", "1"), val_speaker_ids=("2",),
                      test_speakers=("ravdess:07",))
    with pytest.raises(ValueError, match=r"train_speakers and SplitConfig\.test_speakers.*ravdess:07"):
        make_splits(cfg, dev)


def test_explicit_speaker_missing_from_the_data_names_the_field(dev):
    cfg = SplitConfig(protocol="speakers", train_speakers=("1", "2"), val_speaker_ids=("3",), test_speakers=("23",))
    with pytest.raises(ValueError, match=r"test_speakers: speaker '23' has no rows"):
        make_splits(cfg, dev)
    cfg = SplitConfig(protocol="speakers", train_speakers=("one",), val_speaker_ids=("3",), test_speakers=("4",))
    with pytest.raises(ValueError, match=r"train_speakers: speaker 'one' has no rows"):
        make_splits(cfg, dev)
    # Actor 18 exists, but has no song rows.
    cfg = SplitConfig(protocol="speakers", channels="song", train_speakers=("1", "2"), val_speaker_ids=("18",),
                      test_speakers=("4",))
    with pytest.raises(ValueError, match=r"val_speaker_ids: speaker '18' has no rows.*channels=song"):
        make_splits(cfg, dev)


def test_speaker_folds_order_numbered_ids_by_value_not_text():
    plan = speaker_folds([f"spk{i}" for i in range(1, 11)], {}, folds=5, val_speakers=1)
    assert [test for test, _ in plan] == [("spk1", "spk2"), ("spk3", "spk4"), ("spk5", "spk6"), ("spk7", "spk8"),
                                          ("spk9", "spk10")]
