"""The whisper recipe (ser_jax.features.recipes.whisper): groups, frames and rate from the encoder,
pooled and strided caches, and cache keys that name the weights (checked by hash) and the layers.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ser_jax import encoders, features
from ser_jax.testing.encoders import write_tiny_whisper


def test_pooled_caches_have_one_frame_a_key_of_their_own_and_only_a_mean_head(tiny_bin, tmp_path):
    from ser_jax import config as config_lib
    from ser_jax.models import superb

    frames = features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin), duration=None)
    pooled = features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin), duration=None, encoder_pool="mean")
    assert features.num_frames(3 * 16000, pooled) == 1 and features.num_frames(3 * 16000, frames) == 150
    assert pooled.key() != frames.key() and "encoder_pool" not in frames.to_dict()  # frame caches keep their keys
    assert features.FeatureConfig.from_dict(pooled.to_dict()) == pooled
    with pytest.raises(ValueError, match="encoder_pool must be 'frames' unless the recipe is 'whisper'"):
        features.FeatureConfig(encoder_pool="mean")
    strided = dataclasses.replace(frames, encoder_stride=4)
    assert features.num_frames(3 * 16000, strided) == 38 and strided.key() != frames.key()
    with pytest.raises(ValueError, match="encoder_stride must be 1 unless an encoder recipe keeps frames"):
        dataclasses.replace(pooled, encoder_stride=4)
    for model, model_cfg in (("crnn", None), ("superb", superb.Config(pooling="attention", state_width=16)),
                             ("superb", superb.Config(blocks=1, state_width=16))):
        with pytest.raises(ValueError, match="--encoder_pool=mean keeps one pooled frame per clip"):
            config_lib.ExperimentConfig(data_dir=str(tmp_path), features=pooled, model=model, model_config=model_cfg)
    stats = dataclasses.replace(pooled, encoder_pool="meanstd")
    assert features.group_sizes(stats)["h1"] == 32 and stats.key() not in (pooled.key(), frames.key())
    with pytest.raises(ValueError, match="each hidden state .* is 32 wide; set --superb.state_width=32"):
        config_lib.ExperimentConfig(data_dir=str(tmp_path), features=stats, model="superb",
                                   model_config=superb.Config(state_width=16))
    config_lib.ExperimentConfig(data_dir=str(tmp_path), features=stats, model="superb",
                               model_config=superb.Config(state_width=16, mix="concat"))  # concat reads any width
    # Not typed, the head's width follows from the cache: mean + std of each 16-wide state is 32 wide.
    for pool, want in (("mean", 16), ("meanstd", 32)):
        feats = dataclasses.replace(pooled, encoder_pool=pool)
        cfg = config_lib.ExperimentConfig(data_dir=str(tmp_path), features=feats, model="superb")
        assert (cfg.model_config.state_width, cfg.model_config.extra) == (want, 0)
        concat = config_lib.ExperimentConfig(data_dir=str(tmp_path), features=feats, model="superb",
                                             model_config={"mix": "concat"}).model_config
        assert concat.state_width == 16  # concat: the encoder's width (it only groups columns for utterance_norm)
    handcrafted = config_lib.ExperimentConfig(data_dir=str(tmp_path), features=features.FeatureConfig(recipe="fast"),
                                              model="superb").model_config
    assert handcrafted.state_width == features.num_features(features.FeatureConfig(recipe="fast"))  # one state


def test_the_recipe_takes_its_groups_frames_and_rate_from_the_encoder(tiny_bin):
    cfg = features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin), duration=None, sample_rate=22050)
    assert cfg.groups == ("h0", "h1", "h2") and cfg.sample_rate == 16000
    assert cfg.encoder_sha256 == encoders.describe(str(tiny_bin)).sha256
    assert features.num_features(cfg) == 48 and features.num_frames(3 * 16000, cfg) == 150
    assert features.storage_dtype(cfg) == np.float16
    with pytest.raises(ValueError, match=r"groups must be .* drawn from \('h0', 'h1', 'h2'\)"):
        features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin), groups=("mfcc",))


def test_cache_keys_change_with_the_weights_and_the_layers_but_not_for_other_recipes(tiny_bin, tmp_path):
    other = write_tiny_whisper(tmp_path / "other.bin", seed=1)
    base = features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin))
    keys = {base.key(), features.FeatureConfig(recipe="whisper", encoder=str(other)).key(),
            features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin), groups=("h2",)).key()}
    assert len(keys) == 3
    assert "encoder" not in features.FeatureConfig().to_dict()  # seed and fast keys are what they were
    assert features.FeatureConfig.from_dict(base.to_dict()) == base


def test_a_frame_cache_holds_only_the_states_a_job_names_a_pooled_one_every_state(tiny_bin):
    # Frames of every state are ~7x the disk and memory of one (3.6 GB for ravdess-dev with Whisper base).
    assert features.cache_groups(("h1",), "whisper", str(tiny_bin), "frames") == ("h1",)
    assert features.cache_groups((), "whisper", str(tiny_bin), "frames") == ("h0", "h1", "h2")
    assert features.cache_groups(("h1",), "whisper", str(tiny_bin), "mean") == ("h0", "h1", "h2")


def test_weights_that_differ_from_the_recorded_hash_are_refused_naming_the_file(tiny_bin, tmp_path):
    cfg = features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin))
    moved = tmp_path / "model.bin"
    write_tiny_whisper(moved, seed=3)
    with pytest.raises(ValueError, match="not the recorded"):
        features.FeatureConfig.from_dict(dict(cfg.to_dict(), encoder=str(moved)))
    with pytest.raises(encoders.EncoderError, match=f"{moved}: SHA-256 .* differs from the recorded"):
        encoders.load(str(moved), cfg.encoder_sha256)
