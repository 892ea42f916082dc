"""Feature recipes as plug-ins: each module here turns a clip into (T, F) frame features, found by name.

A recipe is one module in this package, named by its file (``--recipe=NAME``), with
- ``ENCODER``: True when its features are a pretrained encoder's hidden states (ser_jax.encoders):
  its cache key then names the JAX version; its groups are the encoder's hidden states h0..hN and
  any beside them (``whisper_egemaps``: ``egemaps88``);
- ``FIXED``: FeatureConfig fields the recipe fixes whatever the flags say (an encoder's front end);
- ``FIELDS`` and ``check(cfg)`` (optional): the FeatureConfig fields only this recipe reads, and their
  validation, returning {field: value} of the values to keep (one-line ValueErrors naming the field);
  every other recipe must leave them at their defaults, so FeatureConfig refuses them there;
- ``STORAGE_DTYPE``: how a cache stores its features;
- ``group_sizes(cfg)``: the rows of every group it can compute, in row order;
- ``min_samples(cfg)``: the length full-length clips are zero-padded to;
- ``num_frames(num_samples, cfg)``: T for a clip of num_samples (after cropping or padding);
- ``prepare(y, cfg)``: what a feature worker computes of mono audio y (never in a process with JAX):
  the features, or, for a recipe that also has
- ``finish(prepared, cfg)``: the features of several clips from their ``prepare`` outputs, in the
  process collecting the workers' results (an encoder, in batches).

Modules whose names start with ``_`` hold what several recipes share and are not recipes. Adding a
recipe is one new file plus its test; a recipe outside the package is named by its import path
(``--recipe=my_lab.my_recipe``), as models and corpus readers are (ser_jax.plugins).
The rest of ser_jax reaches a recipe through ser_jax.features (layout and compute), never directly.
"""

from __future__ import annotations

from types import ModuleType

from ser_jax import plugins

# name -> module: every module of this package not starting with "_" (a new file is found as it is).
RECIPES = plugins.Registry(__name__, __path__, flag="recipe", what="feature recipe")


def get_recipe(name: str) -> ModuleType:
    """The recipe module called name (or at that import path); a one-line ValueError listing the
    recipes if there is none."""
    return RECIPES.module(name)


def owners() -> dict[str, tuple[str, ...]]:
    """FeatureConfig field -> the recipes that declare it their own (``FIELDS``)."""
    out: dict[str, tuple[str, ...]] = {}
    for name in RECIPES:
        for field in getattr(get_recipe(name), "FIELDS", ()):
            out[field] = out.get(field, ()) + (name,)
    return out
