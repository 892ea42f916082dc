"""Split protocols: which rows train, validate and test, as pure functions of metadata columns.

``make_splits(cfg, meta)`` takes a dict of per-row columns: ``emotion`` and ``speaker`` always
(speakers namespaced by corpus, e.g. "ravdess:07"), and ``gender``, ``channel`` and ``corpus``
when the data has them. What these tests pin down:

- ``seed_leaky`` is the original notebook's split, row for row (stratified 80/20 on
  f"{emotion}_{channel}", random_state 42: 1961 train / 491 test on full RAVDESS), flagged LEAKY;
- ``holdout`` keeps that test set and carves validation from the training part;
- ``speaker_kfold`` (alias ``actor_kfold``) keeps the old actor_kfold plan on RAVDESS, and with
  several corpora holds out speakers of every corpus in every fold;
- ``speakers`` (alias ``actors``) takes explicit lists, resolving "7", "07" and "ravdess:07";
- ``loso``, ``emobox`` and ``cross_corpus`` are the newer protocols;
- rows of unselected channels, and rows whose emotion is "", are never used by any protocol.
"""

from __future__ import annotations

import collections
import dataclasses
import json

import numpy as np
import pytest

from ser_jax.corpora import ravdess
from ser_jax.splits import EMOBOX_RAVDESS_FOLDS, PROTOCOLS, SplitConfig, make_splits, speaker_folds

COLUMNS = ("emotion", "speaker", "gender", "channel", "corpus")

# --------------------------------------------------------------------------------------------
# Metadata builders


def ravdess_metadata(actors=range(1, 25), song_missing_actors=(18,)) -> dict[str, np.ndarray]:
    """Metadata columns of a RAVDESS-shaped corpus, built through the real RAVDESS name parser.

    Per actor: 60 speech files (neutral has no strong intensity) and 44 song files (no disgust
    or surprised); actor 18 has no song. 24 actors give the full corpus's 1440 + 1012 = 2452.
    """
    recs = []
    for channel in ("speech", "song"):
        for actor in actors:
            if channel == "song" and actor in song_missing_actors:
                continue
            for code in sorted(ravdess.EMOTIONS):
                if channel == "song" and code not in ravdess.SONG_EMOTIONS:
                    continue
                for intensity in (1,) if code == 1 else (1, 2):
                    for statement in (1, 2):
                        for repetition in (1, 2):
                            name = ravdess.format_name(
                                channel=channel, emotion_code=code, intensity=intensity,
                                statement=statement, repetition=repetition, actor=actor,
                            )
                            recs.append(ravdess.parse(name))
    return {
        "emotion": np.array([r.emotion for r in recs]),
        "speaker": np.array([r.speaker for r in recs]),
        "gender": np.array([r.gender for r in recs]),
        "channel": np.array([r["channel"] for r in recs]),
        "corpus": np.array([r.corpus for r in recs]),
    }


EMODB_LIKE_SPEAKERS = {"03": "male", "08": "female", "09": "female", "10": "male", "11": "male",
                       "12": "male", "13": "female", "14": "female", "15": "male", "16": "female"}
EMODB_LIKE_EMOTIONS = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "boredom")  # no calm, surprised


def corpus_metadata(corpus, speakers=EMODB_LIKE_SPEAKERS, emotions=EMODB_LIKE_EMOTIONS, files=3,
                    channel: str | None = "speech") -> dict[str, np.ndarray]:
    """A synthetic corpus: ``files`` rows per speaker x emotion; no channel column if channel is None."""
    rows = [(e, f"{corpus}:{s}", g) for s, g in speakers.items() for e in emotions for _ in range(files)]
    meta = {
        "emotion": np.array([r[0] for r in rows]),
        "speaker": np.array([r[1] for r in rows]),
        "gender": np.array([r[2] for r in rows]),
        "corpus": np.array([corpus] * len(rows)),
    }
    if channel is not None:
        meta["channel"] = np.array([channel] * len(rows))
    return meta


