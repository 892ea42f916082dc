"""SpecAugment masks: off by default, inside each clip's true length, bounded, random per clip."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ser_jax import augment


def _ones(batch=64, frames=50, feats=30):
    return jnp.ones((batch, frames, feats), jnp.float32)


def test_the_default_config_masks_nothing():
    x = _ones()
    assert not augment.AugmentConfig().enabled
    assert augment.mask(jax.random.PRNGKey(0), x, jnp.full((64,), 50), augment.AugmentConfig()) is x


def test_time_masks_stay_inside_each_clips_frames_and_within_the_width():
    lengths = jnp.asarray(np.random.default_rng(0).integers(5, 51, 64))
    cfg = augment.AugmentConfig(time_masks=1, time_mask_width=8)
    out = np.asarray(augment.mask(jax.random.PRNGKey(1), _ones(), lengths, cfg))
    masked_frames = (out == 0).all(axis=2)  # (B, T): a time mask zeroes every feature of a frame
    assert ((out == 0) == masked_frames[:, :, None]).all()  # and nothing else
    widths = masked_frames.sum(1)
    assert widths.max() <= 8 and widths.max() > 0
    last = np.where(masked_frames.any(1), 49 - np.argmax(masked_frames[:, ::-1], axis=1), -1)
    assert (last < np.asarray(lengths)).all()  # never only in padding, where it would do nothing
    for row in masked_frames:  # one contiguous span
        idx = np.flatnonzero(row)
        assert len(idx) == 0 or idx[-1] - idx[0] + 1 == len(idx)


def test_feature_masks_zero_contiguous_bands_of_rows_for_all_frames():
    cfg = augment.AugmentConfig(feature_masks=2, feature_mask_width=5)
    out = np.asarray(augment.mask(jax.random.PRNGKey(2), _ones(), jnp.full((64,), 50), cfg))
    masked_rows = (out == 0).all(axis=1)  # (B, F)
    assert ((out == 0) == masked_rows[:, None, :]).all()
    assert 0 < masked_rows.sum(1).max() <= 10


def test_masks_differ_between_clips_and_keys_but_repeat_for_a_key():
    cfg = augment.AugmentConfig(time_masks=2, time_mask_width=10, feature_masks=2, feature_mask_width=6)
    lengths = jnp.full((64,), 50)
    a = np.asarray(augment.mask(jax.random.PRNGKey(3), _ones(), lengths, cfg))
    b = np.asarray(augment.mask(jax.random.PRNGKey(3), _ones(), lengths, cfg))
    c = np.asarray(augment.mask(jax.random.PRNGKey(4), _ones(), lengths, cfg))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len({row.tobytes() for row in (a == 0)}) > 32


def test_negative_settings_are_errors_naming_the_flag():
    with pytest.raises(ValueError, match="--time_masks"):
        augment.AugmentConfig(time_masks=-1)


def test_mixup_blends_each_clip_with_a_partner_keeping_its_own_label_the_larger_share():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(16, 10, 4)).astype(np.float32))
    lengths = jnp.asarray(rng.integers(3, 11, 16))
    mixed, mixed_len, partner, lam = augment.mixup(jax.random.PRNGKey(3), x, lengths, 0.4)
    lam, partner = np.asarray(lam), np.asarray(partner)
    assert (lam >= 0.5).all() and (lam <= 1.0).all()
    assert sorted(partner.tolist()) == list(range(16))  # a permutation of the batch
    np.testing.assert_allclose(mixed, lam[:, None, None] * x + (1 - lam[:, None, None]) * np.asarray(x)[partner],
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(mixed_len, np.maximum(lengths, np.asarray(lengths)[partner]))
    again = augment.mixup(jax.random.PRNGKey(3), x, lengths, 0.4)
    np.testing.assert_array_equal(again[0], mixed)  # deterministic for a key


def test_negative_mixup_is_an_error_naming_the_flag():
    with pytest.raises(ValueError, match="--mixup=-0.2"):
        augment.AugmentConfig(mixup=-0.2)
