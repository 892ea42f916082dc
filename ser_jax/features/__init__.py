"""Features per clip: what to compute (:class:`FeatureConfig`), the recipes that compute it, and the
shapes and files in between. The rest of ser_jax uses the names below, one spelling each
(``from ser_jax import features``; ``features.feature_layout(cfg)``).

Layout of the package, lower modules first (none imports a module above it; the recipes are imported
by name, through ``recipes.get_recipe``, so the registry needs no import of them):

- ``recipes/``: the feature recipes as plug-ins, one module each (``seed.py``, ``fast.py``,
  ``whisper.py``, ``whisper_egemaps.py``), found by file name; ``_handcrafted.py`` and
  ``_opensmile.py`` hold what several share. Its ``__init__`` is the registry (``RECIPES``,
  ``get_recipe``, ``owners``: which recipe owns which FeatureConfig field) and the recipe contract.
- ``config.py``: :class:`FeatureConfig` (validated; ``key()`` names a cache), ``cache_groups``,
  the group names and value ranges, ``library_versions``.
- ``layout.py``: the rows of each group, a clip's length after cropping or padding, its frames, the
  cache's dtype.
- ``compute.py``: a file loaded as its config says (``load_clip``), the recipe's ``prepare`` and
  ``finish``, ``compute`` (one file) and ``window_starts`` (the windows of a long recording).

Outside the package it imports ser_jax.audio (loading), ser_jax.perturb (a training copy's fields and
audio work), ser_jax.encoders and ser_jax.fields, none of which imports it back. Nothing here imports
librosa or JAX at import time, so any process may read configs and shapes.
"""

from ser_jax.features.compute import compute, finish, load_clip, needs_finish, prepare, window_starts
from ser_jax.features.config import (ALL_GROUPS, ENCODER_POOLS, FEATURES_VERSION, GROUP_ORDER, MFCC_MELS,
                                     OPENSMILE_GROUPS, OPTIONAL_GROUPS, FeatureConfig, cache_groups,
                                     library_versions, parse_duration)
from ser_jax.features.layout import (clip_samples, feature_layout, fit_length, group_sizes, min_samples,
                                     num_features, num_frames, storage_dtype)
from ser_jax.features.recipes import RECIPES, get_recipe

__all__ = [
    "ALL_GROUPS", "ENCODER_POOLS", "FEATURES_VERSION", "GROUP_ORDER", "MFCC_MELS", "OPENSMILE_GROUPS",
    "OPTIONAL_GROUPS", "RECIPES", "FeatureConfig", "cache_groups", "clip_samples", "compute", "feature_layout",
    "finish", "fit_length", "get_recipe", "group_sizes", "library_versions", "load_clip", "min_samples",
    "needs_finish", "num_features", "num_frames", "parse_duration", "prepare", "storage_dtype",
    "window_starts",
]
