"""A run's data (ser_jax.train.data): padded batches, class weights. Several corpora: test_data_corpora.py."""

from __future__ import annotations

import numpy as np

from ser_jax.train import data as train_data


def test_padded_batches_have_one_shape_and_zero_weight_padding():
    batches = train_data.padded_batches(np.arange(10, 20), 4)
    assert [b[0].shape for b in batches] == [(4,)] * 3
    np.testing.assert_array_equal(np.concatenate([b[0][b[1] > 0] for b in batches]), np.arange(10, 20))
    np.testing.assert_array_equal(batches[-1][1], [1, 1, 0, 0])


def test_class_weights_balance_the_classes_of_the_training_rows():
    y = np.array([0, 0, 0, 1, -1, 2, 2, 2, 2])
    w = train_data.class_weight_vector(y, np.array([0, 1, 2, 3]), num_classes=3)
    np.testing.assert_allclose(w, [4 / (3 * 3), 4 / (3 * 1), 1.0])  # class 2 is not in the training rows
