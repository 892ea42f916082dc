"""The SUPERB head (ser_jax.models.superb) over an encoder's hidden states."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ser_jax import models
from ser_jax.models import superb

from .helpers import _init


def test_the_superb_mean_head_gives_the_same_output_on_pooled_and_frame_features():
    # Why --encoder_pool=mean may replace frames: softmax layer weights are linear, so the mean of the
    # weighted frames is the weighted mean of each state's pooled frame.
    import jax

    from ser_jax.models import superb

    model = superb.Model(superb.Config(num_classes=4, state_width=6, hidden=(5,)))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 11, 18)).astype(np.float32)
    lengths = np.array([11, 4, 7], np.int32)
    variables = model.init(jax.random.PRNGKey(0), x, lengths, train=False)
    variables = jax.tree_util.tree_map(lambda a: a + 0.1 * rng.standard_normal(a.shape).astype(a.dtype), variables)
    pooled = np.stack([x[i, :n].mean(0) for i, n in enumerate(lengths)])[:, None]
    np.testing.assert_allclose(model.apply(variables, pooled, np.ones(3, np.int32), train=False),
                               model.apply(variables, x, lengths, train=False), rtol=1e-5, atol=1e-5)


def test_the_superb_concat_head_without_hidden_layers_is_a_linear_probe_of_every_state_side_by_side():
    import jax

    from ser_jax.models import superb

    model = superb.Model(superb.Config(num_classes=3, state_width=4, hidden=(), mix="concat"))
    x = np.random.default_rng(1).standard_normal((2, 5, 12)).astype(np.float32)
    lengths = np.array([5, 2], np.int32)
    params = model.init(jax.random.PRNGKey(0), x, lengths, train=False)["params"]
    assert set(params) == {"logits"} and params["logits"]["kernel"].shape == (12, 3)  # no layer weights
    pooled = np.stack([x[i, :n].mean(0) for i, n in enumerate(lengths)])
    np.testing.assert_allclose(model.apply({"params": params}, x, lengths, train=False),
                               pooled @ params["logits"]["kernel"] + params["logits"]["bias"], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="superb.mix: 'sum' is not one of weighted, concat"):
        superb.Config(mix="sum")


def test_superb_utterance_norm_ignores_each_states_level_and_scale_in_a_clip():
    """--superb.utterance_norm: a clip's states shifted and scaled (another microphone level, another
    voice's overall energy) give the same logits; without it they do not; padding stays inert."""
    cfg = superb.Config(num_classes=3, state_width=4, hidden=(8,), utterance_norm=True)
    x = jax.random.normal(jax.random.key(0), (2, 5, 8))
    lengths = jnp.array([5, 3], jnp.int32)
    variables = _init("superb", cfg, x, lengths)
    model = models.build("superb", cfg)
    moved = x.reshape(2, 5, 2, 4) * jnp.array([3.0, 0.5])[None, None, :, None] + 2.0
    moved = moved.reshape(x.shape)
    a = model.apply(variables, x, lengths, train=False)
    np.testing.assert_allclose(model.apply(variables, moved, lengths, train=False), a, atol=1e-4)
    plain = models.build("superb", dataclasses.replace(cfg, utterance_norm=False))
    assert not np.allclose(plain.apply(variables, moved, lengths, train=False), plain.apply(variables, x, lengths,
                                                                                              train=False), atol=1e-2)
    padded = x.at[1, 3:].set(100.0)  # frames past the clip's length
    np.testing.assert_allclose(model.apply(variables, padded, lengths, train=False), a, atol=1e-5)