def concat(*metas) -> dict[str, np.ndarray]:
    return {c: np.concatenate([m[c] for m in metas]) for c in metas[0]}


def rav(*actors) -> tuple[str, ...]:
    """RAVDESS speaker ids: rav(1, 7) == ("ravdess:01", "ravdess:07")."""
    return tuple(f"ravdess:{a:02d}" for a in actors)


def ravdess_gender(ids) -> dict[str, str]:
    return {s: "male" if int(s.split(":")[-1]) % 2 else "female" for s in ids}


@pytest.fixture(scope="module")
def full():
    return ravdess_metadata()


@pytest.fixture(scope="module")
def dev():
    """The shape of ravdess-dev: actors 1-20."""
    return ravdess_metadata(actors=range(1, 21))


@pytest.fixture(scope="module")
def two_corpora(dev):
    """ravdess-dev (8 emotions, speech and song) + an EmoDB-like corpus (10 speakers, has boredom)."""
    return concat(dev, corpus_metadata("emodb"))


def all_protocol_configs() -> list[SplitConfig]:
    """One configuration of every protocol that works on ``two_corpora``."""
    return [
        SplitConfig(protocol="seed_leaky"),
        SplitConfig(protocol="holdout"),
        SplitConfig(protocol="speaker_kfold"),
        SplitConfig(protocol="speakers", train_speakers=("ravdess:01", "ravdess:02", "emodb:03"),
                    val_speaker_ids=("ravdess:03",), test_speakers=("ravdess:05", "emodb:08")),
        SplitConfig(protocol="loso"),
        SplitConfig(protocol="emobox"),
        SplitConfig(protocol="cross_corpus", test_corpus="emodb"),
    ]


# --------------------------------------------------------------------------------------------
# Assertions


def assert_disjoint(split):
    for p in (split.train, split.val, split.test):
        assert p.dtype == np.int64 and np.all(np.diff(p) > 0), "indices sorted and unique"
    assert len(np.intersect1d(split.train, split.val)) == 0
    assert len(np.intersect1d(split.train, split.test)) == 0
    if not split.leaky:
        assert len(np.intersect1d(split.val, split.test)) == 0


def speaker_sets(split, meta):
    """(train, val, test) speaker sets of a split."""
    return tuple(set(meta["speaker"][p].tolist()) for p in (split.train, split.val, split.test))


def assert_speaker_independent(split, meta):
    train, val, test = speaker_sets(split, meta)
    assert not (train & val) and not (train & test) and not (val & test), split.name
    assert train and val and test, f"{split.name}: every part has speakers"


def used_rows(splits) -> np.ndarray:
    return np.unique(np.concatenate([np.concatenate([s.train, s.val, s.test]) for s in splits]))


# --------------------------------------------------------------------------------------------
# The seed's protocols: seed_leaky and holdout


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


# --------------------------------------------------------------------------------------------
# speaker_kfold and its plan, speaker_folds


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
        assert not split.leaky
        assert_disjoint(split)
        assert_speaker_independent(split, dev)
        train, val, test = speaker_sets(split, dev)
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


# --------------------------------------------------------------------------------------------
# loso: leave one speaker out


def test_loso_has_one_fold_per_speaker_and_tests_each_speaker_exactly_once(dev):
    splits = make_splits(SplitConfig(protocol="loso"), dev)
    assert [s.name for s in splits] == [f"loso/fold_{k}" for k in range(20)]
    assert [s.fold for s in splits] == list(range(20))
    tested = collections.Counter()
    for split in splits:
        assert not split.leaky
        assert_disjoint(split)
        assert_speaker_independent(split, dev)
        train, val, test = speaker_sets(split, dev)
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


# --------------------------------------------------------------------------------------------
# emobox: EmoBox's fixed RAVDESS folds


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


# --------------------------------------------------------------------------------------------
# cross_corpus: train on the other corpora, test on one


