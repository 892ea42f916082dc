"""Vocal tract length perturbation (ser_jax.perturb.vtlp): frequencies below the boundary warped by the factor."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ser_jax import features
from ser_jax.perturb import vtlp

from .helpers import CFG, SR, _peak_hz, _sine


def test_vtlp_warp_moves_frequencies_below_the_boundary_by_the_factor_and_keeps_nyquist():
    freqs = np.linspace(0, SR / 2, 257)
    for alpha in (0.9, 1.1):
        warped = vtlp.frequencies(freqs, alpha, SR)
        assert np.all(np.diff(warped) > 0) and warped[0] == 0 and warped[-1] == pytest.approx(SR / 2)
        low = freqs <= vtlp.F_HI * min(alpha, 1) / alpha
        np.testing.assert_allclose(warped[low], alpha * freqs[low])


def test_vtlp_copy_moves_a_tone_and_keeps_length_and_tempo(tmp_path):
    path = _sine(tmp_path, hz=1000.0, seconds=0.8)
    full = dataclasses.replace(CFG, duration=None)
    plain = features.load_clip(path, full)
    for alpha in (0.9, 1.1):
        cfg = dataclasses.replace(full, vtlp=alpha)
        y = features.load_clip(path, cfg)
        assert len(y) == len(plain)  # tempo kept (speed perturbation would change the length)
        assert _peak_hz(y) == pytest.approx(1000.0 * alpha, rel=0.01)
        # Resynthesis keeps most of the energy (moving complex bins about would cancel it).
        assert 0.7 < np.sqrt(np.mean(y ** 2) / np.mean(plain ** 2)) < 1.3
        np.testing.assert_array_equal(y, features.load_clip(path, cfg))  # the same copy on every load
