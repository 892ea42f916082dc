"""A run's data (ser_jax.train.data): padded batches."""

from __future__ import annotations

import numpy as np

from ser_jax.train import data as train_data


def test_padded_batches_have_one_shape_and_zero_weight_padding():
    batches = train_data.padded_batches(np.arange(10, 20), 4)
    assert [b[0].shape for b in batches] == [(4,)] * 3
    np.testing.assert_array_equal(np.concatenate([b[0][b[1] > 0] for b in batches]), np.arange(10, 20))
    np.testing.assert_array_equal(batches[-1][1], [1, 1, 0, 0])
