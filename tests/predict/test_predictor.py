"""Prediction from a checkpoint (ser_jax.predict.predictor): the training label map, features and
scaling, any audio format, long clips, unreadable files, full-length models, feature groups; in fresh
JAX processes with an empty and a filled numba cache. Speaker-normalised models:
test_predictor_speakers.py; ensembles: test_predictor_ensemble.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest
import soundfile as sf

from ser_jax import audio, checkpoint, features, optim, predict
from ser_jax.testing.tiny import TINY_FEATURES, TINY_MODEL
from ser_jax.train import data as train_data
from ser_jax.train import loop as train_lib

from .helpers import CROP, SR, _pcm, _test_clips

# The trained runs (run in tests/conftest.py, speaker_run in tests/predict/conftest.py) are built once
# per session: the tests that use them all go to one xdist worker.
pytestmark = pytest.mark.xdist_group("predict_runs")


def test_short_clips_get_the_probabilities_the_trained_model_gives_their_cached_features(run, predictor, tmp_path):
    cfg, run_dir, metrics = run
    tree, meta = checkpoint.load_best(run_dir)
    assert predictor.label_names == tuple(meta["label_names"]) == tuple(metrics["label_names"])

    # The first CROP samples of test clips, written bit-exactly: no longer than the crop, so the
    # predictor must see exactly the features training cached for them.
    clips = _test_clips(run, 6)
    short = []
    for i, path in enumerate(clips):
        short.append(str(tmp_path / f"short_{i}.wav"))
        sf.write(short[-1], _pcm(path)[:CROP], SR, subtype="PCM_16")
    got = predictor.predict_files(short)

    fs = train_data.load_features(cfg, progress=False)
    x = np.asarray((fs.features - tree["norm"]["mean"]) / tree["norm"]["std"], np.float32)
    state = train_lib.create_train_state(jax.random.PRNGKey(0), dataclasses.replace(cfg.model_config, num_classes=8),
                                         cfg.optim, x.shape[1], x.shape[2], 1)
    state = state.replace(params=tree["params"], batch_stats=tree["batch_stats"])
    rows = np.asarray([fs.paths.index(os.path.relpath(p, cfg.data_dir[0])) for p in clips])
    data = train_data.Arrays(jnp.asarray(x), jnp.asarray(fs.lengths), jnp.zeros(len(x), jnp.int32))
    want = np.asarray(jax.nn.softmax(train_lib.predict_logits(state, data, rows, 8), axis=-1))

    for p, w, path in zip(got, want, short):
        assert isinstance(p, predict.Prediction) and p.path == path and p.seconds == pytest.approx(1.0)
        assert list(p.probabilities) == list(meta["label_names"])
        np.testing.assert_allclose([p.probabilities[n] for n in meta["label_names"]], w, atol=1e-5)
        assert p.emotion == meta["label_names"][int(np.argmax(w))]
    # The run's own test predictions (on the same cropped features) name the same classes.
    y_pred = metrics["test_predictions"]["y_pred"][: len(got)]
    assert [p.emotion for p in got] == [meta["label_names"][k] for k in y_pred]


def test_wav_flac_stereo_and_48khz_files_are_read_as_training_read_its_clips(run, predictor, tmp_path):
    pcm = _pcm(_test_clips(run, 1)[0])[:CROP]
    sf.write(tmp_path / "a.wav", pcm, SR, subtype="PCM_16")
    sf.write(tmp_path / "a.flac", pcm, SR, subtype="PCM_16")
    sf.write(tmp_path / "stereo.wav", np.stack([pcm, pcm], axis=1), SR, subtype="PCM_16")
    # A 48 kHz file is resampled to the training rate as training resampled its corpus (soxr_hq), so
    # it predicts exactly as its resampled copy written at the training rate.
    y48 = librosa.resample(pcm.astype(np.float32) / 32768, orig_sr=SR, target_sr=48000, res_type="soxr_hq")
    sf.write(tmp_path / "a48k.wav", y48, 48000, subtype="FLOAT")
    back = librosa.resample(y48, orig_sr=48000, target_sr=SR, res_type="soxr_hq")
    sf.write(tmp_path / "a48k_at_16k.wav", back, SR, subtype="FLOAT")
    wav, flac, stereo, hi, hi_ref = predictor.predict_files(
        [tmp_path / n for n in ("a.wav", "a.flac", "stereo.wav", "a48k.wav", "a48k_at_16k.wav")])
    probs = lambda p: np.asarray(list(p.probabilities.values()))  # noqa: E731
    np.testing.assert_allclose(probs(flac), probs(wav), atol=1e-6)  # lossless
    np.testing.assert_allclose(probs(stereo), probs(wav), atol=1e-6)  # mean of two equal channels
    np.testing.assert_allclose(probs(hi), probs(hi_ref), atol=1e-5)
    assert wav.emotion == flac.emotion == stereo.emotion and hi.emotion == hi_ref.emotion
    for p in (wav, flac, stereo, hi):
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5) and p.seconds == pytest.approx(1.0)
        assert not p.note  # no longer than the training crop


def test_a_long_clip_is_judged_by_its_first_training_duration_as_training_evaluated_it(run, predictor, tmp_path):
    path = _test_clips(run, 1)[0]
    pcm = _pcm(path)
    assert len(pcm) >= 2.5 * CROP  # synthetic clips last 2.5-5.5 s, the crop 1 s
    sf.write(tmp_path / "first.wav", pcm[:CROP], SR, subtype="PCM_16")
    long, first = predictor.predict_files([path, tmp_path / "first.wav"])
    np.testing.assert_allclose(list(long.probabilities.values()), list(first.probabilities.values()), atol=1e-6)
    assert long.seconds == pytest.approx(len(pcm) / SR) and first.seconds == pytest.approx(1.0)
    assert long.note.startswith(f"{len(pcm) / SR:.1f} s long: the model saw its first 1 s") and not first.note


def test_unreadable_files_are_reported_and_the_others_predicted_with_one_compilation(run, predictor, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF but not really a wave file")
    clips = _test_clips(run, 3)
    out = predictor.predict_files([clips[0], bad, clips[1], tmp_path / "missing.wav", clips[2]])
    assert [type(r).__name__ for r in out] == ["Prediction", "PredictionError", "Prediction", "PredictionError",
                                               "Prediction"]
    assert out[1].path == str(bad) and "cannot decode" in out[1].message and "\n" not in out[1].message
    with pytest.raises(audio.AudioError, match="bad.wav: cannot decode"):
        predictor.predict_file(bad)
    # Files of different window counts share one compiled forward pass.
    assert predictor._forward._cache_size() == 1


def test_a_full_length_model_predicts_each_clip_whole(run, tmp_path):
    cfg = dataclasses.replace(TINY_FEATURES, duration=None)
    path = _test_clips(run, 1)[0]
    feats = features.compute(path, cfg)
    T, F = feats.shape
    model_cfg = dataclasses.replace(TINY_MODEL, num_classes=3)
    state = train_lib.create_train_state(jax.random.PRNGKey(1), model_cfg, optim.OptimConfig(), 40, F, 1)
    rng = np.random.default_rng(0)
    tree = {"params": state.params, "batch_stats": state.batch_stats,
            "norm": {"mean": rng.normal(size=F).astype(np.float32), "std": rng.uniform(1, 2, F).astype(np.float32)}}
    meta = {"label_names": ["a", "b", "c"], "feature_config": cfg.to_dict(), "groups": [],
            "model_config": dataclasses.asdict(model_cfg), "num_frames": 40, "protocol": "holdout", "leaky": False}
    pred = predict.Predictor(tree, meta, tmp_path).predict_file(path)
    assert T > 40 and not pred.note  # longer than the training width: padded to a bucket, not cut
    x = np.zeros((1, 64 * -(-T // 64), F), np.float32)
    x[0, :T] = (feats - tree["norm"]["mean"]) / tree["norm"]["std"]
    logits = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, x, np.asarray([T]),
                            train=False)
    np.testing.assert_allclose(list(pred.probabilities.values()), jax.nn.softmax(logits[0]), atol=1e-5)


def test_feature_groups_are_selected_by_name_in_cache_order(run, tmp_path):
    _, run_dir, _ = run
    tree, meta = checkpoint.load_best(run_dir)
    layout = dict((n, (a, b)) for n, a, b in features.feature_layout(TINY_FEATURES))
    groups = ["rms", "mfcc"]  # any order in the flag; the cache keeps ALL_GROUPS order
    cols = np.r_[np.arange(*layout["mfcc"]), np.arange(*layout["rms"])]
    p = predict.Predictor({**tree, "norm": {k: np.asarray(v)[cols] for k, v in tree["norm"].items()}},
                          {**meta, "preprocessor": {**meta["preprocessor"], "groups": groups}}, run_dir)
    np.testing.assert_array_equal(p.columns, cols)
    assert p.groups == ("mfcc", "rms")


_FRESH_JAX_PROCESS = """
import json, os, sys
import jax.numpy as jnp
float(jnp.ones(3).sum())  # JAX runs first, as in train and predict
from ser_jax import corpora, features, predict
from ser_jax.cache import build as cache_build
corpus_dir, cache_dir, run_dir = sys.argv[1:4]
summary = cache_build.build(corpora.read(corpus_dir), features.FeatureConfig(), cache_dir, workers=1, progress=False)
c = corpora.read(corpus_dir)
clips = [os.path.join(c.root, r.path) for r in c.records]
results = predict.load_predictor(run_dir).predict_files(clips)
print(json.dumps({"computed": summary.computed, "failed": list(summary.failed),
                  "predicted": sum(isinstance(r, predict.Prediction) for r in results),
                  "numba_here": "numba" in sys.modules}))
