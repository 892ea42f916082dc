"""Shared by the training tests (tests/train/): a tiny run's settings."""

from __future__ import annotations

from ser_jax import config as config_lib
from ser_jax import optim, splits
from ser_jax.testing.tiny import TINY_FEATURES, TINY_MODEL


def tiny_config(corpus_root, cache_dir, **train_kw) -> config_lib.ExperimentConfig:
    split = train_kw.pop("split", splits.SplitConfig(protocol="holdout"))
    return config_lib.ExperimentConfig(
        data_dir=str(corpus_root), cache_dir=str(cache_dir), features=TINY_FEATURES, split=split,
        model_config=TINY_MODEL, optim=optim.OptimConfig(learning_rate=3e-3),
        train=config_lib.TrainConfig(**{"epochs": 4, "patience": 0, "batch_size": 16, **train_kw}), workers=2)
