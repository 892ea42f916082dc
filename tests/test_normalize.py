"""Standardisation: global statistics from valid frames of training rows only, or per speaker from its own clips."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from ser_jax import normalize
from ser_jax.normalize import fit_standardizer, standardize


def padded_batch(seed=0, n=6, t=20, f=4):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, t + 1, size=n)
    lengths[0] = t  # one full-length row
    x = np.zeros((n, t, f), np.float32)
    for i, length in enumerate(lengths):
        x[i, :length] = rng.normal(loc=[0, 10, -3, 1000], scale=[1, 5, 0.1, 300], size=(length, f))
    return x, lengths


def valid_frames(x, lengths, rows):
    return np.concatenate([x[r, : lengths[r]] for r in rows])


def test_statistics_are_those_of_the_valid_frames_of_the_given_rows():
    x, lengths = padded_batch()
    rows = np.array([0, 2, 3])
    mean, std = fit_standardizer(x, lengths, rows)
    frames = valid_frames(x, lengths, rows).astype(np.float64)
    np.testing.assert_allclose(mean, frames.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(std, frames.std(axis=0), rtol=1e-5)
    assert mean.dtype == std.dtype == np.float32 and mean.shape == (4,)


def test_garbage_in_the_padding_or_in_other_rows_changes_nothing():
    x, lengths = padded_batch()
    rows = np.array([1, 4, 5])
    clean = fit_standardizer(x, lengths, rows)
    dirty = x.copy()
    for i, length in enumerate(lengths):
        dirty[i, length:] = 1e6  # padding full of garbage
    dirty[[0, 2, 3]] = -7e5  # rows that are not training rows
    for a, b in zip(clean, fit_standardizer(dirty, lengths, rows)):
        np.testing.assert_array_equal(a, b)


def test_chunked_accumulation_matches_one_pass(monkeypatch):
    x, lengths = padded_batch(seed=3, n=11)
    rows = np.arange(11)
    whole = fit_standardizer(x, lengths, rows)
    monkeypatch.setattr(normalize, "_CHUNK", 2)  # 6 chunks, combined pairwise
    for a, b in zip(whole, fit_standardizer(x, lengths, rows)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_constant_feature_gets_std_one_and_stays_finite():
    x, lengths = padded_batch()
    x[:, :, 2] = 5.0  # constant, padding included
    mean, std = fit_standardizer(x, lengths, np.arange(len(x)))
    assert mean[2] == 5.0 and std[2] == 1.0
    z = standardize(x, mean, std)
    assert np.all(np.isfinite(z)) and np.all(z[:, :, 2] == 0.0)


def test_standardized_training_frames_have_zero_mean_unit_std():
    x, lengths = padded_batch()
    rows = np.arange(len(x))
    mean, std = fit_standardizer(x, lengths, rows)
    z = standardize(x, mean, std)
    assert z.dtype == np.float32 and z.shape == x.shape
    frames = valid_frames(z, lengths, rows)
    np.testing.assert_allclose(frames.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(frames.std(axis=0), 1.0, atol=1e-4)


def test_standardize_with_lengths_zeroes_the_padding_on_numpy_and_jax():
    import jax.numpy as jnp

    x, lengths = padded_batch()
    mean, std = fit_standardizer(x, lengths, np.arange(len(x)))
    z = standardize(x, mean, std, lengths)
    zj = np.asarray(standardize(jnp.asarray(x), jnp.asarray(mean), jnp.asarray(std), jnp.asarray(lengths)))
    np.testing.assert_allclose(zj, z, rtol=1e-5, atol=1e-5)
    for i, length in enumerate(lengths):
        assert np.all(z[i, length:] == 0.0)
        np.testing.assert_array_equal(z[i, :length], standardize(x, mean, std)[i, :length])


def test_bad_inputs_are_refused_with_a_reason():
    x, lengths = padded_batch()
    with pytest.raises(ValueError, match="rows is empty"):
        fit_standardizer(x, lengths, np.array([], np.int64))
    with pytest.raises(ValueError, match="lengths must be"):
        fit_standardizer(x, lengths[:-1], np.arange(3))
    with pytest.raises(ValueError, match="outside 0..20"):
        fit_standardizer(x, np.full(len(x), 21), np.arange(3))
    with pytest.raises(ValueError, match="no valid frames"):
        fit_standardizer(x, np.zeros(len(x), np.int64), np.arange(3))
    with pytest.raises(ValueError, match="rows must index"):
        fit_standardizer(x, lengths, np.array([0, 6]))


def test_fits_straight_from_an_hdf5_dataset_without_loading_it(tmp_path):
    h5py = pytest.importorskip("h5py")
    x, lengths = padded_batch(n=9)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["features"] = x
    rows = np.array([7, 1, 4])  # unsorted on purpose: h5py needs increasing indices
    with h5py.File(tmp_path / "f.h5", "r") as f:
        from_file = fit_standardizer(f["features"], lengths, rows)
    for a, b in zip(fit_standardizer(x, lengths, rows), from_file):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------------------------
# Per speaker


def _speakers_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(9, 6, 3)).astype(np.float32)
    x[3:6] = 5.0 + 3.0 * x[3:6]  # speaker b: another level and spread, as another voice would have
    lengths = np.array([6, 4, 5, 6, 3, 6, 2, 6, 6])
    speakers = np.array(["a"] * 3 + ["b"] * 3 + ["c"] * 3)
    return x, lengths, speakers


def test_each_speaker_is_standardised_by_its_own_frames_only():
    x, lengths, speakers = _speakers_data()
    rows = np.arange(9)
    stats = normalize.fit_per_speaker(x, lengths, rows, speakers)
    z = normalize.standardize_per_speaker(x, lengths, rows, speakers, stats)
    for s in "abc":
        r = rows[speakers == s]
        valid = np.concatenate([z[i, : lengths[i]] for i in r])
        np.testing.assert_allclose(valid.mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(valid.std(0), 1, atol=1e-4)
        assert all(np.all(z[i, lengths[i]:] == 0) for i in r)  # padding stays at zero


def test_speaker_statistics_never_mix_speakers_and_take_no_labels():
    x, lengths, speakers = _speakers_data()
    rows = np.arange(9)
    z = normalize.standardize_per_speaker(x, lengths, rows, speakers,
                                          normalize.fit_per_speaker(x, lengths, rows, speakers))
    changed = x.copy()
    changed[3:6] *= 10.0  # another recording level for speaker b only
    z2 = normalize.standardize_per_speaker(changed, lengths, rows, speakers,
                                           normalize.fit_per_speaker(changed, lengths, rows, speakers))
    np.testing.assert_array_equal(z2[speakers != "b"], z[speakers != "b"])  # nobody else moves
    np.testing.assert_allclose(z2[3:6], z[3:6], atol=1e-5)  # and b's level is normalised away
    # No labels: the statistics are a function of features, lengths, rows and speakers only.
    assert list(inspect.signature(normalize.fit_per_speaker).parameters)[:4] == ["features", "lengths", "rows",
                                                                                 "speakers"]


def test_rows_outside_the_split_are_left_at_zero():
    x, lengths, speakers = _speakers_data()
    rows = np.array([0, 1, 2, 6, 7])
    z = normalize.standardize_per_speaker(x, lengths, rows, speakers,
                                          normalize.fit_per_speaker(x, lengths, rows, speakers))
    assert np.all(z[[3, 4, 5, 8]] == 0)


# ----------------------------------------------------------------------------------------------
# Shrinkage of speaker statistics toward the corpus's


def test_shrinkage_pools_the_speakers_clips_with_prior_clips_drawn_from_the_corpus():
    rng = np.random.default_rng(3)
    own = rng.normal(2.0, 3.0, size=(5, 4))  # a speaker's 5 clips (one pooled frame each)
    prior = rng.normal(-1.0, 0.5, size=(8, 4))  # 8 clips whose moments stand for the corpus
    mean, var = normalize.shrink(own.mean(0), own.var(0), len(own), prior.mean(0), prior.var(0), len(prior))
    both = np.concatenate([own, prior])  # the rule is the moments of the clips pooled together
    np.testing.assert_allclose(mean, both.mean(0), rtol=1e-12)
    np.testing.assert_allclose(var, both.var(0), rtol=1e-12)
    # No prior clips: the speaker's own; no clips of the speaker: the corpus's.
    np.testing.assert_array_equal(normalize.shrink(own.mean(0), own.var(0), 5, prior.mean(0), prior.var(0), 0)[0],
                                  own.mean(0))
    np.testing.assert_allclose(normalize.shrink(own.mean(0), own.var(0), 0, prior.mean(0), prior.var(0), 8)[1],
                               prior.var(0))
    assert normalize.speaker_weight(2, 8) == pytest.approx(0.2) and normalize.speaker_weight(2, 0) == 1.0
    with pytest.raises(ValueError, match="no clips needs prior_clips"):
        normalize.shrink(own.mean(0), own.var(0), 0, prior.mean(0), prior.var(0), 0)


def test_a_speaker_with_two_clips_is_standardised_mostly_by_its_corpus():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(42, 1, 3)).astype(np.float32)
    lengths = np.ones(42, np.int64)
    speakers = np.array(["big"] * 40 + ["two"] * 2)
    x[40:] = [[[4.0, 0.0, -4.0]], [[6.0, 0.0, -2.0]]]  # two clips that differ in one feature only
    rows = np.arange(42)
    alone = normalize.fit_per_speaker(x, lengths, rows, speakers)
    shrunk = normalize.fit_per_speaker(x, lengths, rows, speakers, prior_clips=8.0)
    # Alone, the two clips become +-1 whatever they held: feature 1 (equal in both) is not even scaled.
    z_alone = normalize.standardize_per_speaker(x, lengths, rows, speakers, alone)[40:, 0]
    np.testing.assert_allclose(np.abs(z_alone[:, [0, 2]]), 1.0, atol=1e-5)
    # Shrunk, they keep where they lie in the corpus: far above its mean on feature 0, below on 2.
    z = normalize.standardize_per_speaker(x, lengths, rows, speakers, shrunk)[40:, 0]
    assert np.all(z[:, 0] > 0.5) and np.all(z[:, 2] < -0.5)
    # The big speaker moves little (40 clips against 8), and k = 0 is the plain per-speaker rule.
    np.testing.assert_allclose(shrunk["big"][0], alone["big"][0], atol=0.25)
    for s in alone:
        for a, b in zip(normalize.fit_per_speaker(x, lengths, rows, speakers, prior_clips=0.0)[s], alone[s]):
            np.testing.assert_array_equal(a, b)


def test_the_prior_is_each_speakers_own_corpus():
    x, lengths, speakers = _speakers_data()
    corpus = np.array(["r"] * 6 + ["e"] * 3)
    rows = np.arange(9)
    stats = normalize.fit_per_speaker(x, lengths, rows, speakers, groups=corpus, prior_clips=3.0)
    # Speaker c is the whole of corpus e: shrinking toward its own corpus changes nothing.
    for a, b in zip(stats["c"], normalize.fit_per_speaker(x, lengths, rows, speakers)["c"]):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    with pytest.raises(ValueError, match="speaker a has rows in several groups"):
        normalize.fit_per_speaker(x, lengths, rows, speakers, groups=np.array(["r", "e"] * 4 + ["e"]),
                                  prior_clips=3.0)


def test_speakers_with_fewer_than_min_clips_take_their_corpus_statistics():
    x, lengths, speakers = _speakers_data()
    speakers = speakers.copy()
    speakers[8] = "d"  # one clip alone; a, b keep 3 clips, c 2
    rows = np.arange(9)
    stats = normalize.fit_per_speaker(x, lengths, rows, speakers, min_clips=3)
    corpus = normalize.fit_standardizer(x, lengths, rows)
    for s in ("c", "d"):
        for a, b in zip(stats[s], corpus):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    own = normalize.fit_per_speaker(x, lengths, rows, speakers)
    for s in ("a", "b"):  # enough clips: their own, unshrunk (prior_clips 0)
        for a, b in zip(stats[s], own[s]):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    assert normalize.speaker_weight(2, 0, 3) == 0.0 and normalize.speaker_weight(3, 0, 3) == 1.0
