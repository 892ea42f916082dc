"""The whisper_egemaps recipe (ser_jax.features.recipes.whisper_egemaps): a clip's eGeMAPS functionals beside
its pooled states.
"""

from __future__ import annotations

import numpy as np
import pytest
from encoders.helpers import _audio

from ser_jax import features


def test_the_whisper_egemaps_recipe_puts_the_clips_egemaps_functionals_beside_the_pooled_states(tiny_bin, tmp_path):
    import jax

    from ser_jax import config as config_lib
    from ser_jax.features.recipes import _opensmile
    from ser_jax.models import superb

    fused = features.FeatureConfig(recipe="whisper_egemaps", encoder=str(tiny_bin), duration=None,
                                   encoder_pool="meanstd")
    plain = features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin), duration=None, encoder_pool="meanstd")
    assert fused.groups == ("h0", "h1", "h2", "egemaps88") and features.num_features(fused) == 3 * 32 + 88
    assert fused.key() != plain.key() and features.num_frames(3 * 16000, fused) == 1
    with pytest.raises(ValueError, match="describes whole clips: give --encoder_pool=mean or meanstd"):
        features.FeatureConfig(recipe="whisper_egemaps", encoder=str(tiny_bin))
    clips = [_audio(1.5, 0), _audio(2.0, 1)]
    got = features.finish([features.prepare(y, fused) for y in clips], fused)
    states = features.finish([features.prepare(y, plain) for y in clips], plain)
    for y, g, s in zip(clips, got, states):
        np.testing.assert_array_equal(g[:, :96], s)  # the states exactly as the whisper recipe pools them
        np.testing.assert_allclose(g[0, 96:], _opensmile.functionals(y, 16000), rtol=1e-6)
    assert not np.allclose(got[0][0, 96:], got[1][0, 96:]) and np.all(np.isfinite(got[0]))
    with pytest.raises(ValueError, match=r"--superb.extra=0: the features hold 88 columns beside the hidden states"):
        config_lib.ExperimentConfig(data_dir=str(tmp_path), features=fused, model="superb",
                                    model_config=superb.Config(state_width=32, extra=0))
    config_lib.ExperimentConfig(data_dir=str(tmp_path), features=fused, model="superb",
                                model_config=superb.Config(state_width=32, extra=88))
    derived = config_lib.ExperimentConfig(data_dir=str(tmp_path), features=fused, model="superb").model_config
    assert (derived.state_width, derived.extra) == (32, 88)  # both follow from the cache's groups
    # The head reads the descriptors: changing only them changes the logits.
    model = superb.Model(superb.Config(state_width=32, extra=88, hidden=(8,)))
    x = jax.numpy.asarray(np.stack([g for g in got]))  # (2, 1, 184)
    lengths = jax.numpy.ones(2, jax.numpy.int32)
    variables = model.init(jax.random.PRNGKey(0), x, lengths, train=False)
    other = x.at[:, :, 96:].multiply(2.0)
    assert not np.allclose(model.apply(variables, x, lengths, train=False),
                           model.apply(variables, other, lengths, train=False))
