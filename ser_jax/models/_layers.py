"""Pieces every model shares: padding masks, in-length reversal, masked pooling, validation.

All models take ``x`` (B, T, F) and ``lengths`` (B,), and frames past a clip's length must never
change its logits; these helpers are how each model keeps that promise.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def time_mask(lengths: jax.Array, steps: int) -> jax.Array:
    """(B, steps) bool: True for the frames before each sequence's length."""
    return jnp.arange(steps)[None, :] < lengths[:, None]


def _reversal_index(lengths: jax.Array, steps: int) -> jax.Array:
    t = jnp.arange(steps)[None, :]
    return jnp.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, T)


@jax.custom_vjp
def reverse_valid(x: jax.Array, lengths: jax.Array) -> jax.Array:
    """Reverse each sequence of ``x`` (B, T, ...) within its own length; padding stays where it is.

    This lets a backward pass over time (LSTM, causal convolution) start at each clip's true last
    frame. It is its own inverse, and so its own gradient (a gather instead of the scatter autodiff
    would produce, slow on a CPU).
    """
    idx = _reversal_index(lengths, x.shape[1])
    return jnp.take_along_axis(x, idx.reshape(idx.shape + (1,) * (x.ndim - 2)), axis=1)


def _reverse_valid_fwd(x, lengths):
    return reverse_valid(x, lengths), lengths


def _reverse_valid_bwd(lengths, ct):
    return reverse_valid(ct, lengths), None


reverse_valid.defvjp(_reverse_valid_fwd, _reverse_valid_bwd)


def check_inputs(name: str, x: jax.Array, lengths: Any) -> tuple[jax.Array, jax.Array]:
    """Shapes checked, lengths as int32 clipped to [1, T], and x's padding zeroed (even NaN there)."""
    if x.ndim != 3:
        raise ValueError(f"{name}: x must be (batch, frames, features), got shape {x.shape}")
    lengths = jnp.asarray(lengths)
    if lengths.shape != x.shape[:1]:
        raise ValueError(f"{name}: lengths must be ({x.shape[0]},) to match x, got shape {lengths.shape}")
    lengths = jnp.clip(lengths.astype(jnp.int32), 1, x.shape[1])
    return jnp.where(time_mask(lengths, x.shape[1])[:, :, None], x, 0.0), lengths


def masked_mean(h: jax.Array, lengths: jax.Array) -> jax.Array:
    """Mean over the valid frames of h (B, T, D)."""
    mask = time_mask(lengths, h.shape[1])[:, :, None]
    return jnp.sum(jnp.where(mask, h, 0.0), axis=1) / lengths[:, None].astype(h.dtype)


class AttentionPool(nn.Module):
    """Softmax attention over the valid frames (one learned score per frame), a weighted sum.

    Padded frames get exactly zero weight. The weights are sown as ``attention_weights``.
    """

    kernel_init: Any = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, h: jax.Array, lengths: jax.Array) -> jax.Array:
        mask = time_mask(lengths, h.shape[1])
        scores = nn.Dense(1, kernel_init=self.kernel_init, name="score")(h)[..., 0]
        weights = jax.nn.softmax(jnp.tanh(scores), axis=-1, where=mask)
        weights = jnp.where(mask, weights, 0.0)
        self.sow("intermediates", "attention_weights", weights)
        return jnp.einsum("bt,btd->bd", weights, h)


def masked_batch_norm(train: bool, name: str, momentum: float = 0.99, epsilon: float = 1e-3) -> nn.BatchNorm:
    """BatchNorm whose statistics come from valid frames only (pass ``mask=`` (B, T, 1) when calling)."""
    return nn.BatchNorm(use_running_average=not train, momentum=momentum, epsilon=epsilon,
                        use_fast_variance=False, name=name)


def check_int(model: str, name: str, value: Any, minimum: int, each: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        what = "every entry" if each else "it"
        raise ValueError(f"{model}.{name}: {what} must be an integer >= {minimum}, got {value!r}")


def check_rate(model: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{model}.{name}: a dropout rate must be in [0, 1), got {value!r}")


def count_params(variables: Any) -> dict[str, int]:
    """Sizes of a model's variables: trainable ``params``, BatchNorm ``batch_stats``, and their sum.

    ``total`` is what Keras calls "Total params" (its moving mean/variance are non-trainable params).
    Works on arrays or on the shapes from ``jax.eval_shape(model.init, ...)``, which costs nothing.
    """

    def size(tree: Any) -> int:
        return int(sum(math.prod(np.shape(leaf)) for leaf in jax.tree_util.tree_leaves(tree)))

    trainable = size(variables.get("params", {}))
    stats = size(variables.get("batch_stats", {}))
    return {"trainable": trainable, "batch_stats": stats, "total": trainable + stats}