@pytest.mark.parametrize("test_corpus", ["emodb", "ravdess"])
def test_cross_corpus_tests_on_the_shared_emotions_of_the_test_corpus(two_corpora, test_corpus):
    meta = two_corpora
    [split] = make_splits(SplitConfig(protocol="cross_corpus", test_corpus=test_corpus), meta)
    assert split.name == f"cross_corpus/{test_corpus}" and split.fold is None and not split.leaky
    assert_disjoint(split)
    shared = {"neutral", "happy", "sad", "angry", "fearful", "disgust"}
    expected_test = np.flatnonzero((meta["corpus"] == test_corpus) & np.isin(meta["emotion"], list(shared)))
    np.testing.assert_array_equal(split.test, expected_test)
    # The label policy: training and validation keep every emotion of the other corpus (the union of
    # the training corpora's), predictions on the test corpus are scored over the shared emotions.
    other = {"emodb", "ravdess"} - {test_corpus}
    for part in (split.train, split.val):
        assert set(meta["corpus"][part].tolist()) == other
    trained = set(meta["emotion"][np.isin(meta["corpus"], list(other))].tolist())
    assert set(meta["emotion"][split.train].tolist()) == trained > shared
    assert split.scored_emotions == tuple(sorted(shared))
    assert set(meta["emotion"][split.test].tolist()) <= set(meta["emotion"][split.train].tolist())
    train, val, _ = speaker_sets(split, meta)
    assert len(val) == 2 and not (train & val)
    # The description says what was compared, what training alone has and what is not tested.
    assert "scored over the shared emotions: angry, disgust, fearful, happy, neutral, sad" in split.description
    tail = {"emodb": "; trained also on calm, surprised; not tested: boredom (no training clips)",
            "ravdess": "; trained also on boredom; not tested: calm, surprised (no training clips)"}[test_corpus]
    assert split.description.endswith(tail)


@pytest.mark.parametrize("protocol", ["speaker_kfold", "holdout", "loso"])
def test_train_corpora_only_ever_train(two_corpora, protocol):
    meta = two_corpora
    cfg = SplitConfig(protocol=protocol, channels="speech", train_corpora=("emodb",))
    plain = make_splits(SplitConfig(protocol=protocol, channels="speech"), concat(*[
        {k: v[meta["corpus"] == "ravdess"] for k, v in meta.items()}]))
    got = make_splits(cfg, meta)
    emodb = np.flatnonzero(meta["corpus"] == "emodb")
    assert len(got) == len(plain)  # the protocol splits RAVDESS exactly as it would alone
    for split, alone in zip(got, plain):
        assert set(emodb) <= set(split.train.tolist())
        assert not (set(emodb) & set(split.val.tolist()) or set(emodb) & set(split.test.tolist()))
        np.testing.assert_array_equal(split.test, alone.test)  # RAVDESS rows come first in the concat
        np.testing.assert_array_equal(split.val, alone.val)
        np.testing.assert_array_equal(np.setdiff1d(split.train, emodb), alone.train)
        assert split.description.endswith("; every clip of emodb in training too")


def test_train_corpora_misconfigurations_are_explained(dev, two_corpora):
    with pytest.raises(ValueError, match="train_corpora names tess, which the data does not hold"):
        make_splits(SplitConfig(protocol="holdout", train_corpora=("tess",)), two_corpora)
    with pytest.raises(ValueError, match="names every corpus"):
        make_splits(SplitConfig(protocol="holdout", train_corpora=("emodb", "ravdess")), two_corpora)
    with pytest.raises(ValueError, match="names the test corpus 'emodb'"):
        SplitConfig(protocol="cross_corpus", test_corpus="emodb", train_corpora=("emodb",))
    with pytest.raises(ValueError, match="needs a corpus column"):
        make_splits(SplitConfig(protocol="holdout", train_corpora=("ravdess",)), {k: v for k, v in dev.items()
                                                                                  if k != "corpus"})


