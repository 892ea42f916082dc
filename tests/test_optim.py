"""make_optimizer: Keras-equivalent coupled L2, AdamW decay, schedules, clipping, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ser_jax.models.crnn import Config as ModelConfig
from ser_jax.models.crnn import Model as SERModel
from ser_jax.optim import OptimConfig, l2_mask, learning_rate_at, make_optimizer


def toy_params():
    """A parameter tree named like SERModel's, small enough to optimise by hand."""
    rng = np.random.default_rng(0)
    shapes = {
        "conv_0": {"kernel": (3, 2, 4), "bias": (4,)},
        "bn_0": {"scale": (4,), "bias": (4,)},
        "bilstm_0": {"kernel": (2, 4, 8), "recurrent_kernel": (2, 2, 8), "bias": (2, 8)},
        "attention": {"kernel": (4, 1), "bias": (1,)},
        "dense_0": {"kernel": (4, 3), "bias": (3,)},
        "logits": {"kernel": (3, 2), "bias": (2,)},
    }
    return jax.tree_util.tree_map(
        lambda s: jnp.asarray(rng.normal(size=s), jnp.float32), shapes, is_leaf=lambda s: isinstance(s, tuple)
    )


def data_loss(params):
    """Any smooth loss touching every parameter."""
    return sum(jnp.sum(jnp.sin(3.0 * leaf) + 0.1 * leaf**3) for leaf in jax.tree_util.tree_leaves(params))


def run(optimizer, loss, params, steps=6):
    @jax.jit
    def step(params, state):
        updates, state = optimizer.update(jax.grad(loss)(params), state, params)
        return optax.apply_updates(params, updates), state

    state = optimizer.init(params)
    for _ in range(steps):
        params, state = step(params, state)
    return params


def assert_trees_close(a, b, **kw):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(x, y, **kw)


def test_coupled_l2_is_adam_on_the_loss_plus_keras_penalty():
    l2 = 0.05  # large, so that a wrong factor (l2 instead of 2*l2) would show
    cfg = OptimConfig(learning_rate=0.01, l2=l2)
    params = toy_params()
    mask = l2_mask(params)

    def penalised(p):
        penalty = sum(
            jnp.sum(w**2) for w, m in zip(jax.tree_util.tree_leaves(p), jax.tree_util.tree_leaves(mask)) if m
        )
        return data_loss(p) + l2 * penalty

    ours = run(make_optimizer(cfg), data_loss, params)
    keras_like = run(optax.adam(0.01, eps=cfg.adam_eps), penalised, params)
    assert_trees_close(ours, keras_like, rtol=1e-5, atol=1e-6)
    unpenalised = run(optax.adam(0.01, eps=cfg.adam_eps), data_loss, params)
    assert not np.allclose(ours["dense_0"]["kernel"], unpenalised["dense_0"]["kernel"], atol=1e-6)
    np.testing.assert_allclose(ours["logits"]["kernel"], unpenalised["logits"]["kernel"], rtol=1e-6)


def test_decoupled_decay_is_adamw_with_twice_l2_and_differs_from_coupled():
    params = toy_params()
    decoupled = run(make_optimizer(OptimConfig(learning_rate=0.01, l2=0.05, decay="decoupled")), data_loss, params)
    coupled = run(make_optimizer(OptimConfig(learning_rate=0.01, l2=0.05)), data_loss, params)
    adamw = optax.adamw(0.01, eps=1e-7, weight_decay=0.1, mask=l2_mask)
    assert_trees_close(decoupled, run(adamw, data_loss, params), rtol=1e-5, atol=1e-6)
    assert not np.allclose(decoupled["conv_0"]["kernel"], coupled["conv_0"]["kernel"], atol=1e-5)


def test_no_decay_is_plain_adam():
    params = toy_params()
    ours = run(make_optimizer(OptimConfig(learning_rate=0.01, decay="none")), data_loss, params)
    assert_trees_close(ours, run(optax.adam(0.01, eps=1e-7), data_loss, params), rtol=1e-6)


