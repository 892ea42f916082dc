"""``tcn``: bidirectional dilated temporal convolutions with multi-scale fusion, in the style of TIM-Net.

After Ye et al., "Temporal Modeling Matters: A Novel Temporal Emotional Modeling Approach for Speech
Emotion Recognition" (ICASSP 2023), a small model built for small emotion corpora:

- a 1x1 convolution projects the frame features to ``filters`` channels, once per direction;
- ``dilations`` temporal-aware blocks per direction, with dilation 1, 2, 4, ...: two causal
  convolutions (kernel ``kernel_size``), each followed by BatchNorm, ReLU and channel dropout, then a
  sigmoid gate on the block's input (``x * sigmoid(conv(conv(x)))``). The backward direction runs
  the same on each clip reversed within its own length, so it starts at the clip's true end;
- after every block the two directions are averaged over the valid frames and summed: one vector per
  time scale. A learned weight per scale fuses them (TIM-Net's dynamic fusion), then a dense layer.

Departures from the paper: the input is whatever frame features the cache holds (the paper used
39 MFCCs), so a 1x1 projection sets the width; causal padding is exact per clip (padded frames are
zeroed before every convolution and left out of BatchNorm statistics and the average).
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from ser_jax.models._layers import (
    check_inputs,
    check_int,
    check_rate,
    masked_batch_norm,
    masked_mean,
    reverse_valid,
    time_mask,
)


# The tiny configuration tests run the model in (tests/models/test_models.py).
TINY = {"filters": 8, "dilations": 2}


@dataclasses.dataclass(frozen=True)
class Config:
    num_classes: int = 8
    filters: int = 48  # channels of every block (TIM-Net: 39)
    kernel_size: int = 2  # of each causal convolution (TIM-Net: 2)
    dilations: int = 6  # blocks per direction, dilation 2**i; receptive field 1 + 2*(k-1)*(2**n - 1) frames
    dropout: float = 0.1  # channel dropout after each convolution (TIM-Net: 0.1)
    head_dropout: float = 0.1  # before the output layer

    def __post_init__(self) -> None:
        check_int("tcn", "num_classes", self.num_classes, 2)
        check_int("tcn", "filters", self.filters, 1)
        check_int("tcn", "kernel_size", self.kernel_size, 1)
        check_int("tcn", "dilations", self.dilations, 1)
        check_rate("tcn", "dropout", self.dropout)
        check_rate("tcn", "head_dropout", self.head_dropout)


class CausalConv(nn.Module):
    """Conv1D whose output at frame t sees frames t - (k-1)*dilation .. t only."""

    features: int
    kernel_size: int
    dilation: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        pad = (self.kernel_size - 1) * self.dilation
        x = jnp.pad(x, ((0, 0), (pad, 0), (0, 0)))
        return nn.Conv(self.features, (self.kernel_size,), kernel_dilation=(self.dilation,), padding="VALID",
                       name="conv_0")(x)


class TemporalAwareBlock(nn.Module):
    filters: int
    kernel_size: int
    dilation: int
    dropout: float

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array, *, train: bool) -> jax.Array:
        h = x
        for i in range(2):
            h = CausalConv(self.filters, self.kernel_size, self.dilation, name=f"causal_{i}")(h)
            h = masked_batch_norm(train, f"bn_{i}")(h, mask=mask)
            h = nn.relu(h)
            h = nn.Dropout(self.dropout, broadcast_dims=(1,), deterministic=not train)(h)  # whole channels
            h = jnp.where(mask, h, 0.0)
        return x * jax.nn.sigmoid(h)


class Model(nn.Module):
    config: Config

    @nn.compact
    def __call__(self, x: jax.Array, lengths: jax.Array, *, train: bool) -> jax.Array:
        cfg = self.config
        x, lengths = check_inputs("tcn", x, lengths)
        mask = time_mask(lengths, x.shape[1])[:, :, None]
        scales = []
        directions = {"forward": x, "backward": reverse_valid(x, lengths)}
        hs = {d: nn.Conv(cfg.filters, (1,), name=f"{d}_input")(v) * mask for d, v in directions.items()}
        for i in range(cfg.dilations):
            for d in hs:
                hs[d] = TemporalAwareBlock(cfg.filters, cfg.kernel_size, 2**i, cfg.dropout,
                                           name=f"{d}_block_{i}")(hs[d], mask, train=train)
            scales.append(masked_mean(hs["forward"], lengths) + masked_mean(hs["backward"], lengths))
        stacked = jnp.stack(scales, axis=1)  # (B, scales, filters)
        fusion = self.param("fusion", nn.initializers.constant(1.0 / cfg.dilations), (cfg.dilations,))
        h = jnp.einsum("bsf,s->bf", stacked, fusion)
        h = nn.Dropout(cfg.head_dropout, deterministic=not train)(h)
        return nn.Dense(cfg.num_classes, name="logits")(h)
