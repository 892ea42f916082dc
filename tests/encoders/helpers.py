"""Shared by the encoder tests: a test clip of tone and noise at 16 kHz."""

from __future__ import annotations

import numpy as np


def _audio(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * (150 + 50 * seed) * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
