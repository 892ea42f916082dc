"""Speed perturbation (ser_jax.perturb.speed): pitch and tempo scale together."""

from __future__ import annotations

import dataclasses

import pytest

from ser_jax import features

from .helpers import CFG, SR, _peak_hz, _sine


def test_speed_perturbation_scales_pitch_and_tempo(tmp_path):
    path = _sine(tmp_path, hz=440.0, seconds=0.5)
    full = dataclasses.replace(CFG, duration=None)
    for speed in (0.9, 1.1):
        y = features.load_clip(path, dataclasses.replace(full, speed=speed))
        assert abs(len(y) - 0.5 * SR / speed) <= 2  # tempo: the clip gets shorter when faster
        assert _peak_hz(y) == pytest.approx(440.0 * speed, rel=0.01)  # pitch moves with it
    assert _peak_hz(features.load_clip(path, full)) == pytest.approx(440.0, rel=0.01)
