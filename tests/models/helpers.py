"""Shared by the model tests (tests/models/): the crnn tests' tiny model and batches with padding; a model of the
zoo initialised by name."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ser_jax import models
from ser_jax.models.crnn import Config as ModelConfig
from ser_jax.models.crnn import Model as SERModel

# Tiny but complete: CNN block, pooling, BiLSTM, attention, a hidden dense layer.
TINY = ModelConfig(
    num_classes=3,
    conv_filters=(6,),
    conv_kernels=(3,),
    lstm_units=4,
    dense_units=(5,),
)


F = 7  # input features in the tiny tests


def init(cfg: ModelConfig, steps: int = 12, features: int = F, seed: int = 0):
    x = jnp.zeros((2, steps, features), jnp.float32)
    return SERModel(cfg).init(jax.random.key(seed), x, jnp.full((2,), steps, jnp.int32), train=False)


def apply(cfg, variables, x, lengths, *, train=False, seed=0, mutable=("batch_stats",)):
    """Run the model; in training returns (logits, updated collections)."""
    model = SERModel(cfg)
    if not train:
        return model.apply(variables, x, jnp.asarray(lengths, jnp.int32), train=False)
    return model.apply(
        variables, x, jnp.asarray(lengths, jnp.int32), train=True,
        rngs={"dropout": jax.random.key(seed)}, mutable=list(mutable),
    )


def batch(lengths, steps, features=F, seed=1, fill=None):
    """Random clips, each valid up to its length; the padding is zeros or ``fill`` garbage."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(lengths), steps, features)).astype(np.float32)
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0 if fill is None else fill(rng, x[i, n:].shape)
    return x


def pad_to(x, steps, value=0.0):
    out = np.full((x.shape[0], steps, x.shape[2]), value, np.float32)
    out[:, : x.shape[1]] = x
    return out


def _init(name, cfg, x, lengths):
    return models.build(name, cfg).init({"params": jax.random.key(0), "dropout": jax.random.key(1)}, x, lengths,
                                        train=False)
