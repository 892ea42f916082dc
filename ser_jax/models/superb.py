"""``superb``: the SUPERB / EmoBox head over a frozen encoder's hidden states.

The features are L hidden states of ``state_width`` each, side by side (the ``whisper`` recipe's
groups h0..hN, or any subset of them); the state width and the ``extra`` columns follow from the
features when a run's settings are checked (``fit_features``), so nobody needs to type them. The
head learns a softmax weighting of the L states (one scalar each, initialised equal), or keeps them
side by side (``mix="concat"``); optionally runs ``blocks`` conformer blocks over the mixed frames
(a sequence model over the weighted frame sequence); pools over the clip's valid frames (mean, or
attention with one learned score per frame); puts any ``extra`` features beside the pooled vector
(descriptors of the clip, e.g. the ``whisper_egemaps`` recipe's eGeMAPS functionals); and
classifies it with a small MLP. With one state and no hidden layer it is the linear probe.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ser_jax.models import conformer
from ser_jax.models._layers import AttentionPool, check_inputs, check_int, check_rate, masked_mean, time_mask

POOLING = ("mean", "attention")
MIX = ("weighted", "concat")
# The tiny configuration tests run the model in (tests/models/test_models.py).
TINY = {"state_width": 3, "hidden": (8,), "pooling": "attention", "blocks": 1, "block_dim": 8}
# A pooled cache (one frame per clip, --encoder_pool=mean) is read as it should with:
READS_POOLED = "with --superb.pooling=mean and no --superb.blocks"


@dataclasses.dataclass(frozen=True)
class Config:
    num_classes: int = 8
    # Features = states x width. None: the features' (fit_features), or one state for the model alone.
    state_width: int | None = None  # width of one hidden state (default: the features'; Whisper base 512, meanstd 1024)
    pooling: str = "mean"  # mean or attention over the valid frames
    mix: str = "weighted"  # the states: a learned softmax-weighted sum (SUPERB), or side by side (concat)
    hidden: tuple[int, ...] = (256,)  # MLP hidden layers after pooling (empty: a linear classifier)
    dropout: float = 0.2  # before each dense layer
    # A sequence model over the mixed frames before pooling: this many conformer blocks (ser_jax.models.
    # conformer's, of width block_dim, 4 heads, a depthwise kernel of 5 frames); 0 = none (the SUPERB head).
    blocks: int = 0
    block_dim: int = 128
    # Features after the hidden states that are not states (whisper_egemaps: the clip's 88 eGeMAPS
    # functionals): pooled like the frames and put beside the pooled states before the MLP.
    # None: the features' (fit_features), or 0 for the model alone.
    extra: int | None = None  # columns beside the hidden states (default: the features'; whisper_egemaps: 88)
    # Each hidden state of each frame standardised over its own width before mixing (a layer norm
    # without parameters): takes out a clip's overall level and scale, which no speaker statistics do
    # for a single clip of an unknown speaker.
    utterance_norm: bool = False  # each state of each frame standardised over its width (level, scale out)

    def __post_init__(self) -> None:
        check_int("superb", "num_classes", self.num_classes, 2)
        if self.state_width is not None:
            check_int("superb", "state_width", self.state_width, 1)
        if self.pooling not in POOLING:
            raise ValueError(f"superb.pooling: {self.pooling!r} is not one of {', '.join(POOLING)}")
        if self.mix not in MIX:
            raise ValueError(f"superb.mix: {self.mix!r} is not one of {', '.join(MIX)}")
        object.__setattr__(self, "hidden", tuple(self.hidden))
        for h in self.hidden:
            check_int("superb", "hidden", h, 1, each=True)
        check_rate("superb", "dropout", self.dropout)
        check_int("superb", "blocks", self.blocks, 0)
        check_int("superb", "block_dim", self.block_dim, 4)
        if self.extra is not None:
            check_int("superb", "extra", self.extra, 0)
        if self.block_dim % 4:
            raise ValueError(f"superb.block_dim: {self.block_dim} does not divide into 4 attention heads")


def reads_pooled(cfg: Config) -> bool:
    """Mean pooling of one pooled frame is that frame: the head reads a pooled cache as it reads frames."""
    return cfg.pooling == "mean" and not cfg.blocks


def fit_features(cfg: Config, features: Any, groups: Sequence[str], sizes: Mapping[str, int]) -> Config:
    """The Config with the state width and ``extra`` columns of the features (a FeatureConfig, the
    chosen groups, every group's width): an encoder's hidden-state groups are states (mean and std
    pooling: twice the encoder's width), the other groups ``extra``; other features are one state.
    A value given that differs is one line naming the value to set (the weighted mix only: concat
    reads any width; its state width, which only groups columns for utterance_norm, is the encoder's)."""
    if not features.uses_encoder:
        width = sum(sizes[g] for g in groups)
        return dataclasses.replace(cfg, state_width=width if cfg.state_width is None else cfg.state_width,
                                   extra=0 if cfg.extra is None else cfg.extra)
    width = next(iter(sizes.values()))  # the first group is state h0
    beside = sum(w for g, w in sizes.items() if g in groups and not g[1:].isdigit())
    if cfg.mix == "weighted" and cfg.extra not in (None, beside):
        raise ValueError(f"--superb.extra={cfg.extra}: the features hold {beside} columns beside the hidden "
                         f"states (--recipe={features.recipe}); set --superb.extra={beside}")
    if cfg.mix == "weighted" and cfg.state_width not in (None, width):
        raise ValueError(f"--superb.state_width={cfg.state_width}: each hidden state of --encoder="
                         f"{features.encoder} with --encoder_pool={features.encoder_pool} is {width} wide; set "
                         f"--superb.state_width={width}")
    if cfg.mix == "weighted":
        derived = width
    else:
        from ser_jax import encoders

        derived = encoders.describe(features.encoder).width
    return dataclasses.replace(cfg, state_width=derived if cfg.state_width is None else cfg.state_width,
                               extra=beside if cfg.extra is None else cfg.extra)


class Model(nn.Module):
    config: Config

    @nn.compact
    def __call__(self, x: jax.Array, lengths: jax.Array, *, train: bool) -> jax.Array:
        cfg = self.config
        x, lengths = check_inputs("superb", x, lengths)
        x, side = (x[..., :-cfg.extra], x[..., -cfg.extra:]) if cfg.extra else (x, None)
        width = cfg.state_width or x.shape[-1]  # not given: one state
        if x.shape[-1] % width:
            raise ValueError(f"superb: {x.shape[-1]} features are not whole hidden states of superb.state_width="
                             f"{width}; set it to the encoder's width")
        states = x.shape[-1] // width
        if cfg.utterance_norm:
            per_state = x.reshape(*x.shape[:2], states, width)
            mean = per_state.mean(-1, keepdims=True)
            std = jnp.sqrt(per_state.var(-1, keepdims=True) + 1e-5)
            x = ((per_state - mean) / std).reshape(x.shape)
        if cfg.mix == "weighted":
            logits = self.param("layer_logits", nn.initializers.zeros, (states,))
            self.sow("intermediates", "layer_weights", jax.nn.softmax(logits))
            h = jnp.einsum("btld,l->btd", x.reshape(*x.shape[:2], states, width), jax.nn.softmax(logits))
        else:  # every state's features side by side: the probe of issue 26 (more weights, no mixing)
            h = x
        if cfg.blocks:
            block_cfg = conformer.Config(num_classes=cfg.num_classes, dim=cfg.block_dim, heads=4, blocks=cfg.blocks,
                                         conv_kernel=5, subsample=1, dropout=0.1)
            mask = time_mask(lengths, h.shape[1])[:, :, None]
            h = jnp.where(mask, nn.Dense(cfg.block_dim, name="block_input")(h), 0.0)
            for i in range(cfg.blocks):
                h = conformer.ConformerBlock(block_cfg, name=f"block_{i}")(h, mask, train=train)
        h = masked_mean(h, lengths) if cfg.pooling == "mean" else AttentionPool(name="pool")(h, lengths)
        if side is not None:
            h = jnp.concatenate([h, masked_mean(side, lengths)], axis=-1)
        for i, width in enumerate(cfg.hidden):
            h = nn.Dropout(cfg.dropout, deterministic=not train)(h)
            h = nn.relu(nn.Dense(width, name=f"dense_{i}")(h))
        h = nn.Dropout(cfg.dropout, deterministic=not train)(h)
        return nn.Dense(cfg.num_classes, name="logits")(h)
