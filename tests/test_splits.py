"""Split protocols: what each one promises about which rows train, validate and test."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from ser_jax.corpus import EMOTIONS, SONG_EMOTIONS, format_name, parse_name
from ser_jax.splits import PROTOCOLS, SplitConfig, actor_folds, make_splits


def ravdess_metadata(actors=range(1, 25), song_missing_actors=(18,)):
    """(emotions, channels, actors) of a RAVDESS-shaped corpus, built through the real name parser.

    Per actor: 60 speech files (neutral has no strong intensity) and 44 song files (no disgust
    or surprised); actor 18 has no song. 24 actors give the full corpus's 1440 + 1012 = 2452.
    """
    utts = []
    for channel in ("speech", "song"):
        for actor in actors:
            if channel == "song" and actor in song_missing_actors:
                continue
            for code in sorted(EMOTIONS):
                if channel == "song" and code not in SONG_EMOTIONS:
                    continue
                for intensity in (1,) if code == 1 else (1, 2):
                    for statement in (1, 2):
                        for repetition in (1, 2):
                            name = format_name(
                                channel=channel, emotion_code=code, intensity=intensity,
                                statement=statement, repetition=repetition, actor=actor,
                            )
                            utts.append(parse_name(name))
    return (
        np.array([u.emotion for u in utts]),
        np.array([u.channel for u in utts]),
        np.array([u.actor for u in utts]),
    )


@pytest.fixture(scope="module")
def full():
    return ravdess_metadata()


@pytest.fixture(scope="module")
def dev():
    """The shape of ravdess-dev: actors 1-20."""
    return ravdess_metadata(actors=range(1, 21))


def assert_disjoint(split):
    parts = [split.train, split.val, split.test]
    for p in parts:
        assert p.dtype == np.int64 and np.all(np.diff(p) > 0), "indices sorted and unique"
    assert len(np.intersect1d(split.train, split.val)) == 0
    assert len(np.intersect1d(split.train, split.test)) == 0
    if not split.leaky:
        assert len(np.intersect1d(split.val, split.test)) == 0


def actor_sets(split, actors):
    return tuple(set(actors[p].tolist()) for p in (split.train, split.val, split.test))


def test_full_corpus_metadata_has_ravdess_shape(full):
    emotions, channels, actors = full
    assert len(emotions) == 2452
    assert collections.Counter(channels.tolist()) == {"speech": 1440, "song": 1012}


def test_seed_leaky_reproduces_1961_491_and_flags_validation_as_test(full):
    [split] = make_splits(SplitConfig(protocol="seed_leaky"), *full)
    assert (len(split.train), len(split.test)) == (1961, 491)
    assert split.leaky and split.name == "seed_leaky" and split.fold is None
    np.testing.assert_array_equal(split.val, split.test)
    assert split.description.startswith("LEAKY")
    assert_disjoint(split)


def test_seed_leaky_is_sklearn_train_test_split_on_emotion_x_channel(full):
    from sklearn.model_selection import train_test_split

    emotions, channels, _ = full
    key = [f"{e}_{c}" for e, c in zip(emotions, channels)]
    _, expected_test = train_test_split(np.arange(len(key)), test_size=0.2, random_state=42, stratify=key)
    [split] = make_splits(SplitConfig(protocol="seed_leaky"), *full)
    np.testing.assert_array_equal(split.test, np.sort(expected_test))


def test_holdout_keeps_the_seed_test_set_and_carves_validation_from_train(full):
    [seed] = make_splits(SplitConfig(protocol="seed_leaky"), *full)
    [hold] = make_splits(SplitConfig(protocol="holdout"), *full)
    np.testing.assert_array_equal(hold.test, seed.test)
    assert not hold.leaky
    assert_disjoint(hold)
    np.testing.assert_array_equal(np.union1d(hold.train, hold.val), seed.train)
    assert (len(hold.train), len(hold.val)) == (1764, 197)  # ceil(0.1 * 1961) = 197


@pytest.mark.parametrize("protocol", ["seed_leaky", "holdout"])
def test_stratified_protocols_keep_each_emotion_x_channel_proportion(full, protocol):
    emotions, channels, _ = full
    [split] = make_splits(SplitConfig(protocol=protocol), *full)
    key = np.array([f"{e}_{c}" for e, c in zip(emotions, channels)])
    for stratum in np.unique(key):
        n = np.sum(key == stratum)
        n_test = np.sum(key[split.test] == stratum)
        assert abs(n_test - 0.2 * n) <= 1, (stratum, n, n_test)
        if protocol == "holdout":
            n_rest = n - n_test
            assert abs(np.sum(key[split.val] == stratum) - 0.1 * n_rest) <= 1, stratum


def test_actor_kfold_uses_contiguous_actor_groups_and_next_actors_for_validation(dev):
    _, _, actors = dev
    splits = make_splits(SplitConfig(protocol="actor_kfold", folds=5), *dev)
    assert [s.name for s in splits] == [f"actor_kfold/fold_{k}" for k in range(5)]
    assert [s.fold for s in splits] == list(range(5))
    _, val0, test0 = actor_sets(splits[0], actors)
    assert test0 == {1, 2, 3, 4} and val0 == {5, 6}
    _, val4, test4 = actor_sets(splits[4], actors)
    assert test4 == {17, 18, 19, 20} and val4 == {1, 2}  # validation cycles back to the start
    assert splits[1].description == (
        "speaker-independent fold_1 of 5: test actors 5,6,7,8; val actors 9,10; 14 train actors"
    )


def test_actor_kfold_is_speaker_independent_and_tests_every_actor_once(dev):
    _, _, actors = dev
    splits = make_splits(SplitConfig(protocol="actor_kfold", folds=5), *dev)
    tested = collections.Counter()
    for split in splits:
        assert not split.leaky
        assert_disjoint(split)
        train, val, test = actor_sets(split, actors)
        assert not (train & val) and not (train & test) and not (val & test)
        assert train | val | test == set(range(1, 21))  # every row of every actor is used
        assert len(split.train) + len(split.val) + len(split.test) == len(actors)
        tested.update(test)
    assert tested == {a: 1 for a in range(1, 21)}


def test_actor_kfold_validation_is_gender_balanced_even_with_a_gap_in_actor_ids():
    # Song only: actor 18 has no song, so the last group is 17, 19, 20 and ids are not contiguous.
    meta = ravdess_metadata(actors=range(1, 21))
    _, _, actors = meta
    splits = make_splits(SplitConfig(protocol="actor_kfold", channels="song", folds=5), *meta)
    assert 18 not in set(actors[np.concatenate([splits[0].train, splits[0].val, splits[0].test])].tolist())
    for split in splits:
        _, val, _ = actor_sets(split, actors)
        assert sorted(a % 2 for a in val) == [0, 1], f"{split.name}: val actors {val} not one male one female"


def test_actor_folds_plan_balances_genders_when_it_can_and_fills_when_it_cannot():
    # (test actors, val actors) per fold. Odd ids are male, even female.
    assert actor_folds([1, 2, 3, 4, 5, 6, 7, 9, 11, 13], folds=2, val_actors=2) == [
        ((1, 2, 3, 4, 5), (6, 7)),  # next actors are 6, 7, 9...: one of each gender
        ((6, 7, 9, 11, 13), (1, 2)),
    ]
    assert actor_folds([2, 4, 5, 6, 7, 9, 11], folds=2, val_actors=2) == [
        ((2, 4, 5, 6), (7, 9)),  # no female left outside the test group: two males
        ((7, 9, 11), (2, 5)),  # not 2, 4: one of each gender
    ]
    assert actor_folds(range(1, 7), folds=3, val_actors=1) == [((1, 2), (3,)), ((3, 4), (5,)), ((5, 6), (1,))]


def test_actor_kfold_single_fold_equals_that_fold_of_all(dev):
    all_folds = make_splits(SplitConfig(protocol="actor_kfold", folds=5), *dev)
    [one] = make_splits(SplitConfig(protocol="actor_kfold", folds=5, fold=3), *dev)
    assert one.name == all_folds[3].name and one.fold == 3
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(one, part), getattr(all_folds[3], part))


@pytest.mark.parametrize("n_actors, folds, val_actors", [(3, 5, 2), (4, 2, 2), (6, 3, 4)])
def test_actor_kfold_with_too_few_actors_says_so(n_actors, folds, val_actors):
    meta = ravdess_metadata(actors=range(1, n_actors + 1))
    with pytest.raises(ValueError, match=r"too few.*folds"):
        make_splits(SplitConfig(protocol="actor_kfold", folds=folds, val_actors=val_actors), *meta)


def test_explicit_actor_lists_become_the_three_parts(dev):
    _, _, actors = dev
    cfg = SplitConfig(protocol="actors", train_actors=[1, 2, 3, 4, 5, 6], val_actors_list=(7, 8), test_actors=(9, 10))
    assert cfg.train_actors == (1, 2, 3, 4, 5, 6)  # lists from flags are stored as tuples
    [split] = make_splits(cfg, *dev)
    assert actor_sets(split, actors) == ({1, 2, 3, 4, 5, 6}, {7, 8}, {9, 10})
    assert len(split.test) == 2 * (60 + 44)  # every row of the listed actors
    assert_disjoint(split)
    assert not split.leaky


def test_explicit_actor_missing_from_the_data_names_the_field(dev):
    cfg = SplitConfig(protocol="actors", train_actors=(1, 2), val_actors_list=(3,), test_actors=(23,))
    with pytest.raises(ValueError, match=r"test_actors.*\[23\]"):
        make_splits(cfg, *dev)
    # Actor 18 exists, but has no song rows.
    cfg = SplitConfig(protocol="actors", channels="song", train_actors=(1, 2), val_actors_list=(18,), test_actors=(4,))
    with pytest.raises(ValueError, match=r"val_actors_list.*\[18\].*channels=song"):
        make_splits(cfg, *dev)


@pytest.mark.parametrize(
    "cfg",
    [
        SplitConfig(protocol="seed_leaky"),
        SplitConfig(protocol="holdout"),
        SplitConfig(protocol="actor_kfold", folds=4),
        SplitConfig(protocol="actors", train_actors=(1, 2, 3), val_actors_list=(4,), test_actors=(5, 6)),
    ],
    ids=lambda c: c.protocol,
)
@pytest.mark.parametrize("channel", ["speech", "song"])
def test_channel_filter_applies_to_every_protocol(dev, cfg, channel):
    import dataclasses

    _, channels, _ = dev
    splits = make_splits(dataclasses.replace(cfg, channels=channel), *dev)
    used = np.concatenate([np.concatenate([s.train, s.val, s.test]) for s in splits])
    assert set(channels[used].tolist()) == {channel}
    if cfg.protocol in ("seed_leaky", "holdout", "actor_kfold"):  # these use every selected row
        assert len(np.unique(used)) == np.sum(channels == channel)


def test_every_protocol_is_deterministic_and_random_state_matters_only_where_it_should(dev):
    cfgs = [
        SplitConfig(protocol="seed_leaky"),
        SplitConfig(protocol="holdout"),
        SplitConfig(protocol="actor_kfold"),
        SplitConfig(protocol="actors", train_actors=(1, 2, 3), val_actors_list=(4,), test_actors=(5,)),
    ]
    assert [c.protocol for c in cfgs] == list(PROTOCOLS)
    for cfg in cfgs:
        a, b = make_splits(cfg, *dev), make_splits(cfg, *dev)
        for sa, sb in zip(a, b):
            for part in ("train", "val", "test"):
                np.testing.assert_array_equal(getattr(sa, part), getattr(sb, part))
    [t42] = make_splits(SplitConfig(protocol="holdout"), *dev)
    [t7] = make_splits(SplitConfig(protocol="holdout", random_state=7), *dev)
    assert not np.array_equal(t42.test, t7.test)
    k42 = make_splits(SplitConfig(protocol="actor_kfold"), *dev)
    k7 = make_splits(SplitConfig(protocol="actor_kfold", random_state=7), *dev)
    assert all(np.array_equal(x.test, y.test) for x, y in zip(k42, k7))  # actor folds are not random


def test_indices_point_into_the_full_arrays_whatever_the_order(dev):
    # Shuffled metadata: the split must follow the rows, not assume a layout.
    perm = np.random.default_rng(0).permutation(len(dev[0]))
    emotions, channels, actors = (a[perm] for a in dev)
    for split in make_splits(SplitConfig(protocol="actor_kfold", channels="speech"), emotions, channels, actors):
        assert set(channels[split.test].tolist()) == {"speech"}
        assert len(set(actors[split.test].tolist())) == 4


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(protocol="random"), "protocol"),
        (dict(channels="both_ways"), "channels"),
        (dict(test_size=0.0), "test_size"),
        (dict(test_size=1.5), "test_size"),
        (dict(val_size=1.0), "val_size"),
        (dict(protocol="actor_kfold", folds=1), "folds"),
        (dict(protocol="actor_kfold", folds=5, fold=5), "fold"),
        (dict(protocol="actor_kfold", fold=-1), "fold"),
        (dict(protocol="holdout", fold=0), "fold"),
        (dict(protocol="actor_kfold", val_actors=0), "val_actors"),
        (dict(protocol="actors", train_actors=(1, 2), val_actors_list=(3,), test_actors=(2, 4)), "train_actors"),
        (dict(protocol="actors", train_actors=(1, 2), val_actors_list=(), test_actors=(4,)), "val_actors_list"),
        (dict(protocol="actors", train_actors=(1, 1), val_actors_list=(3,), test_actors=(4,)), "train_actors"),
        (dict(protocol="holdout", test_actors=(4,)), "test_actors"),
        (dict(protocol="actors", train_actors=("one",), val_actors_list=(3,), test_actors=(4,)), "train_actors"),
    ],
)
def test_bad_config_fails_on_construction_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"SplitConfig\.{field}\b"):
        SplitConfig(**kwargs)


def test_bad_metadata_is_refused_with_a_reason(dev):
    emotions, channels, actors = dev
    with pytest.raises(ValueError, match="differ in length"):
        make_splits(SplitConfig(), emotions, channels, actors[:-1])
    with pytest.raises(ValueError, match="'Speech'"):
        make_splits(SplitConfig(), emotions, np.where(channels == "speech", "Speech", channels), actors)
    only_speech = channels == "speech"
    with pytest.raises(ValueError, match="no song rows"):
        make_splits(SplitConfig(channels="song"), emotions[only_speech], channels[only_speech], actors[only_speech])


def test_stratified_split_on_a_tiny_corpus_explains_what_is_missing():
    # One file per emotion: nothing to stratify.
    emotions = np.array(["angry", "calm", "happy"])
    with pytest.raises(ValueError, match="stratified split.*actor_kfold"):
        make_splits(SplitConfig(protocol="holdout"), emotions, np.array(["speech"] * 3), np.array([1, 2, 3]))


def test_split_to_dict_is_json_ready(dev):
    import json

    [split] = make_splits(SplitConfig(protocol="holdout"), *dev)
    d = json.loads(json.dumps(split.to_dict(include_indices=True)))
    assert d["sizes"] == {"train": len(split.train), "val": len(split.val), "test": len(split.test)}
    assert d["indices"]["test"] == split.test.tolist() and d["leaky"] is False


def test_standardizer_is_reachable_from_splits():
    from ser_jax import normalize, splits

    assert splits.fit_standardizer is normalize.fit_standardizer and splits.standardize is normalize.standardize
