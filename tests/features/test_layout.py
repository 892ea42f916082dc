"""The feature layout (ser_jax.features.layout): groups, their rows and sizes."""

from __future__ import annotations

import numpy as np
import pytest

from ser_jax import features as F

from .helpers import SEED


def test_default_layout_is_the_seeds_187_rows():
    assert F.feature_layout(SEED) == (
        ("mfcc", 0, 40), ("delta", 40, 80), ("delta2", 80, 120), ("chroma", 120, 132),
        ("mel", 132, 172), ("contrast", 172, 179), ("tonnetz", 179, 185), ("zcr", 185, 186),
        ("rms", 186, 187),
    )
    assert F.num_features(SEED) == 187
    assert F.num_frames(66150, SEED) == 130
    assert F.num_frames(10, SEED) == F.num_frames(10**6, SEED) == 130  # duration crops/pads


def test_layout_follows_sizes_and_groups():
    cfg = F.FeatureConfig(n_mfcc=13, n_mels=64, groups=("mel", "delta"))
    assert F.feature_layout(cfg) == (("delta", 0, 13), ("mel", 13, 77))
    assert F.num_features(cfg) == 77


@pytest.mark.parametrize("recipe", ["seed", "fast"])
def test_groups_subset_keeps_those_rows_in_canonical_order(clip_y, recipe):
    full_cfg = F.FeatureConfig(recipe=recipe, groups=("mfcc", "delta2", "chroma", "contrast", "rms"))
    sub_cfg = F.FeatureConfig(recipe=recipe, groups=("rms", "delta2", "chroma"))  # any order in
    assert sub_cfg.groups == ("delta2", "chroma", "rms")  # ALL_GROUPS order out
    full, sub = F.prepare(clip_y, full_cfg), F.prepare(clip_y, sub_cfg)
    full_rows = {n: full[:, a:b] for n, a, b in F.feature_layout(full_cfg)}
    for name, a, b in F.feature_layout(sub_cfg):
        np.testing.assert_array_equal(sub[:, a:b], full_rows[name])
    assert sub.shape[1] == 40 + 12 + 1