def test_cross_corpus_validates_on_at_most_a_third_of_each_training_corpus_speakers(two_corpora):
    tess = corpus_metadata("tess", speakers={"OAF": "female", "YAF": "female"}, emotions=("angry", "sad"))
    savee = corpus_metadata("savee", speakers={"DC": "male", "JE": "male", "JK": "male"}, emotions=("angry", "sad"))
    meta = concat(two_corpora, tess, savee)
    [split] = make_splits(SplitConfig(protocol="cross_corpus", test_corpus="emodb", val_speakers=2), meta)
    val = set(meta["speaker"][split.val].tolist())
    assert {s.split(":")[0] for s in val} == {"ravdess", "savee"}  # TESS's 2 speakers only train
    assert len([s for s in val if s.startswith("savee:")]) == 1 and len(val) == 3
    assert set(meta["corpus"][split.train].tolist()) == {"ravdess", "tess", "savee"}
    with pytest.raises(ValueError, match="no training corpus has 3 or more speakers"):
        make_splits(SplitConfig(protocol="cross_corpus", test_corpus="emodb"), concat(tess, corpus_metadata("emodb")))


def test_cross_corpus_misconfigurations_are_explained(dev, two_corpora):
    with pytest.raises(ValueError, match=r"test_corpus is 'crema_d'.*corpora emodb, ravdess"):
        make_splits(SplitConfig(protocol="cross_corpus", test_corpus="crema_d"), two_corpora)
    with pytest.raises(ValueError, match=r"cross_corpus.*besides 'ravdess'"):
        make_splits(SplitConfig(protocol="cross_corpus", test_corpus="ravdess"), dev)
    only_boredom = corpus_metadata("emodb", emotions=("boredom",))
    with pytest.raises(ValueError, match=r"'emodb' shares no emotion"):
        make_splits(SplitConfig(protocol="cross_corpus", test_corpus="emodb"), concat(dev, only_boredom))
    no_corpus = {k: v for k, v in two_corpora.items() if k != "corpus"}
    with pytest.raises(ValueError, match="cross_corpus.*corpus column"):
        make_splits(SplitConfig(protocol="cross_corpus", test_corpus="emodb"), no_corpus)
    with pytest.raises(ValueError, match=r"SplitConfig\.test_corpus is empty"):
        SplitConfig(protocol="cross_corpus")


# --------------------------------------------------------------------------------------------
# speakers: explicit lists


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


# --------------------------------------------------------------------------------------------
# Aliases, rows never used, channels


@pytest.mark.parametrize("old, new", [("actor_kfold", "speaker_kfold"), ("actors", "speakers")])
def test_old_protocol_names_are_aliases_normalised_on_construction(dev, old, new):
    kwargs = dict(train_speakers=("1", "2"), val_speaker_ids=("3",), test_speakers=("4",)) if old == "actors" else {}
    cfg = SplitConfig(protocol=old, **kwargs)
    assert cfg.protocol == new
    assert cfg == SplitConfig(protocol=new, **kwargs)
    splits = make_splits(cfg, dev)
    assert all(s.name.split("/")[0] == new for s in splits)


@pytest.mark.parametrize("cfg", all_protocol_configs(), ids=lambda c: c.protocol)
def test_rows_without_an_emotion_are_never_used(two_corpora, cfg):
    meta = dict(two_corpora)
    meta["emotion"] = meta["emotion"].copy()
    unlabelled = np.arange(0, len(meta["emotion"]), 7)
    meta["emotion"][unlabelled] = ""
    splits = make_splits(cfg, meta)
    assert len(np.intersect1d(used_rows(splits), unlabelled)) == 0
    if cfg.protocol in ("seed_leaky", "holdout", "speaker_kfold", "loso"):  # these use every labelled row
        np.testing.assert_array_equal(used_rows(splits), np.flatnonzero(meta["emotion"] != ""))


