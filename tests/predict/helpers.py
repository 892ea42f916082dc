"""Shared by the prediction tests (tests/predict/, tests/e2e/test_predict_command.py): the tiny run's clips."""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf

from ser_jax.testing.tiny import TINY_FEATURES

SR = TINY_FEATURES.sample_rate


CROP = int(TINY_FEATURES.duration * SR)  # samples per window


def _pcm(path) -> np.ndarray:
    """The file's samples as int16 (synthetic files are 16-bit PCM), so copies are bit-exact."""
    data, sr = sf.read(path, dtype="int16")
    assert sr == SR
    return data


def _test_clips(run, k):
    cfg, _, metrics = run
    return [os.path.join(cfg.data_dir[0], p) for p in metrics["test_predictions"]["paths"][:k]]
