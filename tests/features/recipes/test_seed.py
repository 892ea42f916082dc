"""The seed recipe (ser_jax.features.recipes.seed): the original notebook's features, every knob applied."""

from __future__ import annotations

import numpy as np

from ser_jax import features as F
from ser_jax.features.recipes import seed

from ..helpers import SEED, assert_float32_close, naive_reference


def test_seed_recipe_reproduces_the_notebook_function(clip_path):
    expected = naive_reference(clip_path)
    got = F.compute(clip_path, SEED)
    assert got.shape == (130, 187) and got.dtype == np.float32
    assert_float32_close(got, expected)


def test_seed_reference_is_the_notebook_function(clip_path):
    assert_float32_close(seed.seed_reference(clip_path).astype(np.float32), naive_reference(clip_path))


def test_seed_recipe_applies_every_knob(clip_path):
    cfg = F.FeatureConfig(sample_rate=16000, duration=1.0, n_fft=1024, hop_length=256, n_mfcc=20,
                          n_mels=64, mel_db=True)
    expected = naive_reference(clip_path, sr=16000, seconds=1.0, n_fft=1024, hop=256, n_mfcc=20,
                               n_mels=64, mel_db=True)
    got = F.compute(clip_path, cfg)
    assert (got.shape == (F.num_frames(16000, cfg), F.num_features(cfg))
            == (63, 3 * 20 + 12 + 64 + 7 + 6 + 2))
    assert_float32_close(got, expected)