@pytest.mark.parametrize(
    "cfg",
    [
        SplitConfig(protocol="seed_leaky"),
        SplitConfig(protocol="holdout"),
        SplitConfig(protocol="speaker_kfold", folds=4),
        SplitConfig(protocol="speakers", train_speakers=("1", "2", "3"), val_speaker_ids=("4",),
                    test_speakers=("5", "6")),
        SplitConfig(protocol="loso"),
        SplitConfig(protocol="emobox"),
    ],
    ids=lambda c: c.protocol,
)
@pytest.mark.parametrize("channel", ["speech", "song"])
def test_channel_filter_applies_to_every_protocol(dev, cfg, channel):
    if cfg.protocol == "emobox" and channel == "song":
        with pytest.raises(ValueError, match="EmoBox's RAVDESS speech folds"):
            make_splits(dataclasses.replace(cfg, channels=channel), dev)
        return
    splits = make_splits(dataclasses.replace(cfg, channels=channel), dev)
    used = used_rows(splits)
    assert set(dev["channel"][used].tolist()) == {channel}
    if cfg.protocol in ("seed_leaky", "holdout", "speaker_kfold", "loso"):  # these use every selected row
        assert len(used) == np.sum(dev["channel"] == channel)


def test_channel_filter_on_data_without_a_channel_column_is_refused():
    meta = corpus_metadata("emodb", channel=None)
    assert "channel" not in meta
    make_splits(SplitConfig(protocol="holdout"), meta)  # channels="both" needs no channel column
    with pytest.raises(ValueError, match=r"channels is 'speech' but the data has no channel column"):
        make_splits(SplitConfig(protocol="holdout", channels="speech"), meta)


def test_without_channel_or_corpus_columns_strata_are_emotions():
    # Two speakers' worth of rows per emotion, no channel: the test set holds 20% of every emotion.
    meta = corpus_metadata("emodb", channel=None, files=5)
    del meta["corpus"]
    [split] = make_splits(SplitConfig(protocol="seed_leaky"), meta)
    counts = collections.Counter(meta["emotion"][split.test].tolist())
    assert counts == {e: 10 for e in EMODB_LIKE_EMOTIONS}  # 50 rows per emotion


# --------------------------------------------------------------------------------------------
# Determinism, indices, config and metadata validation


def test_every_protocol_is_deterministic_and_random_state_matters_only_where_it_should(two_corpora):
    cfgs = all_protocol_configs()
    assert [c.protocol for c in cfgs] == list(PROTOCOLS)
    for cfg in cfgs:
        a, b = make_splits(cfg, two_corpora), make_splits(cfg, two_corpora)
        assert [s.name for s in a] == [s.name for s in b]
        for sa, sb in zip(a, b):
            for part in ("train", "val", "test"):
                np.testing.assert_array_equal(getattr(sa, part), getattr(sb, part))
    [t42] = make_splits(SplitConfig(protocol="holdout"), two_corpora)
    [t7] = make_splits(SplitConfig(protocol="holdout", split_seed=7), two_corpora)
    assert not np.array_equal(t42.test, t7.test)
    for cfg in cfgs[2:]:  # speaker protocols are not random
        seeded = make_splits(dataclasses.replace(cfg, split_seed=7), two_corpora)
        assert all(np.array_equal(x.test, y.test) and np.array_equal(x.val, y.val)
                   for x, y in zip(make_splits(cfg, two_corpora), seeded)), cfg.protocol


def test_indices_point_into_the_full_columns_whatever_the_order(dev):
    # Shuffled metadata: the split must follow the rows, not assume a layout.
    perm = np.random.default_rng(0).permutation(len(dev["emotion"]))
    shuffled = {k: v[perm] for k, v in dev.items()}
    for split in make_splits(SplitConfig(protocol="speaker_kfold", channels="speech"), shuffled):
        assert set(shuffled["channel"][split.test].tolist()) == {"speech"}
        assert len(set(shuffled["speaker"][split.test].tolist())) == 4


