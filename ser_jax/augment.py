"""SpecAugment-style masking and mixup of (standardised) feature sequences during training.

The seed model overfits RAVDESS within a few dozen epochs (training accuracy near 100%), and
~1,470 training clips are too few to fix that with dropout and L2 alone. Masking random spans
of frames and random bands of feature rows (Park et al., 2019, "SpecAugment") makes every
epoch see a slightly different clip. Masked values are set to 0: after standardisation that is
the training mean, so a mask removes information without inventing any.

Mixup (``mixup`` > 0) blends each training clip with another of its batch and its loss with
the partner's label by the same weight.

Masks and mixup are drawn per clip inside the jitted train step, so augmentation costs no host
work and no recompilation; evaluation never augments. The defaults (no masks, no mixup) leave
training exactly as the original's.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from ser_jax.fields import setting


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    time_masks: int = setting(0, "SpecAugment: spans of frames zeroed per training clip (0 = off).")
    time_mask_width: int = setting(12, "SpecAugment: maximum frames per time mask (inside the clip's true length).")
    feature_masks: int = setting(0, "SpecAugment: bands of feature rows zeroed per training clip (0 = off).")
    feature_mask_width: int = setting(20, "SpecAugment: maximum rows per feature mask.")
    mixup: float = setting(0.0, "Mixup: mix each training clip with another of its batch, weight drawn from "
                           "Beta(alpha, alpha) (the clip's own label keeps the larger share); 0 = off.")

    def __post_init__(self):
        for name in ("time_masks", "time_mask_width", "feature_masks", "feature_mask_width", "mixup"):
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


def mixup(rng: jax.Array, x: jax.Array, lengths: jax.Array, alpha: float
          ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Mixup (Zhang et al., 2018): each clip mixed with another clip of the batch.

    Returns (mixed x, lengths covering both clips, partner index per clip, weight of the clip's
    own label per clip); the loss is ``lam * ce(y) + (1 - lam) * ce(y[partner])``. Since features
    are standardised, mixing with a partner's zero padding pulls towards the training mean.
    """
    k_lam, k_perm = jax.random.split(rng)
    lam = jax.random.beta(k_lam, alpha, alpha, (x.shape[0],))
    lam = jnp.maximum(lam, 1.0 - lam)  # the clip's own label stays the major one
    partner = jax.random.permutation(k_perm, x.shape[0])
    mixed = lam[:, None, None] * x + (1.0 - lam[:, None, None]) * x[partner]
    return mixed, jnp.maximum(lengths, lengths[partner]), partner, lam
