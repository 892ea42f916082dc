"""Shapes of a config's features: the rows of each group, a clip's length after cropping or padding,
its number of frames, and how a cache stores them. Each asks the config's recipe (features/recipes/).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ser_jax.features.recipes import get_recipe

if TYPE_CHECKING:
    from ser_jax.features.config import FeatureConfig


def group_sizes(cfg: FeatureConfig) -> dict[str, int]:
    """Rows per feature group (every group the recipe computes, whether selected or not)."""
    return get_recipe(cfg.recipe).group_sizes(cfg)


def feature_layout(cfg: FeatureConfig) -> tuple[tuple[str, int, int], ...]:
    """(group name, start row, stop row) of each selected group, in the recipe's row order."""
    sizes = group_sizes(cfg)
    out, start = [], 0
    for g in cfg.groups:
        out.append((g, start, start + sizes[g]))
        start += sizes[g]
    return tuple(out)


def num_features(cfg: FeatureConfig) -> int:
    """F, the width of a clip's features (187 for the default)."""
    return feature_layout(cfg)[-1][2]


def min_samples(cfg: FeatureConfig) -> int:
    """Full-length clips are zero-padded to this (one whole window and enough frames for deltas; an
    encoder: 0.1 s)."""
    return get_recipe(cfg.recipe).min_samples(cfg)


def clip_samples(num_samples: int, cfg: FeatureConfig) -> int:
    """Length of a clip of num_samples (at cfg.sample_rate) after cropping/padding per cfg."""
    if cfg.duration is not None:
        return int(round(cfg.duration * cfg.sample_rate))
    return max(int(num_samples), min_samples(cfg))


def num_frames(num_samples: int, cfg: FeatureConfig) -> int:
    """T for a clip of num_samples: 1 + n // hop with centered frames (130 for 3 s at 22050/512); an
    encoder's states: n // 320 (150 for 3 s)."""
    return get_recipe(cfg.recipe).num_frames(num_samples, cfg)


def fit_length(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Crop or zero-pad at the end, as the seed did (idempotent)."""
    n = clip_samples(len(y), cfg)
    if len(y) >= n:
        return y[:n]
    return np.pad(y, (0, n - len(y)))


def storage_dtype(cfg: FeatureConfig) -> np.dtype:
    """How a cache stores the features: an encoder's hidden states as float16 (half the disk and
    memory; they were float16 weights' outputs), handcrafted features as float32."""
    return np.dtype(get_recipe(cfg.recipe).STORAGE_DTYPE)
