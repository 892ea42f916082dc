"""The fast recipe (ser_jax.features.recipes.fast): the seed's features but tonnetz, bit for bit where
librosa's are.
"""

from __future__ import annotations

import dataclasses
import warnings

import librosa
import numpy as np
import pytest

from ser_jax import features as F
from ser_jax.features.recipes import fast

from ..helpers import FAST, SEED, assert_float32_close


def test_fast_equals_seed_on_every_group_but_tonnetz(clip_y):
    seed, fast = F.prepare(clip_y, SEED), F.prepare(clip_y, FAST)
    for name, a, b in F.feature_layout(SEED):
        if name == "tonnetz":
            continue
        assert_float32_close(fast[:, a:b], seed[:, a:b])


def test_fast_tonnetz_is_a_close_cousin_of_the_seeds(clip_y):
    (a, b), = [(a, b) for name, a, b in F.feature_layout(SEED) if name == "tonnetz"]
    seed, fast = F.prepare(clip_y, SEED)[:, a:b], F.prepare(clip_y, FAST)[:, a:b]
    assert np.all(np.isfinite(fast)) and np.abs(fast).max() <= 1.0  # L1-normalised chroma projected
    assert not np.allclose(fast, seed)  # a different chroma (STFT, no harmonic separation)...
    assert np.corrcoef(fast.ravel(), seed.ravel())[0, 1] > 0.8  # ...measuring the same harmony


def test_fast_hpss_changes_only_tonnetz(clip_y):
    plain = F.prepare(clip_y, FAST)
    hpss = F.prepare(clip_y, dataclasses.replace(FAST, fast_hpss=True))
    (a, b), = [(a, b) for name, a, b in F.feature_layout(FAST) if name == "tonnetz"]
    np.testing.assert_array_equal(np.delete(hpss, np.s_[a:b], axis=1), np.delete(plain, np.s_[a:b], axis=1))
    assert np.all(np.isfinite(hpss)) and not np.allclose(hpss[:, a:b], plain[:, a:b])


@pytest.mark.parametrize("sr,n_fft", [(22050, 2048), (16000, 512), (44100, 4096)])
def test_fast_tuning_estimate_matches_librosa_exactly(sr, n_fft):
    rng = np.random.default_rng(1)
    t = np.arange(sr) / sr
    cases = {
        "detuned tones": sum(np.sin(2 * np.pi * f * 1.013 * t) for f in (196.0, 440.0, 1318.5)),
        "noise": rng.standard_normal(sr),
        "silence": np.zeros(sr),
    }
    for name, y in cases.items():
        power = np.abs(librosa.stft(y.astype(np.float32), n_fft=n_fft, hop_length=n_fft // 4)) ** 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # silence: "estimate tuning from empty frequency set"
            expected = librosa.estimate_tuning(S=power, sr=sr, n_fft=n_fft, bins_per_octave=12)
            assert fast._estimate_tuning(power, sr, n_fft) == expected, name


@pytest.mark.parametrize("frame_length,hop", [(2048, 512), (256, 64), (1024, 1000)])
def test_fast_zero_crossing_rate_matches_librosa_exactly(frame_length, hop):
    rng = np.random.default_rng(2)
    near_zero = np.float32([1e-11, -1e-11, 0.0, -0.0, 1.0, -1.0, -1e-10, 1e-10, 2e-10, -2e-10])
    for y in (rng.standard_normal(5000).astype(np.float32), np.tile(near_zero, 300),
              np.zeros(700, np.float32), np.float32([-0.5, 0.5, -0.5])):
        expected = librosa.feature.zero_crossing_rate(y, frame_length=frame_length, hop_length=hop)
        np.testing.assert_array_equal(fast._zero_crossing_rate(y, frame_length, hop), expected)
