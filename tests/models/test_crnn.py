"""The crnn model (ser_jax.models.crnn): the original's parameter count, padding invariance, attention
and pooling, variants, and its config. Its BiLSTM: test_crnn_lstm.py.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ser_jax.models._layers import count_params
from ser_jax.models.crnn import Config as ModelConfig
from ser_jax.models.crnn import Model as SERModel

from .helpers import TINY, F, apply, batch, init, pad_to


def test_default_model_has_the_originals_228041_parameters():
    model = SERModel(ModelConfig())
    # Shapes only (jax.eval_shape): the count needs no computation.
    variables = jax.eval_shape(
        lambda: model.init(jax.random.key(0), jnp.zeros((1, 130, 187)), jnp.array([130]), train=False)
    )
    # Keras "Total params: 228,041" = 227,785 trainable + 256 non-trainable (BatchNorm moving mean
    # and variance, 128 each). Trainable: conv 5*187*128 + 128 = 119,808; BatchNorm scale+bias 256;
    # BiLSTM 2 directions * 4 gates * 64 * (128 + 64 + 1) = 98,816; attention 128 + 1 = 129;
    # dense 128*64 + 64 = 8,256; output 64*8 + 8 = 520.
    assert count_params(variables) == {"trainable": 227_785, "batch_stats": 256, "total": 228_041}
    sizes = {name: count_params({"params": p})["trainable"] for name, p in variables["params"].items()}
    assert sizes == {
        "conv_0": 119_808, "bn_0": 256, "bilstm_0": 98_816, "attention": 129, "dense_0": 8_256, "logits": 520,
    }


def test_logits_shape_in_training_and_evaluation():
    variables = init(TINY)
    x = batch([12, 9, 4], 12)
    assert apply(TINY, variables, x, [12, 9, 4]).shape == (3, 3)
    logits, updates = apply(TINY, variables, x, [12, 9, 4], train=True)
    assert logits.shape == (3, 3) and logits.dtype == jnp.float32
    assert set(updates) == {"batch_stats"}
    assert np.all(np.isfinite(logits))


def test_extra_padding_and_garbage_in_it_change_no_logits():
    lengths = [12, 7, 3, 1]  # odd lengths exercise the pooling's floor, 1 its max(1, .)
    variables = init(TINY)
    x = batch(lengths, 12)
    reference = apply(TINY, variables, x, lengths)
    wider = pad_to(x, 17)
    garbage = batch(lengths, 17, fill=lambda rng, shape: rng.normal(scale=1e4, size=shape))
    garbage[:, :12] = np.where(np.arange(12)[None, :, None] < np.array(lengths)[:, None, None], x, garbage[:, :12])
    garbage[2, 5] = np.nan  # even NaN padding is never read
    for other in (wider, garbage):
        np.testing.assert_allclose(apply(TINY, variables, other, lengths), reference, rtol=1e-5, atol=1e-6)


def test_padding_is_invisible_in_training_too_batchnorm_statistics_use_valid_frames_only():
    # Conv/dense dropout masks are per frame, so switch them off; the LSTM's per-sequence masks
    # do not depend on the padded width and stay on.
    cfg = dataclasses.replace(TINY, conv_dropout=0.0, dense_dropout=0.0)
    lengths = [12, 7, 3]
    variables = init(cfg)
    x = batch(lengths, 12)
    garbage = pad_to(x, 16, value=1e3)
    for i, n in enumerate(lengths):
        garbage[i, n:] = 1e3
    logits_a, upd_a = apply(cfg, variables, x, lengths, train=True)
    logits_b, upd_b = apply(cfg, variables, garbage, lengths, train=True)
    np.testing.assert_allclose(logits_b, logits_a, rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(upd_a), jax.tree_util.tree_leaves(upd_b)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_gradients_are_finite_with_garbage_padding():
    lengths = [12, 2]
    variables = init(TINY)
    x = batch(lengths, 12, fill=lambda rng, shape: np.full(shape, np.nan))

    def loss(params):
        logits, _ = SERModel(TINY).apply(
            {**variables, "params": params}, x, jnp.array(lengths), train=True,
            rngs={"dropout": jax.random.key(0)}, mutable=["batch_stats"],
        )
        return jnp.sum(logits**2)

    grads = jax.jit(jax.grad(loss))(variables["params"])
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))


def test_attention_gives_padding_exactly_zero_weight():
    variables = init(TINY)
    lengths = [12, 7, 3]
    _, state = SERModel(TINY).apply(
        variables, batch(lengths, 12), jnp.array(lengths), train=False, mutable=["intermediates"]
    )
    (weights,) = state["intermediates"]["attention_weights"]
    pooled = [6, 3, 1]  # max(1, length // 2)
    assert weights.shape == (3, 6)
    for row, n in zip(np.asarray(weights), pooled):
        assert np.all(row[n:] == 0.0) and np.all(row[:n] > 0.0)
        assert row.sum() == pytest.approx(1.0, abs=1e-6)


def test_one_compiled_function_serves_batches_of_any_lengths():
    variables = init(TINY)
    forward = jax.jit(lambda v, x, n: SERModel(TINY).apply(v, x, n, train=False))
    for lengths in ([12, 12, 12], [3, 9, 1], [5, 5, 11]):
        forward(variables, batch(lengths, 12), jnp.array(lengths, jnp.int32))
    assert forward._cache_size() == 1


def test_dropout_is_deterministic_for_a_fixed_rng_and_off_in_evaluation():
    variables = init(TINY)
    lengths = [12, 8]
    x = batch(lengths, 12)
    a, _ = apply(TINY, variables, x, lengths, train=True, seed=1)
    b, _ = apply(TINY, variables, x, lengths, train=True, seed=1)
    c, _ = apply(TINY, variables, x, lengths, train=True, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # Evaluation needs no rng and matches training with every dropout rate at 0 and frozen statistics.
    no_dropout = dataclasses.replace(
        TINY, conv_dropout=0.0, lstm_dropout=0.0, lstm_recurrent_dropout=0.0, dense_dropout=0.0
    )
    evaluated = apply(TINY, variables, x, lengths)
    np.testing.assert_array_equal(evaluated, apply(TINY, variables, x, lengths))
    np.testing.assert_allclose(evaluated, apply(no_dropout, variables, x, lengths), rtol=1e-6)


VARIANTS = {
    "no_cnn": dict(conv_filters=(), conv_kernels=()),
    "no_bilstm": dict(lstm_layers=0),
    "mean_pooling": dict(attention=False),
    "two_conv_blocks": dict(conv_filters=(6, 5), conv_kernels=(3, 5)),
    "stacked_bilstm": dict(lstm_layers=2),
    "no_hidden_dense": dict(dense_units=()),
    "no_pooling": dict(pool_size=1),
    "flax_init": dict(keras_init=False),
    "bare": dict(conv_filters=(), conv_kernels=(), lstm_layers=0, attention=False, dense_units=()),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_variant_builds_trains_and_evaluates(name):
    cfg = dataclasses.replace(TINY, **VARIANTS[name])
    variables = init(cfg)
    lengths = [12, 5]
    x = batch(lengths, 12)
    logits, _ = apply(cfg, variables, x, lengths, train=True)
    assert logits.shape == (2, 3) and np.all(np.isfinite(logits))
    assert np.all(np.isfinite(apply(cfg, variables, x, lengths)))
    modules = set(variables["params"])
    assert ("bn_0" in modules) == bool(cfg.conv_filters)
    assert {m for m in modules if m.startswith("conv_")} == {f"conv_{i}" for i in range(len(cfg.conv_filters))}
    assert {m for m in modules if m.startswith("bilstm_")} == {f"bilstm_{i}" for i in range(cfg.lstm_layers)}
    assert ("attention" in modules) == cfg.attention
    assert ("batch_stats" in variables) == bool(cfg.conv_filters)


def test_mean_pooling_averages_valid_frames_only():
    cfg = ModelConfig(num_classes=2, conv_filters=(), conv_kernels=(), lstm_layers=0, attention=False, dense_units=())
    variables = init(cfg)
    lengths = [6, 2]
    x = batch(lengths, 6, fill=lambda rng, shape: np.full(shape, 50.0))
    kernel, bias = (np.asarray(variables["params"]["logits"][k]) for k in ("kernel", "bias"))
    expected = np.stack([x[i, :n].mean(axis=0) for i, n in enumerate(lengths)]) @ kernel + bias
    np.testing.assert_allclose(apply(cfg, variables, x, lengths), expected, rtol=1e-5, atol=1e-6)


def test_attention_is_a_softmax_weighted_sum_of_tanh_scores():
    cfg = ModelConfig(num_classes=2, conv_filters=(), conv_kernels=(), lstm_layers=0, dense_units=())
    variables = init(cfg)
    lengths = [6, 3]
    x = batch(lengths, 6)
    p = {k: {n: np.asarray(a) for n, a in v.items()} for k, v in variables["params"].items()}
    expected = []
    for i, n in enumerate(lengths):
        scores = np.tanh(x[i, :n] @ p["attention"]["kernel"][:, 0] + p["attention"]["bias"][0])
        w = np.exp(scores) / np.exp(scores).sum()
        expected.append((w[:, None] * x[i, :n]).sum(axis=0) @ p["logits"]["kernel"] + p["logits"]["bias"])
    np.testing.assert_allclose(apply(cfg, variables, x, lengths), np.array(expected), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "field, value",
    [
        ("num_classes", 1),
        ("conv_kernels", (5, 3)),
        ("conv_filters", (0,)),
        ("conv_dropout", 1.0),
        ("lstm_recurrent_dropout", -0.1),
        ("pool_size", 0),
        ("lstm_units", 0),
        ("lstm_layers", -1),
        ("dense_units", (64, 0)),
        ("unroll", 0),
        ("attention", "yes"),
    ],
)
def test_invalid_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=rf"crnn\.{field}"):
        ModelConfig(**{field: value})


def test_config_accepts_lists_from_json_and_stores_tuples():
    cfg = ModelConfig(conv_filters=[32, 16], conv_kernels=[5, 3], dense_units=[])
    assert cfg.conv_filters == (32, 16) and cfg.dense_units == ()
    assert hash(cfg) == hash(ModelConfig(conv_filters=(32, 16), conv_kernels=(5, 3), dense_units=()))


def test_inputs_of_the_wrong_shape_are_refused():
    variables = init(TINY)
    with pytest.raises(ValueError, match="batch, frames, features"):
        SERModel(TINY).apply(variables, jnp.zeros((12, F)), jnp.array([12]), train=False)
    with pytest.raises(ValueError, match="pool_size"):
        SERModel(TINY).apply(variables, jnp.zeros((1, 1, F)), jnp.array([1]), train=False)
