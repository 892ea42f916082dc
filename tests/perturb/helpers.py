"""Shared by the perturbation tests (tests/perturb/): a small fast-recipe config and a sine file."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from ser_jax import features

SR = 16000


CFG = features.FeatureConfig(recipe="fast", sample_rate=SR, duration=1.0, n_fft=512, hop_length=256, n_mfcc=13,
                             n_mels=16)


def _sine(tmp_path, name="a.wav", hz=440.0, seconds=1.0, amp=0.3):
    t = np.arange(int(seconds * SR)) / SR
    path = tmp_path / name
    sf.write(path, (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32), SR, subtype="FLOAT")
    return path


def _peak_hz(y):
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.fft.rfftfreq(len(y), 1 / SR)[np.argmax(spec)]
