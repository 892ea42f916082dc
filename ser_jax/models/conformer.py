"""``conformer``: a small conformer encoder over frames, attention pooling, a linear classifier.

After Gulati et al., "Conformer: Convolution-augmented Transformer for Speech Recognition"
(Interspeech 2020), sized for corpora of a few thousand clips:

- frames are projected to ``dim`` channels and average-pooled in time by ``subsample``;
- ``blocks`` conformer blocks, each: half-step feed-forward, multi-head self-attention over the
  valid frames, a convolution module (pointwise + GLU, depthwise conv of ``conv_kernel`` frames,
  BatchNorm, swish, pointwise), another half-step feed-forward, LayerNorm; pre-norm residuals;
- attention pooling over the valid frames (one learned score per frame) and a dense output layer.

Departures from the paper: no relative positional encoding (the depthwise convolutions carry
order, and emotion is judged over the whole clip); padded frames are masked out of attention,
zeroed before every convolution and left out of BatchNorm statistics.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from ser_jax.models._layers import AttentionPool, check_inputs, check_int, check_rate, masked_batch_norm, time_mask


# The tiny configuration tests run the model in (tests/models/test_models.py).
TINY = {"dim": 8, "heads": 2, "blocks": 1, "ff_mult": 2, "conv_kernel": 3}


@dataclasses.dataclass(frozen=True)
class Config:
    num_classes: int = 8
    dim: int = 64  # model width
    heads: int = 4  # attention heads (dim must divide by it)
    blocks: int = 2  # conformer blocks
    ff_mult: int = 2  # feed-forward hidden width = ff_mult * dim
    conv_kernel: int = 15  # depthwise convolution, frames (after subsampling)
    subsample: int = 2  # average-pool frames by this factor before the blocks (1 = none)
    dropout: float = 0.1  # after attention, feed-forward and convolution modules
    head_dropout: float = 0.2  # before the output layer

    def __post_init__(self) -> None:
        for name, low in (("num_classes", 2), ("dim", 1), ("heads", 1), ("blocks", 1), ("ff_mult", 1),
                          ("conv_kernel", 1), ("subsample", 1)):
            check_int("conformer", name, getattr(self, name), low)
        if self.dim % self.heads:
            raise ValueError(f"conformer.heads: dim={self.dim} does not divide into {self.heads} heads")
        check_rate("conformer", "dropout", self.dropout)
        check_rate("conformer", "head_dropout", self.head_dropout)


class FeedForward(nn.Module):
    dim: int
    hidden: int
    dropout: float

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        h = nn.LayerNorm(name="norm")(x)
        h = nn.swish(nn.Dense(self.hidden, name="dense_0")(h))
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        h = nn.Dense(self.dim, name="dense_1")(h)
        return nn.Dropout(self.dropout, deterministic=not train)(h)


class ConvModule(nn.Module):
    dim: int
    kernel: int
    dropout: float

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array, *, train: bool) -> jax.Array:
        h = nn.LayerNorm(name="norm")(x)
        h = nn.glu(nn.Dense(2 * self.dim, name="pointwise_in")(h), axis=-1)
        h = jnp.where(mask, h, 0.0)
        h = nn.Conv(self.dim, (self.kernel,), padding="SAME", feature_group_count=self.dim, name="depthwise")(h)
        h = masked_batch_norm(train, "bn")(h, mask=mask)
        h = nn.swish(h)
        h = nn.Dense(self.dim, name="pointwise_out")(h)
        return nn.Dropout(self.dropout, deterministic=not train)(h)


class ConformerBlock(nn.Module):
    config: Config

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array, *, train: bool) -> jax.Array:
        cfg = self.config
        hidden = cfg.ff_mult * cfg.dim
        x = x + 0.5 * FeedForward(cfg.dim, hidden, cfg.dropout, name="ff_in")(x, train=train)
        h = nn.LayerNorm(name="attention_norm")(x)
        pair_mask = nn.make_attention_mask(mask[..., 0], mask[..., 0])  # (B, 1, T, T)
        h = nn.MultiHeadDotProductAttention(num_heads=cfg.heads, name="attention")(h, h, mask=pair_mask)
        x = x + nn.Dropout(cfg.dropout, deterministic=not train)(h)
        x = x + ConvModule(cfg.dim, cfg.conv_kernel, cfg.dropout, name="conv")(x, mask, train=train)
        x = x + 0.5 * FeedForward(cfg.dim, hidden, cfg.dropout, name="ff_out")(x, train=train)
        return jnp.where(mask, nn.LayerNorm(name="out_norm")(x), 0.0)


class Model(nn.Module):
    config: Config

    @nn.compact
    def __call__(self, x: jax.Array, lengths: jax.Array, *, train: bool) -> jax.Array:
        cfg = self.config
        x, lengths = check_inputs("conformer", x, lengths)
        h = nn.Dense(cfg.dim, name="input")(x)
        if cfg.subsample > 1:
            if h.shape[1] < cfg.subsample:
                raise ValueError(f"conformer: {h.shape[1]} frames is fewer than conformer.subsample={cfg.subsample}")
            steps = max(1, h.shape[1] // cfg.subsample)
            h = h[:, : steps * cfg.subsample].reshape(h.shape[0], steps, cfg.subsample, cfg.dim).mean(axis=2)
            lengths = jnp.maximum(1, lengths // cfg.subsample)  # a window with padding is cut off
        mask = time_mask(lengths, h.shape[1])[:, :, None]
        h = jnp.where(mask, h, 0.0)
        for i in range(cfg.blocks):
            h = ConformerBlock(cfg, name=f"block_{i}")(h, mask, train=train)
        h = AttentionPool(name="pool")(h, lengths)
        h = nn.Dropout(cfg.head_dropout, deterministic=not train)(h)
        return nn.Dense(cfg.num_classes, name="logits")(h)
