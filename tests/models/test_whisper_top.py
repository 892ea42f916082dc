"""Fine-tuning an encoder's top blocks (``--model=whisper_top``) over cached states of the block below:
the blocks start as the encoder itself, learn slower than the head, and only fit the features they
were made for."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ser_jax import config as config_lib
from ser_jax import encoders, features, models, optim
from ser_jax.encoders import _whisper as whisper
from ser_jax.models import whisper_top
from ser_jax.testing.encoders import write_tiny_whisper
from ser_jax.train import loop as train_lib

TINY = dict(layers=2, width=16, heads=2, ffn=32)


@pytest.fixture(scope="module")
def tiny_bin(tmp_path_factory):
    return write_tiny_whisper(tmp_path_factory.mktemp("encoder") / "model.bin", **TINY)


def _states(tiny_bin, lengths=(60, 42, 18)):
    """Every hidden state (float32) of a few random log-mels of different lengths."""
    sha = encoders.describe(str(tiny_bin)).sha256
    params = whisper.params_of(encoders.load(str(tiny_bin), sha))
    rng = np.random.default_rng(0)
    mel = np.zeros((len(lengths), max(lengths), 80), np.float32)
    for i, n in enumerate(lengths):
        mel[i, :n] = rng.standard_normal((n, 80))
    hs = whisper.hidden_states(params, jnp.asarray(mel), jnp.asarray(lengths), TINY["heads"])
    return np.asarray(hs), np.asarray([(n + 1) // 2 for n in lengths]), sha


def test_the_top_block_starts_as_the_encoders_own_so_the_model_sees_its_last_state(tiny_bin):
    hs, n, sha = _states(tiny_bin)
    below, last = hs[1], hs[2]  # state h1 feeds the last block; h2 is the encoder's output
    valid = np.arange(below.shape[1])[None, :] < n[:, None]
    mean, std = below[valid].mean(0), below[valid].std(0)
    z = np.where(valid[..., None], (below - mean) / std, 0.0)  # what training feeds: standardised frames
    cfg = whisper_top.Config(num_classes=3, blocks=1, heads=TINY["heads"], ffn=TINY["ffn"])
    model = models.build("whisper_top", cfg)
    fresh = model.init(jax.random.key(0), jnp.asarray(z), jnp.asarray(n), train=False)
    variables = models.initialize("whisper_top", cfg, fresh, norm={"mean": mean, "std": std},
                                  encoder=str(tiny_bin), encoder_sha256=sha)
    _, inter = model.apply(variables, jnp.asarray(z), jnp.asarray(n), train=False, mutable=["intermediates"])
    got = np.asarray(inter["intermediates"]["last_state"][0])
    np.testing.assert_allclose(got[valid], last[valid], rtol=1e-4, atol=1e-4)
    # Not by accident: the random initialisation gives something else.
    _, inter = model.apply(fresh, jnp.asarray(z), jnp.asarray(n), train=False, mutable=["intermediates"])
    assert not np.allclose(np.asarray(inter["intermediates"]["last_state"][0])[valid], last[valid], atol=1e-2)


def test_a_training_starts_from_the_pretrained_blocks_and_they_learn_at_pretrained_lr(tiny_bin):
    sha = encoders.describe(str(tiny_bin)).sha256
    cfg = whisper_top.Config(num_classes=3, heads=TINY["heads"], ffn=TINY["ffn"], pretrained_lr=0.1)
    pretrained = lambda v: models.initialize("whisper_top", cfg, v, norm=None, encoder=str(tiny_bin),  # noqa: E731
                                             encoder_sha256=sha)
    state = train_lib.create_train_state(jax.random.key(0), cfg, optim.OptimConfig(l2=0.0), num_frames=10,
                                         num_features=16, total_steps=10, model_name="whisper_top",
                                         pretrained=pretrained)
    src = whisper.params_of(encoders.load(str(tiny_bin), sha))["blocks"][1]
    np.testing.assert_array_equal(state.params["pretrained_block_0"]["fc1_weight"], src["fc1"][0])
    # One Adam step on equal gradients: pretrained weights move a tenth as far as the head's.
    ones = jax.tree.map(jnp.ones_like, state.params)
    moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), state.apply_gradients(grads=ones).params,
                         state.params)
    assert moved["pretrained_block_0"]["fc1_weight"] == pytest.approx(0.1 * moved["head"]["logits"]["kernel"], rel=1e-3)
    assert moved["pretrained_input_scale"] == pytest.approx(0.1 * moved["head"]["logits"]["kernel"], rel=1e-3)


def _config(tiny_bin, tmp_path, **kwargs):
    feats = dict(recipe="whisper", encoder=str(tiny_bin), groups=("h1",))
    feats.update(kwargs.pop("features", {}))
    return config_lib.ExperimentConfig(
        data_dir=str(tmp_path), features=features.FeatureConfig(**feats), model="whisper_top",
        model_config=whisper_top.Config(heads=TINY["heads"], ffn=TINY["ffn"], **kwargs))


@pytest.mark.parametrize("change, message", [
    (dict(features=dict(groups=("h2",))), "use --feature_groups=h1"),
    (dict(blocks=2), "use --feature_groups=h0"),
    (dict(blocks=3), "has 2 blocks"),
    (dict(features=dict(encoder_pool="mean")), "--encoder_pool=frames"),
    (dict(features=dict(encoder_stride=2)), "--encoder_pool=frames and --encoder_stride=1"),
    (dict(features=dict(recipe="seed", groups=("mfcc",), encoder=encoders.DEFAULT)), "use --recipe=whisper"),
])
def test_features_that_do_not_fit_the_blocks_are_one_line_errors_naming_the_flag(tiny_bin, tmp_path, change,
                                                                                  message):
    with pytest.raises(ValueError, match=message) as e:
        _config(tiny_bin, tmp_path, **change)
    assert "\n" not in str(e.value)


def test_blocks_of_another_shape_than_the_encoders_are_refused_naming_the_setting(tiny_bin, tmp_path):
    cfg = dataclasses.replace(_config(tiny_bin, tmp_path).model_config, heads=4)
    with pytest.raises(ValueError, match="--whisper_top.heads=4: the encoder .* has 2; set --whisper_top.heads=2"):
        models.initialize("whisper_top", cfg, {"params": {}}, encoder=str(tiny_bin),
                          encoder_sha256=encoders.describe(str(tiny_bin)).sha256)


def test_states_standardised_per_feature_ignore_padding_in_training_too():
    # state_norm="batch" standardises each block output over the batch's valid frames while training.
    cfg = whisper_top.Config(num_classes=3, heads=2, ffn=8, hidden=(8,), state_norm="batch")
    model = models.build("whisper_top", cfg)
    rng = np.random.default_rng(0)
    x, lengths = jnp.asarray(rng.standard_normal((3, 20, 6)), jnp.float32), jnp.array([20, 13, 4])
    variables = model.init(jax.random.key(0), x, lengths, train=False)
    wide = jnp.concatenate([x, jnp.full((3, 9, 6), 7.0)], axis=1)
    run = lambda inp: model.apply(variables, inp, lengths, train=True, rngs={"dropout": jax.random.key(1)},  # noqa: E731
                                  mutable=["batch_stats"])
    (a, sa), (b, sb) = run(x), run(wide)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(sa["batch_stats"]["state_norm_1"]["mean"], sb["batch_stats"]["state_norm_1"]["mean"],
                               atol=1e-6)
    with pytest.raises(ValueError, match="state_norm: 'group' is not one of layer, batch"):
        whisper_top.Config(state_norm="group")