"""


@pytest.mark.slow
def test_seed_features_and_predict_in_fresh_jax_processes_with_an_empty_then_a_filled_numba_cache(run, tmp_path):
    """The crash of issue 25: a process that had run JAX compiled librosa's numba code and died, and
    the numba cache it left made later processes die too. Now that code runs only in feature workers
    that keep their own numba cache: three fresh JAX processes in a row, each with an empty cache
    folder, then one with the folder the last one filled, all compute the seed recipe and predict, and
    none writes numba's cache beside librosa (where a poisoned one crashed every later process)."""
    import shutil
    import time
    started = time.time()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for clip in _test_clips(run, 3):
        shutil.copy(clip, corpus)
    numba_dir = tmp_path / "numba"
    for attempt, empty in enumerate([True, True, True, False]):
        if empty:
            shutil.rmtree(numba_dir, ignore_errors=True)
        numba_dir.mkdir(exist_ok=True)
        env = dict(os.environ, SER_JAX_NUMBA_CACHE_DIR=str(numba_dir))
        out = subprocess.run([sys.executable, "-c", _FRESH_JAX_PROCESS, str(corpus), str(tmp_path / f"cache{attempt}"),
                              str(run[1])], env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        report = json.loads(out.stdout.strip().splitlines()[-1])
        assert report == {"computed": 3, "failed": [], "predicted": 3, "numba_here": False}, (attempt, report)
        assert any(numba_dir.rglob("*.nbi")), "the workers' numba cache folder stayed empty"
    beside_librosa = [p for p in Path(librosa.__file__).parent.rglob("*.nbi") if p.stat().st_mtime >= started]
    assert not beside_librosa
