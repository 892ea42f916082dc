"""Additive noise (ser_jax.perturb.noise): the SNR asked, the same noise on every load of a file."""

from __future__ import annotations

import dataclasses

import numpy as np
import soundfile as sf

from ser_jax import features

from .helpers import CFG, SR, _sine


def test_noise_has_the_snr_asked_and_is_the_same_on_every_load(tmp_path):
    path = _sine(tmp_path, seconds=0.8)  # shorter than the 1 s crop: the padding must not lower the SNR
    clean = features.load_clip(path, CFG)
    noisy_cfg = dataclasses.replace(CFG, noise_snr=(10.0, 20.0))
    noisy = features.load_clip(path, noisy_cfg)
    np.testing.assert_array_equal(noisy, features.load_clip(path, noisy_cfg))  # deterministic
    own = int(0.8 * SR)
    snr = 10 * np.log10(np.mean(clean[:own] ** 2) / np.mean((noisy - clean).astype(np.float64) ** 2))
    assert 9.7 <= snr <= 20.3
    other = _sine(tmp_path, name="b.wav", seconds=0.8)  # same audio, another file: other noise
    assert not np.array_equal(features.load_clip(other, noisy_cfg), noisy)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR, np.float32), SR)
    assert not features.load_clip(silent, noisy_cfg).any()
