"""The one input path: predict prepares a file exactly as training prepared its cached row.

A run's ``test_predictions`` (its evaluation of the cached rows) and ``predict`` on the same audio
files (computed anew, by the Preprocessor stored in the checkpoint) must give the same class
probabilities, for every recipe, normalisation and clip-length policy.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from ser_jax import features, optim, predict, preprocess, splits, synth
from ser_jax import config as config_lib
from ser_jax.models import crnn, superb
from ser_jax.testing.encoders import write_tiny_whisper
from ser_jax.train import loop as train_lib

pytestmark = pytest.mark.xdist_group("preprocess_runs")

HANDCRAFTED = dict(sample_rate=16000, n_fft=512, hop_length=256, n_mfcc=13, n_mels=16)
CRNN = crnn.Config(conv_filters=(8,), conv_kernels=(3,), lstm_units=8, dense_units=(8,), conv_dropout=0.0,
                   lstm_dropout=0.0, lstm_recurrent_dropout=0.0, dense_dropout=0.0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """3 actors' speech, one statement: 30 clips each, longer than the 1 s crop."""
    root = tmp_path_factory.mktemp("corpus")
    synth.synthesize(root, actors=3, seed=1, sample_rate=16000, channels=("speech",), statements=(1,), workers=2)
    return root


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return write_tiny_whisper(tmp_path_factory.mktemp("encoder") / "model.bin")


def _case(name: str, encoder) -> tuple[features.FeatureConfig, str, object, tuple[str, ...]]:
    """(feature config, model, model config, groups) of a case."""
    if name == "seed":
        return features.FeatureConfig(recipe="seed", duration=1.0, **HANDCRAFTED), "crnn", CRNN, ()
    if name == "fast":
        return features.FeatureConfig(recipe="fast", duration=1.0, **HANDCRAFTED), "crnn", CRNN, ("mfcc", "rms")
    if name == "fast_full":
        return features.FeatureConfig(recipe="fast", duration=None, **HANDCRAFTED), "crnn", CRNN, ()
    if name == "whisper":  # float16 storage: predict must round as the cache does
        return (features.FeatureConfig(recipe="whisper", encoder=str(encoder), encoder_pool="meanstd", duration=1.0),
                "superb", superb.Config(state_width=32, hidden=(8,)), ("h1", "h2"))
    raise KeyError(name)


NORMS = {"global": {}, "none": {"standardize": False},
         "speaker": {"speaker_norm": True, "speaker_min_clips": 0},
         "speaker_fallback": {"speaker_norm": True, "speaker_min_clips": 40},  # 30 clips each: the corpus's
         "speaker_shrunk": {"speaker_norm": True, "speaker_min_clips": 0, "speaker_prior": 4.0}}


@pytest.mark.slow
@pytest.mark.parametrize("recipe,norm", [
    ("fast", "global"), ("fast", "none"), ("fast", "speaker"), ("fast", "speaker_fallback"),
    ("fast", "speaker_shrunk"), ("fast_full", "global"), ("fast_full", "speaker"),
    ("seed", "global"), ("seed", "speaker"), ("whisper", "global"), ("whisper", "speaker"),
])
def test_predict_on_a_runs_files_gives_its_test_predictions(corpus, encoder, tmp_path, recipe, norm):
    feats, model, model_config, groups = _case(recipe, encoder)
    cfg = config_lib.ExperimentConfig(
        data_dir=str(corpus), cache_dir=str(tmp_path / "cache"), features=feats, feature_groups=groups,
        split=splits.SplitConfig(protocol="holdout"), model=model, model_config=model_config,
        optim=optim.OptimConfig(learning_rate=1e-2),
        train=config_lib.TrainConfig(epochs=3, patience=0, batch_size=8, **NORMS[norm]), workers=2)
    metrics = train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=False).metrics
    test = metrics["test_predictions"]
    # Per speaker, a clip's statistics come from all of its speaker's clips in the split (train, val and
    # test): predict is given those files too, one speaker per folder (the synthetic actors' folders).
    used = sorted({*test["paths"], *metrics["val_predictions"]["paths"]} | _train_paths(cfg, metrics))
    predictor = predict.load_predictor(tmp_path / "run", speaker_groups="folder")
    got = {os.path.relpath(p.path, corpus): p for p in predictor.predict_files(
        [os.path.join(corpus, p) for p in (used if norm.startswith("speaker") else test["paths"])])}
    probs = np.asarray([[got[p].probabilities[n] for n in metrics["label_names"]] for p in test["paths"]])
    assert np.abs(probs - np.asarray(test["probabilities"])).max() < 1e-5
    assert [got[p].emotion for p in test["paths"]] == [metrics["label_names"][i] for i in test["y_pred"]]
    if feats.duration is not None:  # the synthetic clips are longer than the crop: each says so
        assert all("the model saw its first 1 s" in got[p].note for p in test["paths"])


