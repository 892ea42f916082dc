"""The feature recipe registry: recipes found by name, unknown names refused in one line, a new one plugged in,
each recipe's own FeatureConfig fields checked by the recipe and refused for the others."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import soundfile as sf

from ser_jax import features
from ser_jax.features.recipes import _handcrafted, fast

BUILT_IN = ("fast", "seed", "whisper")
INTERFACE = ("ENCODER", "FIXED", "STORAGE_DTYPE", "group_sizes", "min_samples", "num_frames", "prepare")


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_recipe_is_found_by_its_file_name_and_has_the_interface(name):
    module = features.get_recipe(name)
    assert module.__name__ == f"ser_jax.features.recipes.{name}"
    assert all(hasattr(module, attr) for attr in INTERFACE)
    assert features.needs_finish(features.FeatureConfig(recipe=name)) == module.ENCODER  # only encoders batch


def test_the_registry_lists_the_recipe_modules_and_not_their_helpers():
    assert set(BUILT_IN) <= set(features.RECIPES)
    assert not any(name.startswith("_") for name in features.RECIPES)  # _handcrafted, _opensmile: shared code


def test_an_unknown_recipe_is_a_one_line_error_listing_the_known_ones():
    with pytest.raises(ValueError) as err:
        features.get_recipe("turbo")
    message = str(err.value)
    assert "\n" not in message and message.startswith("--recipe=turbo: unknown feature recipe")
    assert all(name in message for name in BUILT_IN)
    with pytest.raises(ValueError, match=r"FeatureConfig\.recipe must be 'fast' or 'seed' or 'whisper'"):
        features.FeatureConfig(recipe="turbo")


def _toy_recipe() -> types.ModuleType:
    """A recipe outside the package, as a test or a user would write one: each frame's mean and its energy."""
    toy = types.ModuleType("toy_recipe")
    toy.ENCODER, toy.FIXED, toy.STORAGE_DTYPE = False, {"n_fft": 512}, np.float32
    toy.group_sizes = lambda cfg: {"mfcc": 1, "rms": 1}  # reuses two of the handcrafted group names
    toy.min_samples = _handcrafted.min_samples
    toy.num_frames = _handcrafted.num_frames

    def prepare(y: np.ndarray, cfg: features.FeatureConfig) -> np.ndarray:
        y = features.fit_length(np.asarray(y, np.float32), cfg)
        frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, cfg.n_fft // 2), cfg.n_fft)[:: cfg.hop_length]
        rows = {"mfcc": frames.mean(axis=1), "rms": np.sqrt((frames**2).mean(axis=1))}
        return np.stack([rows[g] for g in cfg.groups], axis=1).astype(np.float32)

    toy.prepare = prepare
    return toy


def test_a_recipe_outside_the_package_is_found_by_its_import_path_validated_and_used(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "toy_lab.toy_recipe", _toy_recipe())  # as if my_lab/toy_recipe.py were on the path
    toy = "toy_lab.toy_recipe"
    cfg = features.FeatureConfig(recipe=toy, sample_rate=16000, duration=1.0, hop_length=256, groups=("rms", "mfcc"))
    assert cfg.n_fft == 512 and cfg.groups == ("mfcc", "rms")  # its FIXED fields, its row order
    assert not cfg.uses_encoder and "encoder" not in cfg.to_dict() and cfg.key() != features.FeatureConfig().key()
    with pytest.raises(ValueError, match=r"FeatureConfig\.groups must be .* drawn from \('mfcc', 'rms'\)"):
        features.FeatureConfig(recipe=toy, groups=("chroma",))
    assert features.feature_layout(cfg) == (("mfcc", 0, 1), ("rms", 1, 2))
    path = tmp_path / "tone.wav"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000), 16000)
    x = features.compute(path, cfg)
    assert x.shape == (features.num_frames(16000, cfg), features.num_features(cfg)) == (63, 2)
    assert x.dtype == features.storage_dtype(cfg) and not features.needs_finish(cfg)
    np.testing.assert_allclose(x[10:50, 1], 0.5 / np.sqrt(2), rtol=0.02)  # the tone's RMS


def test_a_recipes_own_fields_are_checked_by_the_recipe_and_refused_for_the_others():
    owners = features.recipes.owners()
    assert owners["fast_hpss"] == ("fast",) and fast.FIELDS == ("fast_hpss",)
    assert owners["encoder_pool"] == owners["encoder"] == ("whisper", "whisper_egemaps")
    assert "sample_rate" not in owners and "speed" not in owners  # shared and perturbation fields: the config's
    with pytest.raises(ValueError, match=r"^FeatureConfig\.fast_hpss must be True or False, got 1$"):
        features.FeatureConfig(recipe="fast", fast_hpss=1)  # the owner's check
    for kwargs, owner in ((dict(fast_hpss=True), "'fast'"), (dict(encoder="tiny.bin"), "'whisper' or 'whisper_egemaps'"),
                          (dict(recipe="whisper", fast_hpss=True), "'fast'")):
        with pytest.raises(ValueError) as err:
            features.FeatureConfig(**kwargs)
        field = next(k for k in kwargs if k != "recipe")
        assert str(err.value).startswith(f"FeatureConfig.{field} must be ") and f"unless the recipe is {owner}," in str(
            err.value) and "\n" not in str(err.value)
    seed = features.FeatureConfig(fast_hpss=0, encoder_stride=1)  # the default by value: kept as the default
    assert seed.fast_hpss is False and seed == features.FeatureConfig()


def test_a_plugged_in_recipe_may_own_a_field_too(monkeypatch):
    toy = _toy_recipe()
    toy.FIELDS = ("fast_hpss",)
    toy.check = lambda cfg: {"fast_hpss": bool(cfg.fast_hpss)}
    monkeypatch.setitem(sys.modules, "toy_lab.toy_recipe", toy)
    assert features.FeatureConfig(recipe="toy_lab.toy_recipe", fast_hpss=np.True_).fast_hpss is True
    with pytest.raises(ValueError, match=r"fast_hpss must be False unless the recipe is 'fast'"):
        features.FeatureConfig(fast_hpss=True)
