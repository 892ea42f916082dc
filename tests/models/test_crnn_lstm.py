"""crnn's BiLSTM (ser_jax.models.crnn): Keras-style dropout masks, one per sequence reused at every
step; the plain bidirectional LSTM in evaluation; the hand-written gradient; stacking, unrolling and
Keras initialisers.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ser_jax.models import crnn as model_lib
from ser_jax.models.crnn import BiLSTM

from .helpers import TINY, apply, batch, init


def numpy_bilstm(x, lengths, params, in_mask, rec_mask):
    """Reference BiLSTM (Keras gate order i, f, c, o) applying ONE mask per sequence at every step."""

    def sig(z):
        return 1.0 / (1.0 + np.exp(-z))

    W, U, b = (np.asarray(params[k], np.float64) for k in ("kernel", "recurrent_kernel", "bias"))
    units = U.shape[1]
    out = np.zeros(x.shape[:2] + (2 * units,))
    for d in range(2):
        for i, n in enumerate(lengths):
            seq = x[i, :n] if d == 0 else x[i, :n][::-1]
            h = np.zeros(units)
            c = np.zeros(units)
            hs = []
            for frame in seq:
                z = (frame * in_mask[d, i]) @ W[d] + (h * rec_mask[d, i]) @ U[d] + b[d]
                gi, gf, gc, go = np.split(z, 4)
                c = sig(gf) * c + sig(gi) * np.tanh(gc)
                h = sig(go) * np.tanh(c)
                hs.append(h)
            hs = np.array(hs)
            out[i, :n, d * units:(d + 1) * units] = hs if d == 0 else hs[::-1]
    return out


def run_bilstm(x, lengths, *, train, seed=3, dropout=0.4, recurrent_dropout=0.5):
    layer = BiLSTM(4, dropout=dropout, recurrent_dropout=recurrent_dropout)
    lengths = jnp.array(lengths, jnp.int32)
    variables = layer.init(jax.random.key(0), x, lengths, train=False)
    out, state = layer.apply(
        variables, x, lengths, train=train, rngs={"dropout": jax.random.key(seed)}, mutable=["intermediates"]
    )
    return np.asarray(out), variables["params"], state.get("intermediates", {})


def test_lstm_dropout_masks_are_one_per_sequence_reused_at_every_time_step():
    lengths = [9, 5, 1]
    x = batch(lengths, 9, features=3, seed=7)
    out, params, masks = run_bilstm(x, lengths, train=True)
    (in_mask,), (rec_mask,) = masks["input_mask"], masks["recurrent_mask"]
    # One mask per direction and sequence, no time axis, Keras-scaled values.
    assert in_mask.shape == (2, 3, 3) and rec_mask.shape == (2, 3, 4)
    assert np.all(np.isclose(rec_mask, 0.0) | np.isclose(rec_mask, 1 / 0.5))
    assert np.all(np.isclose(in_mask, 0.0) | np.isclose(in_mask, 1 / 0.6))
    assert 0 < np.count_nonzero(rec_mask) < rec_mask.size
    # The layer's output is reproduced only by applying that same mask at every step.
    expected = numpy_bilstm(x, lengths, params, np.asarray(in_mask), np.asarray(rec_mask))
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    # ...and with different (per-step) masks the output would be different.
    flipped = np.asarray(rec_mask).copy()
    flipped[:, 0] = 2.0 - flipped[:, 0]
    assert not np.allclose(out, numpy_bilstm(x, lengths, params, np.asarray(in_mask), flipped), atol=1e-4)


def test_lstm_without_dropout_in_evaluation_is_the_plain_bidirectional_lstm():
    lengths = [9, 5, 1]
    x = batch(lengths, 9, features=3, seed=8)
    out, params, masks = run_bilstm(x, lengths, train=False)
    assert masks == {}
    ones_in, ones_rec = np.ones((2, 3, 3)), np.ones((2, 3, 4))
    np.testing.assert_allclose(out, numpy_bilstm(x, lengths, params, ones_in, ones_rec), rtol=1e-4, atol=1e-5)
    # Padded steps output exactly zero.
    assert np.all(out[1, 5:] == 0.0) and np.all(out[2, 1:] == 0.0)


@pytest.mark.parametrize("with_mask", [False, True])
def test_hand_written_lstm_gradient_equals_autodiff(with_mask):
    keys = jax.random.split(jax.random.key(0), 4)
    proj = jax.random.normal(keys[0], (2, 3, 6, 4 * 5))  # (directions, B, T, 4H)
    recurrent = 0.5 * jax.random.normal(keys[1], (2, 5, 4 * 5))
    mask = (jax.random.uniform(keys[2], (2, 3, 5)) > 0.3) / 0.7 if with_mask else None
    weights = jax.random.normal(keys[3], (2, 3, 6, 5))

    def loss(scan):
        return lambda p, r: jnp.sum(jnp.sin(scan(p, r, mask, 1)) * weights)

    hand = jax.grad(loss(model_lib._lstm_scan), argnums=(0, 1))(proj, recurrent)
    auto = jax.grad(loss(lambda *a: model_lib._lstm_forward(*a)[0]), argnums=(0, 1))(proj, recurrent)
    for a, b in zip(hand, auto):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_unroll_changes_speed_not_results():
    variables = init(TINY)
    lengths = [12, 5]
    x = batch(lengths, 12)
    unrolled = dataclasses.replace(TINY, unroll=3)
    np.testing.assert_allclose(apply(unrolled, variables, x, lengths), apply(TINY, variables, x, lengths), rtol=1e-5)
    a, _ = apply(TINY, variables, x, lengths, train=True)
    b, _ = apply(unrolled, variables, x, lengths, train=True)
    np.testing.assert_allclose(b, a, rtol=1e-5)


def test_stacked_bilstm_feeds_both_directions_to_the_next_layer():
    variables = init(dataclasses.replace(TINY, lstm_layers=2))
    assert variables["params"]["bilstm_1"]["kernel"].shape == (2, 2 * TINY.lstm_units, 4 * TINY.lstm_units)


def test_keras_initialisers_forget_bias_orthogonal_recurrent_kernel():
    params = init(TINY)["params"]["bilstm_0"]
    units = TINY.lstm_units
    expected_bias = np.concatenate([np.zeros(units), np.ones(units), np.zeros(2 * units)])
    np.testing.assert_array_equal(params["bias"], np.stack([expected_bias, expected_bias]))
    for recurrent in np.asarray(params["recurrent_kernel"]):  # (H, 4H): orthonormal rows
        np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(units), atol=1e-5)
    flax_params = init(dataclasses.replace(TINY, keras_init=False))["params"]["bilstm_0"]
    assert np.all(np.asarray(flax_params["bias"]) == 0.0)