def test_metadata_may_be_plain_lists():
    meta = corpus_metadata("emodb")
    as_lists = {k: v.tolist() for k, v in meta.items()}
    a = make_splits(SplitConfig(protocol="speaker_kfold"), meta)
    b = make_splits(SplitConfig(protocol="speaker_kfold"), as_lists)
    assert all(np.array_equal(x.test, y.test) for x, y in zip(a, b))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(protocol="random"), "protocol"),
        (dict(channels="both_ways"), "channels"),
        (dict(test_size=0.0), "test_size"),
        (dict(test_size=1.5), "test_size"),
        (dict(val_size=1.0), "val_size"),
        (dict(protocol="speaker_kfold", folds=1), "folds"),
        (dict(protocol="speaker_kfold", folds=5, fold=5), "fold"),
        (dict(protocol="actor_kfold", fold=-1), "fold"),
        (dict(protocol="holdout", fold=0), "fold"),
        (dict(protocol="emobox", fold=6), "fold"),
        (dict(protocol="cross_corpus", test_corpus="emodb", fold=0), "fold"),
        (dict(protocol="speaker_kfold", val_speakers=0), "val_speakers"),
        (dict(protocol="speakers", train_speakers=("1", "2"), val_speaker_ids=("3",), test_speakers=("2", "4")),
         "train_speakers"),
        (dict(protocol="speakers", train_speakers=("1", "2"), val_speaker_ids=(), test_speakers=("4",)),
         "val_speaker_ids"),
        (dict(protocol="speakers", train_speakers=("1", "1"), val_speaker_ids=("3",), test_speakers=("4",)),
         "train_speakers"),
        (dict(protocol="holdout", test_speakers=("4",)), "test_speakers"),
        (dict(protocol="cross_corpus"), "test_corpus"),
        (dict(protocol="holdout", test_corpus="emodb"), "test_corpus"),
    ],
)
def test_bad_config_fails_on_construction_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"SplitConfig\.{field}\b"):
        SplitConfig(**kwargs)


def test_bad_metadata_is_refused_with_a_reason(dev):
    with pytest.raises(ValueError, match="differ in length"):
        make_splits(SplitConfig(), {**dev, "speaker": dev["speaker"][:-1]})
    with pytest.raises(ValueError, match="'Speech'"):
        make_splits(SplitConfig(), {**dev, "channel": np.where(dev["channel"] == "speech", "Speech", dev["channel"])})
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['speaker'\]"):
        make_splits(SplitConfig(), {k: v for k, v in dev.items() if k != "speaker"})
    only_speech = {k: v[dev["channel"] == "speech"] for k, v in dev.items()}
    with pytest.raises(ValueError, match="no song rows"):
        make_splits(SplitConfig(channels="song"), only_speech)


def test_split_to_dict_is_json_ready(dev):
    [split] = make_splits(SplitConfig(protocol="holdout"), dev)
    d = json.loads(json.dumps(split.to_dict(include_indices=True)))
    assert d["sizes"] == {"train": len(split.train), "val": len(split.val), "test": len(split.test)}
    assert d["indices"]["test"] == split.test.tolist() and d["leaky"] is False
    assert "skipped_folds" not in d  # only protocols that skip folds report them


def test_standardizer_is_reachable_from_splits():
    from ser_jax import normalize, splits

    assert splits.fit_standardizer is normalize.fit_standardizer and splits.standardize is normalize.standardize


def test_emobox_reads_speech_only_whatever_the_channels_setting(dev):
    """EmoBox's RAVDESS task is speech; song rows would make its figures incomparable."""
    for split in make_splits(SplitConfig(protocol="emobox"), dev):
        assert set(dev["channel"][used_rows([split])].tolist()) == {"speech"}


def test_speaker_folds_order_numbered_ids_by_value_not_text():
    plan = speaker_folds([f"spk{i}" for i in range(1, 11)], {}, folds=5, val_speakers=1)
    assert [test for test, _ in plan] == [("spk1", "spk2"), ("spk3", "spk4"), ("spk5", "spk6"), ("spk7", "spk8"),
                                          ("spk9", "spk10")]
