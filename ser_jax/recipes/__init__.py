"""Feature recipes as plug-ins: each module here turns a clip into (T, F) frame features, found by name.

A recipe is one module in this package, named by its file (``--recipe=NAME``), with
- ``ENCODER``: True when its features are a pretrained encoder's hidden states (ser_jax.encoders):
  the config's encoder fields then count (and its cache key the JAX version); its groups are the
  encoder's hidden states h0..hN and any beside them (``whisper_egemaps``: ``egemaps88``);
- ``FIXED``: FeatureConfig fields the recipe fixes whatever the flags say (an encoder's front end);
- ``STORAGE_DTYPE``: how a cache stores its features;
- ``group_sizes(cfg)``: the rows of every group it can compute, in row order;
- ``min_samples(cfg)``: the length full-length clips are zero-padded to;
- ``num_frames(num_samples, cfg)``: T for a clip of num_samples (after cropping or padding);
- ``prepare(y, cfg)``: what a feature worker computes of mono audio y (never in a process with JAX):
  the features, or, for a recipe that also has
- ``finish(prepared, cfg)``: the features of several clips from their ``prepare`` outputs, in the
  process collecting the workers' results (an encoder, in batches).

Modules whose names start with ``_`` hold what several recipes share and are not recipes. Adding a
recipe is one new file plus its test; a recipe outside the package is one entry in :data:`RECIPES`.
The functions below are what the rest of ser_jax calls; they pick the config's recipe.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ser_jax.features import FeatureConfig

# name -> module: every module of this package not starting with "_" (a new file is found as it is).
RECIPES: dict[str, str] = {
    m.name: f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")
}


def get(name: str) -> ModuleType:
    """The recipe module called name; a one-line ValueError listing the recipes if there is none."""
    if name not in RECIPES:
        raise ValueError(f"--recipe={name}: unknown feature recipe; choose from {', '.join(RECIPES)}")
    return importlib.import_module(RECIPES[name])


# ------------------------------------------------------------------------------------------------
# Shapes


def group_sizes(cfg: FeatureConfig) -> dict[str, int]:
    """Rows per feature group (every group the recipe computes, whether selected or not)."""
    return get(cfg.recipe).group_sizes(cfg)


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
    return get(cfg.recipe).min_samples(cfg)


def clip_samples(num_samples: int, cfg: FeatureConfig) -> int:
    """Length of a clip of num_samples (at cfg.sample_rate) after cropping/padding per cfg."""
    if cfg.duration is not None:
        return int(round(cfg.duration * cfg.sample_rate))
    return max(int(num_samples), min_samples(cfg))


def num_frames(num_samples: int, cfg: FeatureConfig) -> int:
    """T for a clip of num_samples: 1 + n // hop with centered frames (130 for 3 s at 22050/512); an
    encoder's states: n // 320 (150 for 3 s)."""
    return get(cfg.recipe).num_frames(num_samples, cfg)


def fit_length(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Crop or zero-pad at the end, as the seed did (idempotent)."""
    n = clip_samples(len(y), cfg)
    if len(y) >= n:
        return y[:n]
    return np.pad(y, (0, n - len(y)))


def storage_dtype(cfg: FeatureConfig) -> np.dtype:
    """How a cache stores the features: an encoder's hidden states as float16 (half the disk and
    memory; they were float16 weights' outputs), handcrafted features as float32."""
    return np.dtype(get(cfg.recipe).STORAGE_DTYPE)


# ------------------------------------------------------------------------------------------------
# Computing: prepare in a feature worker, finish where the workers' results are collected


def prepare(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """What a feature worker computes of audio y: the features, or for a two-stage recipe (an
    encoder's) its input (Whisper's log-mel), which ``finish`` turns into features in batches."""
    return get(cfg.recipe).prepare(y, cfg)


def needs_finish(cfg: FeatureConfig) -> bool:
    """True when ``prepare``'s output is not yet the features (an encoder recipe)."""
    return hasattr(get(cfg.recipe), "finish")


def finish(prepared: list[np.ndarray], cfg: FeatureConfig) -> list[np.ndarray]:
    """The features of several clips from what ``prepare`` gave for each (in this process: JAX)."""
    recipe = get(cfg.recipe)
    return recipe.finish(prepared, cfg) if hasattr(recipe, "finish") else list(prepared)