def test_l2_mask_selects_exactly_conv_and_hidden_dense_kernels_of_the_model():
    cfg = ModelConfig(num_classes=3, conv_filters=(4, 3), conv_kernels=(3, 3), lstm_units=2,
                      lstm_layers=2, dense_units=(5, 4))
    variables = jax.eval_shape(
        lambda: SERModel(cfg).init(jax.random.key(0), jnp.zeros((1, 8, 6)), jnp.array([8]), train=False)
    )
    flat = jax.tree_util.tree_flatten_with_path(l2_mask(variables["params"]))[0]
    selected = {"/".join(k.key for k in path) for path, chosen in flat if chosen}
    assert selected == {"conv_0/kernel", "conv_1/kernel", "dense_0/kernel", "dense_1/kernel"}
    assert len(flat) > 20  # biases, BatchNorm, both BiLSTMs, attention and logits are all there, unselected


def test_l2_mask_refuses_the_whole_variables_dict():
    with pytest.raises(ValueError, match="variables\\['params'\\]"):
        l2_mask({"params": toy_params()})


def test_clipping_bounds_the_global_gradient_norm_before_adam():
    # With a huge epsilon Adam's first step is ~ -lr * g / eps, so it shows the gradient it was given.
    cfg = dict(learning_rate=1.0, decay="none", adam_eps=1e3)
    g = {"w": jnp.array([30.0, 40.0])}  # norm 50
    params = {"w": jnp.zeros(2)}

    def first_update(opt, grads):
        updates, _ = opt.update(grads, opt.init(params), params)
        return np.asarray(updates["w"])

    clipped = first_update(make_optimizer(OptimConfig(clip_norm=5.0, **cfg)), g)
    np.testing.assert_allclose(clipped, first_update(make_optimizer(OptimConfig(**cfg)), {"w": g["w"] / 10}))
    small = {"w": jnp.array([0.3, 0.4])}  # already inside the bound: untouched
    np.testing.assert_allclose(
        first_update(make_optimizer(OptimConfig(clip_norm=5.0, **cfg)), small),
        first_update(make_optimizer(OptimConfig(**cfg)), small),
    )


def test_schedules():
    constant = OptimConfig(learning_rate=0.002)
    assert learning_rate_at(constant, 0, None) == pytest.approx(0.002)
    assert learning_rate_at(constant, 10_000, None) == pytest.approx(0.002)

    cosine = OptimConfig(learning_rate=0.002, schedule="cosine")
    assert [learning_rate_at(cosine, s, 100) for s in (0, 50, 100)] == pytest.approx([0.002, 0.001, 0.0], abs=1e-9)

    warm = OptimConfig(learning_rate=0.002, schedule="warmup_cosine", warmup_steps=10)
    values = [learning_rate_at(warm, s, 110) for s in (0, 5, 10, 60, 110)]
    assert values == pytest.approx([0.0, 0.001, 0.002, 0.001, 0.0], abs=1e-9)


def test_the_schedule_drives_the_update_size():
    params = {"w": jnp.zeros(3)}
    opt = make_optimizer(OptimConfig(learning_rate=0.1, schedule="cosine", decay="none"), total_steps=2)
    state = opt.init(params)
    sizes = []
    for _ in range(3):
        updates, state = opt.update({"w": jnp.ones(3)}, state, params)
        sizes.append(float(jnp.abs(updates["w"][0])))
    assert sizes == pytest.approx([0.1, 0.05, 0.0], abs=1e-6)


@pytest.mark.parametrize(
    "field, kwargs",
    [
        ("decay", dict(decay="l1")),
        ("schedule", dict(schedule="linear")),
        ("learning_rate", dict(learning_rate=0.0)),
        ("l2", dict(l2=-1e-3)),
        ("warmup_steps", dict(warmup_steps=5)),  # constant schedule has no warm-up
        ("warmup_steps", dict(schedule="warmup_cosine", warmup_steps=-1)),
        ("clip_norm", dict(clip_norm=0.0)),
        ("adam_eps", dict(adam_eps=0)),
    ],
)
def test_invalid_config_names_the_field(field, kwargs):
    with pytest.raises(ValueError, match=rf"OptimConfig\.{field}"):
        OptimConfig(**kwargs)


def test_decaying_schedules_need_a_sensible_total_steps():
    with pytest.raises(ValueError, match="total_steps"):
        make_optimizer(OptimConfig(schedule="cosine"))
    with pytest.raises(ValueError, match="warmup_steps"):
        make_optimizer(OptimConfig(schedule="warmup_cosine", warmup_steps=100), total_steps=100)
