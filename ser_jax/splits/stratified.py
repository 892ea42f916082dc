"""The seed's protocols, where speakers are shared across parts: ``seed_leaky`` and ``holdout``.

Both take the notebook's stratified test split (emotion x channel, random_state 42), so their test
rows are the same; ``holdout`` carves validation out of the training part, ``seed_leaky`` validates
on the test set itself (LEAKY: early stopping peeks at it), exactly as the original did.
"""

from __future__ import annotations

import numpy as np

from ser_jax.splits.config import Split, SplitConfig
from ser_jax.splits.metadata import channel_note, strata


def _stratified(rows: np.ndarray, key: np.ndarray, size: float, random_state: int, what: str):
    from sklearn.model_selection import train_test_split  # here: importing scikit-learn takes ~2 s

    try:
        a, b = train_test_split(rows, test_size=size, random_state=random_state, stratify=key)
    except ValueError as e:
        raise ValueError(
            f"{what}: stratified split on emotion x channel impossible ({e}); need at least 2 rows per "
            "emotion x channel and enough rows for every stratum, or use protocol 'speaker_kfold'"
        ) from None
    return np.sort(a).astype(np.int64), np.sort(b).astype(np.int64)


def _seed_test(cfg: SplitConfig, rows, key) -> tuple[np.ndarray, np.ndarray]:
    return _stratified(rows, key[rows], cfg.test_size, cfg.split_seed, f"SplitConfig.test_size={cfg.test_size}")


def seed_leaky(cfg: SplitConfig, meta, rows) -> list[Split]:
    train, test = _seed_test(cfg, rows, strata(meta))
    pct = round(cfg.test_size * 100)
    desc = (
        f"LEAKY seed split: stratified {100 - pct}/{pct} on emotion x channel (random_state "
        f"{cfg.split_seed}{channel_note(cfg)}); validation = test set (early stopping on the test set)"
    )
    return [Split("seed_leaky", train, test.copy(), test, True, None, desc)]


def holdout(cfg: SplitConfig, meta, rows) -> list[Split]:
    key = strata(meta)
    rest, test = _seed_test(cfg, rows, key)
    train, val = _stratified(rest, key[rest], cfg.val_size, cfg.split_seed, f"SplitConfig.val_size={cfg.val_size}")
    desc = (
        f"holdout: the seed's stratified {round(cfg.test_size * 100)}% test set, validation "
        f"{round(cfg.val_size * 100)}% of the rest (stratified, random_state {cfg.split_seed}"
        f"{channel_note(cfg)}); speakers overlap across parts"
    )
    return [Split("holdout", train, val, test, False, None, desc)]
