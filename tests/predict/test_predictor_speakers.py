"""Speaker-normalised models predicting (ser_jax.predict.predictor): new clips scaled by their own
statistics, shrunk toward the training statistics for few clips, or by them below the minimum.
"""

from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import soundfile as sf

from ser_jax import checkpoint, normalize, predict, splits
from ser_jax.train import data as train_data
from ser_jax.train import loop as train_lib

from .helpers import CROP, SR, _pcm

# The trained runs (run in tests/conftest.py, speaker_run in tests/predict/conftest.py) are built once
# per session: the tests that use them all go to one xdist worker.
pytestmark = pytest.mark.xdist_group("predict_runs")


@pytest.mark.slow
def test_a_speaker_normalised_model_scales_a_folder_of_new_clips_by_their_own_statistics(speaker_run, tmp_path):
    cfg, run_dir, metrics = speaker_run
    tree, meta = checkpoint.load_best(run_dir)
    assert meta["preprocessor"]["normalization"] == "speaker"
    # Every test clip of the unseen speaker, cut to the training crop, in one folder: the folder's
    # statistics are then exactly those training computed for that speaker.
    folder = tmp_path / "actor_03"
    folder.mkdir()
    clips = [os.path.join(cfg.data_dir[0], p) for p in metrics["test_predictions"]["paths"]]
    copies = []
    for i, path in enumerate(clips):
        copies.append(str(folder / f"{i:03d}.wav"))
        sf.write(copies[-1], _pcm(path)[:CROP], SR, subtype="PCM_16")
    got = predict.load_predictor(run_dir, speaker_groups="folder").predict_files(copies)

    fs = train_data.load_features(cfg, progress=False)
    [split] = splits.make_splits(cfg.split, fs.meta)
    x, _ = train_data.standardize_rows(fs, split, cfg.train)
    state = train_lib.create_train_state(jax.random.PRNGKey(0), dataclasses.replace(cfg.model_config, num_classes=8),
                                         cfg.optim, x.shape[1], x.shape[2], 1)
    state = state.replace(params=tree["params"], batch_stats=tree["batch_stats"])
    data = train_data.Arrays(jnp.asarray(x), jnp.asarray(fs.lengths), jnp.zeros(len(x), jnp.int32))
    want = np.asarray(jax.nn.softmax(train_lib.predict_logits(state, data, split.test, 8), axis=-1))
    np.testing.assert_allclose([[p.probabilities[n] for n in meta["label_names"]] for p in got], want, atol=1e-4)
    assert not any(p.note for p in got)


@pytest.mark.slow
def test_a_shrunk_speaker_model_leans_on_the_training_statistics_for_few_clips(speaker_run):
    """--speaker_prior=K: one file of a speaker is standardised by K / (K + 1) of the training
    statistics, and says its statistics rest on few clips."""
    cfg, run_dir, metrics = speaker_run
    path = os.path.join(cfg.data_dir[0], metrics["test_predictions"]["paths"][0])
    predictor = predict.load_predictor(run_dir)
    predictor.preprocessor = dataclasses.replace(predictor.preprocessor, speaker_prior=8.0)  # as if trained with K = 8
    [got] = predictor.predict_files([path])
    assert "from 1 clip(s), fewer than the 8" in got.note
    raw = predictor.raw_input(path)[None]  # the clip's first training crop
    lengths = np.asarray([raw.shape[1]])
    own = normalize.moments(raw, lengths, np.arange(1))
    mean, var = normalize.shrink(*own, 1, predictor.mean.astype(np.float64), predictor.std.astype(np.float64) ** 2,
                                 8.0)
    mean, std = normalize.mean_std(mean, var)
    want = predictor.probabilities(list(normalize.standardize(raw, mean, std, lengths)))[0]
    np.testing.assert_allclose([got.probabilities[n] for n in predictor.label_names], want, atol=1e-6)


@pytest.mark.slow
def test_a_speaker_with_fewer_than_min_clips_files_is_scaled_by_the_training_statistics(speaker_run):
    cfg, run_dir, metrics = speaker_run
    paths = [os.path.join(cfg.data_dir[0], p) for p in metrics["test_predictions"]["paths"][:3]]
    predictor = predict.load_predictor(run_dir)
    predictor.preprocessor = dataclasses.replace(predictor.preprocessor, speaker_min_clips=10)  # as the default trains
    got = predictor.predict_files(paths)
    assert all("fewer than the 10 the model needs" in p.note for p in got)
    raw = [predictor.raw_input(p) for p in paths]
    globally = predictor.probabilities([normalize.standardize(w[None], predictor.mean, predictor.std,
                                                              np.asarray([len(w)]))[0] for w in raw])
    np.testing.assert_allclose([[g.probabilities[n] for n in predictor.label_names] for g in got], globally,
                               atol=1e-6)
    predictor.preprocessor = dataclasses.replace(predictor.preprocessor, speaker_min_clips=3)  # 3 files: their own
    assert not any("speaker statistics" in p.note for p in predictor.predict_files(paths))


@pytest.mark.slow
def test_a_clip_normalised_alone_says_so(speaker_run, tmp_path):
    path = os.path.join(speaker_run[0].data_dir[0], speaker_run[2]["test_predictions"]["paths"][0])
    predictor = predict.load_predictor(speaker_run[1])
    [alone] = predictor.predict_files([path])
    assert "this clip alone" in alone.note
    two = predictor.predict_files([path, os.path.join(speaker_run[0].data_dir[0],
                                                      speaker_run[2]["test_predictions"]["paths"][1])])
    assert not any("speaker statistics" in p.note for p in two)  # "files": the files given count as one speaker
