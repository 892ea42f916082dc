"""``cross_corpus`` (ser_jax.splits.speakers): train and validate on the other corpora, test on every file of
one, over the shared emotions.
"""

from __future__ import annotations

import numpy as np
import pytest

from ser_jax.splits import SplitConfig, make_splits

from .helpers import assert_disjoint, concat, corpus_metadata, speaker_sets


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
