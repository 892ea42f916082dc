"""SpecAugment-style masking of (standardised) feature sequences during training.

The seed model overfits RAVDESS within a few dozen epochs (training accuracy near 100%), and
~1,470 training clips are too few to fix that with dropout and L2 alone. Masking random spans
of frames and random bands of feature rows (Park et al., 2019, "SpecAugment") makes every
epoch see a slightly different clip. Masked values are set to 0: after standardisation that is
the training mean, so a mask removes information without inventing any.

Masks are drawn per clip inside the jitted train step, so augmentation costs no host work and
no recompilation; evaluation never masks. The defaults (no masks) leave training exactly as
the original's.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    time_masks: int = 0  # spans of frames masked per clip
    time_mask_width: int = 12  # each span is 0..this many frames, inside the clip's true length
    feature_masks: int = 0  # bands of feature rows masked per clip
    feature_mask_width: int = 20  # each band is 0..this many rows

    def __post_init__(self):
        for name in ("time_masks", "time_mask_width", "feature_masks", "feature_mask_width"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name}={getattr(self, name)}: must be >= 0")

    @property
    def masks_time(self) -> bool:
        return self.time_masks > 0 and self.time_mask_width > 0

    @property
    def masks_features(self) -> bool:
        return self.feature_masks > 0 and self.feature_mask_width > 0

    @property
    def enabled(self) -> bool:
        return self.masks_time or self.masks_features


def _spans(rng: jax.Array, count: int, max_width: int, limit: jax.Array, size: int) -> jax.Array:
    """(B, size) True inside ``count`` random spans per row, each of width 0..max_width and
    lying within positions 0..limit[b] - 1 (as far as the width allows)."""
    masked = jnp.zeros((limit.shape[0], size), bool)
    pos = jnp.arange(size)
    for key in jax.random.split(rng, count):
        k_width, k_start = jax.random.split(key)
        width = jax.random.randint(k_width, limit.shape, 0, max_width + 1)
        width = jnp.minimum(width, limit)
        room = limit - width + 1  # possible start positions
        start = jnp.floor(jax.random.uniform(k_start, limit.shape) * room).astype(jnp.int32)
        masked |= (pos[None] >= start[:, None]) & (pos[None] < (start + width)[:, None])
    return masked


def mask(rng: jax.Array, x: jax.Array, lengths: jax.Array, cfg: AugmentConfig) -> jax.Array:
    """x (B, T, F) with cfg's time and feature masks set to 0; x itself when cfg masks nothing."""
    if not cfg.enabled:
        return x
    batch, frames, feats = x.shape
    k_time, k_feat = jax.random.split(rng)
    if cfg.masks_time:
        t = _spans(k_time, cfg.time_masks, cfg.time_mask_width, jnp.minimum(lengths, frames).astype(jnp.int32), frames)
        x = jnp.where(t[:, :, None], 0.0, x)
    if cfg.masks_features:
        f = _spans(k_feat, cfg.feature_masks, cfg.feature_mask_width, jnp.full((batch,), feats, jnp.int32), feats)
        x = jnp.where(f[:, None, :], 0.0, x)
    return x
