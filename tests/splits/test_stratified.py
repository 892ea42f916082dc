"""The seed's protocols (ser_jax.splits.stratified): ``seed_leaky`` is the original notebook's split,
row for row (stratified 80/20 on f"{emotion}_{channel}", random_state 42: 1961 train / 491 test on
full RAVDESS), flagged LEAKY; ``holdout`` keeps that test set and carves validation from the training part.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest

from ser_jax.splits import SplitConfig, make_splits

from .helpers import EMODB_LIKE_EMOTIONS, assert_disjoint, corpus_metadata


def test_full_corpus_metadata_has_ravdess_shape(full):
    assert len(full["emotion"]) == 2452
    assert collections.Counter(full["channel"].tolist()) == {"speech": 1440, "song": 1012}
    assert set(full["corpus"].tolist()) == {"ravdess"}
    assert full["speaker"][0] == "ravdess:01" and full["gender"][0] == "male"


def test_seed_leaky_reproduces_1961_491_and_flags_validation_as_test(full):
    [split] = make_splits(SplitConfig(protocol="seed_leaky"), full)
    assert (len(split.train), len(split.test)) == (1961, 491)
    assert split.leaky and split.name == "seed_leaky" and split.fold is None
    np.testing.assert_array_equal(split.val, split.test)
    assert split.description.startswith("LEAKY")
    assert_disjoint(split)


def test_seed_leaky_is_sklearn_train_test_split_on_emotion_x_channel(full):
    from sklearn.model_selection import train_test_split

    key = [f"{e}_{c}" for e, c in zip(full["emotion"], full["channel"])]
    _, expected_test = train_test_split(np.arange(len(key)), test_size=0.2, random_state=42, stratify=key)
    [split] = make_splits(SplitConfig(protocol="seed_leaky"), full)
    np.testing.assert_array_equal(split.test, np.sort(expected_test))


def test_holdout_keeps_the_seed_test_set_and_carves_validation_from_train(full):
    [seed] = make_splits(SplitConfig(protocol="seed_leaky"), full)
    [hold] = make_splits(SplitConfig(protocol="holdout"), full)
    np.testing.assert_array_equal(hold.test, seed.test)
    assert not hold.leaky
    assert_disjoint(hold)
    np.testing.assert_array_equal(np.union1d(hold.train, hold.val), seed.train)
    assert (len(hold.train), len(hold.val)) == (1764, 197)  # ceil(0.1 * 1961) = 197


@pytest.mark.parametrize("protocol", ["seed_leaky", "holdout"])
def test_stratified_protocols_keep_each_emotion_x_channel_proportion(full, protocol):
    [split] = make_splits(SplitConfig(protocol=protocol), full)
    key = np.array([f"{e}_{c}" for e, c in zip(full["emotion"], full["channel"])])
    for stratum in np.unique(key):
        n = np.sum(key == stratum)
        n_test = np.sum(key[split.test] == stratum)
        assert abs(n_test - 0.2 * n) <= 1, (stratum, n, n_test)
        if protocol == "holdout":
            n_rest = n - n_test
            assert abs(np.sum(key[split.val] == stratum) - 0.1 * n_rest) <= 1, stratum


def test_stratified_split_on_a_tiny_corpus_explains_what_is_missing():
    # One file per emotion: nothing to stratify.
    meta = {"emotion": ["angry", "calm", "happy"], "speaker": ["x:1", "x:2", "x:3"], "channel": ["speech"] * 3}
    with pytest.raises(ValueError, match="stratified split.*speaker_kfold"):
        make_splits(SplitConfig(protocol="holdout"), meta)


def test_without_channel_or_corpus_columns_strata_are_emotions():
    # Two speakers' worth of rows per emotion, no channel: the test set holds 20% of every emotion.
    meta = corpus_metadata("emodb", channel=None, files=5)
    del meta["corpus"]
    [split] = make_splits(SplitConfig(protocol="seed_leaky"), meta)
    counts = collections.Counter(meta["emotion"][split.test].tolist())
    assert counts == {e: 10 for e in EMODB_LIKE_EMOTIONS}  # 50 rows per emotion