def _train_paths(cfg, metrics) -> set[str]:
    from ser_jax.train import data as train_data

    fs = train_data.load_features(cfg, progress=False)
    split = splits.make_splits(cfg.split, fs.meta)[0]
    return {fs.paths[i] for i in split.train}


def test_a_preprocessor_round_trips_through_its_dict():
    pre = preprocess.Preprocessor(features.FeatureConfig(**HANDCRAFTED), ("mfcc", "rms"), "speaker", 2.0, 10, 63)
    assert preprocess.Preprocessor.from_dict(pre.to_dict()) == pre
    assert pre.to_dict()["long_clips"] == preprocess.LONG_CLIPS == "crop"


def test_groups_are_kept_in_layout_order_and_select_their_columns():
    cfg = features.FeatureConfig(**HANDCRAFTED)
    pre = preprocess.Preprocessor(cfg, ("rms", "mfcc"))
    assert pre.groups == ("mfcc", "rms")
    layout = dict((n, (a, b)) for n, a, b in features.feature_layout(cfg))
    assert pre.columns.tolist() == [*range(*layout["mfcc"]), *range(*layout["rms"])]
    assert preprocess.Preprocessor(cfg).groups == cfg.groups  # () = every group the config computes


@pytest.mark.parametrize("change,message", [
    ({"groups": ("egemaps",)}, "does not compute"),
    ({"normalization": "median"}, "unknown normalization"),
    ({"speaker_min_clips": 5}, "speaker normalisation only"),
])
def test_inconsistent_settings_are_refused_in_one_line(change, message):
    base = dict(feature_config=features.FeatureConfig(**HANDCRAFTED), normalization="global")
    with pytest.raises(ValueError, match=message):
        preprocess.Preprocessor(**{**base, **change})


def test_as_cached_rounds_to_the_caches_storage_type():
    cfg = dataclasses.replace(features.FeatureConfig(**HANDCRAFTED))
    pre = preprocess.Preprocessor(cfg)
    x = np.random.default_rng(0).standard_normal((5, features.num_features(cfg))).astype(np.float64)
    assert pre.as_cached(x).dtype == np.float32
    np.testing.assert_array_equal(pre.as_cached(x), x.astype(np.float32))


def test_padding_widths_follow_the_training_width_then_buckets():
    pre = preprocess.Preprocessor(features.FeatureConfig(**HANDCRAFTED), num_frames=63)
    assert [pre.width(n) for n in (1, 63, 64, 65, 129)] == [63, 63, 64, 128, 192]


def test_one_speaker_is_scaled_against_the_training_statistics_when_thin():
    cfg = features.FeatureConfig(**HANDCRAFTED)
    pre = preprocess.Preprocessor(cfg, ("rms",), "speaker", 0.0, 3, 10)
    clips = [np.full((4, 1), v, np.float32) for v in (1.0, 3.0)]
    train = (np.asarray([10.0], np.float32), np.asarray([2.0], np.float32))
    scaled, notes = pre.scale_clips(clips, ["a", "a"], train)
    np.testing.assert_allclose([c[0, 0] for c in scaled], [(1 - 10) / 2, (3 - 10) / 2])
    assert all("fewer than the 3" in n for n in notes)
    own, notes = dataclasses.replace(pre, speaker_min_clips=2).scale_clips(clips, ["a", "a"], train)
    np.testing.assert_allclose([c[0, 0] for c in own], [-1.0, 1.0])  # its own mean 2 and std 1
    assert notes == ["", ""]
