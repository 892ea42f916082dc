"""FeatureConfig (ser_jax.features.config): validation naming the field, JSON round trips, and cache keys
that change with every field and with library versions (the shipped presets' keys: test_config_keys.py).
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from ser_jax import features as F
from ser_jax.features import config as feature_config

from .helpers import SEED


@pytest.mark.parametrize(
    "field,value",
    [
        ("recipe", "turbo"), ("sample_rate", 8000), ("sample_rate", 22050.0), ("duration", 0.0),
        ("duration", -1.0), ("duration", float("nan")), ("duration", "3"), ("n_fft", 2047),
        ("n_fft", 128), ("hop_length", 0), ("hop_length", 4096), ("n_mfcc", 0), ("n_mfcc", 129),
        ("n_mels", 0), ("mel_db", 1), ("groups", ()), ("groups", ("mfcc", "pitch")),
        ("groups", ("mfcc", "mfcc")), ("groups", "mfcc"), ("fast_hpss", True),  # with recipe seed
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"FeatureConfig\.{field} must be"):
        F.FeatureConfig(**{field: value})


def test_config_round_trips_through_json():
    cfg = F.FeatureConfig(recipe="fast", duration=None, n_mels=64, mel_db=True, fast_hpss=True,
                          groups=["tonnetz", "mfcc"])
    again = F.FeatureConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.groups == ("mfcc", "tonnetz")
    assert F.FeatureConfig(duration=3) == SEED  # an int duration means the same seconds
    with pytest.raises(ValueError, match="no field"):
        F.FeatureConfig.from_dict({"recipie": "fast"})


def test_key_is_stable_and_short():
    assert SEED.key() == F.FeatureConfig().key() == F.FeatureConfig.from_dict(SEED.to_dict()).key()
    assert F.FeatureConfig(groups=("rms", "mfcc")).key() == F.FeatureConfig(groups=("mfcc", "rms")).key()
    assert len(SEED.key()) == 12 and int(SEED.key(), 16) >= 0


CHANGED = {
    "recipe": "seed", "sample_rate": 16000, "duration": None, "n_fft": 1024, "hop_length": 256,
    "n_mfcc": 20, "n_mels": 64, "mel_db": True, "groups": ("mfcc",), "fast_hpss": True,
    "speed": 1.1, "noise_snr": (10.0, 20.0), "vtlp": 0.9,
}


# The encoder's fields change the key of encoder recipes only: tests/features/recipes/test_whisper.py checks them
# (test_cache_keys_change_with_the_weights_and_the_layers_but_not_for_other_recipes and
# test_pooled_caches_have_one_frame_a_key_of_their_own_and_only_a_mean_head).
ENCODER_FIELDS = {"encoder", "encoder_sha256", "encoder_pool", "encoder_stride"}


def test_key_changes_with_every_field():
    fields = {f.name for f in dataclasses.fields(F.FeatureConfig)}
    assert set(CHANGED) | ENCODER_FIELDS == fields  # new field? add it
    base = F.FeatureConfig(recipe="fast")
    keys = {base.key()}
    for field, value in CHANGED.items():
        keys.add(dataclasses.replace(base, **{field: value}).key())
    assert len(keys) == len(CHANGED) + 1


def test_key_changes_with_library_versions(monkeypatch):
    before, versions = SEED.key(), F.library_versions()
    monkeypatch.setattr(feature_config, "library_versions", lambda: {**versions, "librosa": "9.9"})
    assert SEED.key() != before
