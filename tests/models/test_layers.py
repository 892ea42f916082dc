"""The models' shared layers (ser_jax.models._layers): reversing each sequence within its length."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ser_jax.models._layers import reverse_valid


def test_reverse_valid_reverses_each_sequence_within_its_length_and_undoes_itself():
    x = jnp.arange(10.0).reshape(2, 5, 1)
    lengths = jnp.array([5, 3])
    r = reverse_valid(x, lengths)
    assert r[:, :, 0].tolist() == [[4, 3, 2, 1, 0], [7, 6, 5, 8, 9]]
    np.testing.assert_array_equal(reverse_valid(r, lengths), x)
    # Its hand-written gradient is the same reversal: check it against a plain gather.
    weights = jax.random.normal(jax.random.key(0), x.shape)
    ours = jax.grad(lambda v: jnp.sum(reverse_valid(v, lengths) * weights))(x)
    plain = jax.grad(lambda v: jnp.sum(v[:, jnp.array([4, 3, 2, 1, 0])] * weights))(x)
    np.testing.assert_array_equal(ours[0], plain[0])
