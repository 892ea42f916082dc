"""Computing features: a clip loaded as its config says, the recipe's two stages, and whole files.

``prepare`` runs in a feature worker (never with JAX), ``finish`` where the workers' results are
collected (an encoder, in batches). ``load_clip`` is the one way a file becomes a recipe's input:
ser_jax.audio loads and resamples it (a speed copy in that resampling), ser_jax.perturb applies a
training copy's other perturbations, and it is cropped or padded per the config. ``compute`` gives
one file's features; ``window_starts`` where the windows of a long recording begin. Predict's
feature-worker task is ser_jax.preprocess.clip_features (one input path with training).
"""

from __future__ import annotations

import os

import numpy as np

from ser_jax import audio, perturb
from ser_jax.features import layout
from ser_jax.features.config import FeatureConfig
from ser_jax.features.recipes import get_recipe


def prepare(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """What a feature worker computes of audio y: the features, or for a two-stage recipe (an
    encoder's) its input (Whisper's log-mel), which ``finish`` turns into features in batches."""
    return get_recipe(cfg.recipe).prepare(y, cfg)


def needs_finish(cfg: FeatureConfig) -> bool:
    """True when ``prepare``'s output is not yet the features (an encoder recipe)."""
    return hasattr(get_recipe(cfg.recipe), "finish")


def finish(prepared: list[np.ndarray], cfg: FeatureConfig) -> list[np.ndarray]:
    """The features of several clips from what ``prepare`` gave for each (in this process: JAX)."""
    recipe = get_recipe(cfg.recipe)
    return recipe.finish(prepared, cfg) if hasattr(recipe, "finish") else list(prepared)


def load_clip(path: str | os.PathLike, cfg: FeatureConfig, span: tuple[int, int] | None = None) -> np.ndarray:
    """Mono float32 at cfg.sample_rate, cropped/zero-padded per cfg.duration, with the perturbations of
    a training copy (speed while resampling, then VTLP and noise on the clip); audio.AudioError if the
    file cannot be used. ``span``: only those native-rate frames of the file, as a clip of their own."""
    path = os.fspath(path)
    y = audio.load_audio(path, cfg.sample_rate, speed=cfg.speed, span=span)
    own = min(len(y), layout.clip_samples(len(y), cfg))  # the clip's own samples, before any zero padding
    clip = perturb.apply(layout.fit_length(y, cfg), own, cfg, seed_text=os.path.basename(path))
    return np.ascontiguousarray(clip, dtype=np.float32)


def compute(path: str | os.PathLike, cfg: FeatureConfig) -> np.ndarray:
    """load_clip + the recipe (prepare, finish): the (T, F) features of one file, or AudioError."""
    return finish([prepare(load_clip(path, cfg), cfg)], cfg)[0]


def window_starts(num_samples: int, window: int, hop: int | None = None) -> list[int]:
    """First samples of the windows a stretch of num_samples is cut into (a long recording's speech).

    One window at 0 when it fits; otherwise windows every ``hop`` samples (default window // 2),
    plus one ending at the stretch's end if the regular ones stop short of it.
    """
    if window < 1:
        raise ValueError(f"window must be at least one sample, got {window}")
    if hop is not None and hop < 1:
        raise ValueError(f"hop must be at least one sample, got {hop}")
    if num_samples <= window:
        return [0]
    hop = max(1, window // 2) if hop is None else hop
    starts = list(range(0, num_samples - window + 1, hop))
    if starts[-1] + window < num_samples:
        starts.append(num_samples - window)
    return starts
