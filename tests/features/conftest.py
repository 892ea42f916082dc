"""The feature tests' clip: 44.1 kHz 16-bit stereo, and its samples as features load them."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from ser_jax import features as F

from .helpers import SEED, tones


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> str:
    """44.1 kHz 16-bit stereo: loading must mix down and resample like librosa.load."""
    path = tmp_path_factory.mktemp("audio") / "03-02-03-01-01-01-01.wav"
    sf.write(path, tones(), 44100, subtype="PCM_16")
    return str(path)


@pytest.fixture(scope="module")
def clip_y(clip_path) -> np.ndarray:
    return F.load_clip(clip_path, SEED)
