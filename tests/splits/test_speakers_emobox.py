"""``emobox`` (ser_jax.splits.speakers): EmoBox's six fixed RAVDESS speech folds; a fold whose test actors are
missing is skipped and reported.
"""

from __future__ import annotations

import pytest

from ser_jax.splits import EMOBOX_RAVDESS_FOLDS, SplitConfig, make_splits

from .helpers import (
    assert_disjoint,
    assert_speaker_independent,
    corpus_metadata,
    rav,
    ravdess_gender,
    speaker_sets,
    used_rows,
)


def test_emobox_on_actors_1_to_20_forms_only_folds_1_and_4_and_reports_the_others(dev):
    splits = make_splits(SplitConfig(protocol="emobox"), dev)
    assert [s.name for s in splits] == ["emobox/fold_1", "emobox/fold_4"]
    assert [s.fold for s in splits] == [1, 4]
    _, val1, test1 = speaker_sets(splits[0], dev)
    _, val4, test4 = speaker_sets(splits[1], dev)
    assert test1 == set(rav(4, 10, 12, 14)) and val1 == set(rav(15, 16))  # val: first male, female after
    assert test4 == set(rav(2, 15, 16, 18)) and val4 == set(rav(19, 20))
    for split in splits:
        assert split.skipped_folds == (
            "fold_0: test actors ravdess:21 are not in the data",
            "fold_2: test actors ravdess:23 are not in the data",
            "fold_3: test actors ravdess:24 are not in the data",
            "fold_5: test actors ravdess:22 are not in the data",
        )
    assert splits[0].to_dict()["skipped_folds"] == list(splits[0].skipped_folds)


def test_emobox_on_all_24_actors_forms_all_six_folds_with_validation_from_training_actors(full):
    splits = make_splits(SplitConfig(protocol="emobox"), full)
    assert [s.name for s in splits] == [f"emobox/fold_{k}" for k in range(6)]
    everyone = set(rav(*range(1, 25)))
    for split, actors in zip(splits, EMOBOX_RAVDESS_FOLDS):
        assert split.skipped_folds == ()
        assert_disjoint(split)
        assert_speaker_independent(split, full)
        train, val, test = speaker_sets(split, full)
        assert test == set(rav(*actors))
        assert val <= everyone - test and len(val) == 2  # never a test actor
        assert sorted(ravdess_gender(val).values()) == ["female", "male"]
        assert train == everyone - test - val
    assert [s.skipped_folds for s in splits] == [()] * 6


def test_emobox_fold_selection_and_an_unformable_fold_is_named(dev):
    [four] = make_splits(SplitConfig(protocol="emobox", fold=4), dev)
    assert four.name == "emobox/fold_4" and four.fold == 4
    assert set(dev["speaker"][four.test].tolist()) == set(rav(2, 15, 16, 18))
    with pytest.raises(ValueError, match=r"SplitConfig\.fold is 0.*fold_0 cannot be formed.*ravdess:21"):
        make_splits(SplitConfig(protocol="emobox", fold=0), dev)


def test_emobox_uses_only_ravdess_rows_and_needs_ravdess(two_corpora):
    splits = make_splits(SplitConfig(protocol="emobox"), two_corpora)
    assert set(two_corpora["corpus"][used_rows(splits)].tolist()) == {"ravdess"}
    with pytest.raises(ValueError, match="emobox.*no RAVDESS speakers"):
        make_splits(SplitConfig(protocol="emobox"), corpus_metadata("emodb"))


def test_emobox_reads_speech_only_whatever_the_channels_setting(dev):
    """EmoBox's RAVDESS task is speech; song rows would make its figures incomparable."""
    for split in make_splits(SplitConfig(protocol="emobox"), dev):
        assert set(dev["channel"][used_rows([split])].tolist()) == {"speech"}
