"""Adapting to the test clips (ser_jax.train.adapt): self-training never reads their true labels and says it is
transductive.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ser_jax import report as report_lib
from ser_jax import splits
from ser_jax.testing.tiny import TINY_MODEL
from ser_jax.train import data as train_data
from ser_jax.train import loop as train_lib

from .helpers import tiny_config


def test_self_training_never_reads_the_true_test_labels_and_says_it_is_transductive():
    """--self_train: the test clips' labels come from the model's predictions; scrambling the true
    ones changes nothing of the adapted model (only the reported pseudo-label accuracy)."""
    rng = np.random.default_rng(0)
    n, t, f = 48, 8, 5
    x = rng.normal(size=(n, t, f)).astype(np.float32)
    y = rng.integers(0, 3, n).astype(np.int32)
    split = splits.Split("holdout", np.arange(0, 32), np.arange(32, 40), np.arange(40, 48), False, None, "test")
    model = dataclasses.replace(TINY_MODEL, num_classes=3)
    cfg = dataclasses.replace(tiny_config("unused", "unused", self_train=2, self_train_threshold=0.34,
                                          self_train_epochs=1, batch_size=8), model_config=model)
    state = train_lib.create_train_state(jax.random.PRNGKey(0), model, cfg.optim, t, f, 10)
    data = train_data.Arrays(jnp.asarray(x), jnp.full(n, t, jnp.int32), jnp.asarray(y))
    labels = ["a", "b", "c"]
    adapted, info = train_lib.self_train(state, cfg, data, y, labels, split, None, None, progress=False)
    scrambled = y.copy()
    scrambled[split.test] = (y[split.test] + 1) % 3
    again, info2 = train_lib.self_train(state, cfg, data._replace(y=jnp.asarray(scrambled)), scrambled, labels, split,
                                        None, None, progress=False)
    for a, b in zip(jax.tree.leaves(adapted.params), jax.tree.leaves(again.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert info["method"] == "self_train" and len(info["test_clips_used"]) >= 1 and info["test_clips_used"][0] > 0
    assert info["test_clips_used"] == info2["test_clips_used"]
    changed = any(not np.array_equal(np.asarray(a), np.asarray(b))
                  for a, b in zip(jax.tree.leaves(adapted.params), jax.tree.leaves(state.params)))
    assert changed  # it did train
    text = report_lib.format_summary({"accuracy": 0.5, "macro_f1": 0.5, "weighted_f1": 0.5, "uar": 0.5,
                                      "transductive": info}, leaky=False, protocol="holdout")
    assert "TRANSDUCTIVE" in text
