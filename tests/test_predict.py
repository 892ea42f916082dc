"""Prediction from a checkpoint: the training label map, features and scaling, any audio format, long clips."""

from __future__ import annotations

import csv
import dataclasses
import io
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

from ser_jax import audio, checkpoint, features, normalize, optim, predict, splits
from ser_jax import config as config_lib
from ser_jax.predict import formats
from ser_jax.train import data as train_data
from ser_jax.train import loop as train_lib

from conftest import TINY_FEATURES, TINY_MODEL

# The module's trained runs (fixtures below) are built once: its tests all go to one xdist worker.
pytestmark = pytest.mark.xdist_group("predict_runs")

SR = TINY_FEATURES.sample_rate
CROP = int(TINY_FEATURES.duration * SR)  # samples per window


@pytest.fixture(scope="module")
def run(tiny_corpus, tiny_cache_dir, tmp_path_factory):
    """A tiny holdout run and its metrics: no dropout and a high learning rate, so that after a few
    epochs its probabilities differ clearly between clips (tolerances below mean something)."""
    model = dataclasses.replace(TINY_MODEL, conv_dropout=0.0, lstm_dropout=0.0, lstm_recurrent_dropout=0.0,
                                dense_dropout=0.0)
    cfg = config_lib.ExperimentConfig(
        data_dir=str(tiny_corpus), cache_dir=str(tiny_cache_dir), features=TINY_FEATURES,
        split=splits.SplitConfig(protocol="holdout"), model_config=model, optim=optim.OptimConfig(learning_rate=1e-2),
        train=config_lib.TrainConfig(epochs=6, patience=0, batch_size=16), workers=2)
    run_dir = tmp_path_factory.mktemp("predict") / "run"
    result = train_lib.train_and_evaluate(cfg, run_dir, progress=False)
    return cfg, run_dir, result.metrics


@pytest.fixture(scope="module")
def predictor(run):
    return predict.load_predictor(run[1])


def _pcm(path) -> np.ndarray:
    """The file's samples as int16 (synthetic files are 16-bit PCM), so copies are bit-exact."""
    data, sr = sf.read(path, dtype="int16")
    assert sr == SR
    return data


def _test_clips(run, k):
    cfg, _, metrics = run
    return [os.path.join(cfg.data_dir[0], p) for p in metrics["test_predictions"]["paths"][:k]]


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


def test_window_starts_cover_the_clip_with_half_overlapping_windows():
    assert features.window_starts(500, 1000) == [0]
    assert features.window_starts(1000, 1000) == [0]
    assert features.window_starts(2000, 1000) == [0, 500, 1000]
    assert features.window_starts(2200, 1000) == [0, 500, 1000, 1200]  # the last one ends at the end


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


def test_table_output_is_aligned_with_one_column_per_class():
    names = ["angry", "calm"]
    preds = [predict.Prediction("a.wav", "calm", {"angry": 0.25, "calm": 0.75}, 1.0),
             predict.Prediction("long/name.flac", "angry", {"angry": 0.9, "calm": 0.1}, 3.25)]
    lines = formats.format_table(preds, names).splitlines()
    assert lines[0].split() == ["file", "emotion", "angry", "calm", "seconds"]
    assert lines[1].split() == ["a.wav", "calm", "0.250", "0.750", "1.00"]
    assert lines[0].index("emotion") == lines[1].index("calm") == lines[2].index("angry")
    assert len({len(line) for line in lines}) == 1


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ser_jax.predict", *map(str, args)], capture_output=True, text=True)


@pytest.mark.slow
def test_cli_json_warns_on_leaky_k_fold_checkpoints_and_exits_1_when_a_file_fails(run, tmp_path):
    cfg, run_dir, _ = run
    # A k-fold layout whose fold_0 holds this run's best checkpoint, marked as selected on its test set.
    tree, meta = checkpoint.load_best(run_dir)
    ckpts = checkpoint.RunCheckpoints(tmp_path / "kfold" / "fold_0")
    ckpts.save("best", 1, tree, {**meta, "leaky": True, "protocol": "seed_leaky"})
    ckpts.close()
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    clips = _test_clips(run, 2)
    sf.write(folder / "sub" / "b.flac", _pcm(clips[1]), SR)
    sf.write(folder / "a.wav", _pcm(clips[0]), SR)
    (folder / "notes.txt").write_text("not audio: skipped by extension")
    (folder / "broken.wav").write_bytes(b"\0" * 100)

    out = _cli("--checkpoint", tmp_path / "kfold", "--format=json", folder)
    assert out.returncode == 1, out.stderr
    got = json.loads(out.stdout)
    assert [os.path.relpath(p["path"], folder) for p in got] == ["a.wav", os.path.join("sub", "b.flac")]
    assert all(list(p["probabilities"]) == meta["label_names"] and p["seconds"] > 1 for p in got)
    err = out.stderr.splitlines()
    assert sum("fold_0" in line and "k-fold" in line for line in err) == 1
    assert sum(line.startswith("warning: LEAKY") for line in err) == 1
    failed = [line for line in err if line.startswith("error:")]
    assert len(failed) == 1 and "broken.wav" in failed[0] and "cannot decode" in failed[0]

    # --ensemble: every fold votes; two copies of one model vote as that model.
    ckpts = checkpoint.RunCheckpoints(tmp_path / "kfold" / "fold_1")
    ckpts.save("best", 1, tree, {**meta, "leaky": True, "protocol": "seed_leaky"})
    ckpts.close()
    both = _cli("--checkpoint", tmp_path / "kfold", "--ensemble", "--format=json", folder)
    assert both.returncode == 1
    assert sum(line.startswith("member:") for line in both.stderr.splitlines()) == 2
    for a, b in zip(json.loads(both.stdout), got):
        np.testing.assert_allclose(list(a["probabilities"].values()), list(b["probabilities"].values()), atol=1e-6)


@pytest.mark.slow
def test_cli_csv_parses_and_exits_0_when_every_file_is_predicted(run, predictor):
    clips = _test_clips(run, 2)
    out = _cli(f"--checkpoint={run[1]}", "--format=csv", *clips)
    assert out.returncode == 0, out.stderr
    assert "LEAKY" not in out.stderr and "error" not in out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["path"] for r in rows] == clips
    want = predictor.predict_files(clips)
    for r, p in zip(rows, want):
        assert r["emotion"] == p.emotion and float(r["seconds"]) == pytest.approx(p.seconds, abs=1e-3)
        np.testing.assert_allclose([float(r[n]) for n in predictor.label_names],
                                   list(p.probabilities.values()), atol=1e-5)


# ----------------------------------------------------------------------------------------------
# Speaker-normalised models


@pytest.fixture(scope="module")
def speaker_run(tiny_corpus, tiny_cache_dir, tmp_path_factory):
    """Actor 3 is the test speaker, unseen in training: its features are scaled by its own clips."""
    cfg = config_lib.ExperimentConfig(
        data_dir=str(tiny_corpus), cache_dir=str(tiny_cache_dir), features=TINY_FEATURES,
        split=splits.SplitConfig(protocol="speakers", train_speakers=("1",), val_speaker_ids=("2",),
                                 test_speakers=("3",)),
        model_config=TINY_MODEL, optim=optim.OptimConfig(learning_rate=1e-2),
        # Each speaker by its own clips alone (no fallback for few clips, no shrinkage): a folder's
        # statistics are then exactly the speaker's in training (with them, training falls back to
        # the corpus, predict to the files given); the tests below switch them on in the checkpoint.
        train=config_lib.TrainConfig(epochs=3, patience=0, batch_size=16, speaker_norm=True, class_weights=True,
                                     speaker_prior=0.0, speaker_min_clips=0),
        workers=2)
    run_dir = tmp_path_factory.mktemp("speaker_norm") / "run"
    result = train_lib.train_and_evaluate(cfg, run_dir, progress=False)
    return cfg, run_dir, result.metrics


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


def test_class_weights_balance_the_classes_of_the_training_rows():
    y = np.array([0, 0, 0, 1, -1, 2, 2, 2, 2])
    w = train_data.class_weight_vector(y, np.array([0, 1, 2, 3]), num_classes=3)
    np.testing.assert_allclose(w, [4 / (3 * 3), 4 / (3 * 1), 1.0])  # class 2 is not in the training rows


@pytest.mark.slow
def test_an_ensemble_averages_its_members_probabilities_over_features_read_once(run, speaker_run, tmp_path):
    clips = _test_clips(run, 3)
    solo = predict.load_predictor(run[1])
    one = predict.Ensemble([solo])
    assert one.predict_files(clips) == solo.predict_files(clips)
    other = predict.load_predictor(speaker_run[1])  # scales by the files' own statistics: its own way
    both = predict.load_ensemble([run[1], speaker_run[1]])
    assert [m.checkpoint_dir for m in both.members] == [str(run[1]), str(speaker_run[1])]
    want = [(np.array(list(a.probabilities.values())) + np.array(list(b.probabilities.values()))) / 2
            for a, b in zip(solo.predict_files(clips), other.predict_files(clips))]
    got = both.predict_files(clips)
    np.testing.assert_allclose([list(p.probabilities.values()) for p in got], want, atol=1e-6)
    assert [p.emotion for p in got] == [solo.label_names[int(np.argmax(w))] for w in want]


@pytest.mark.slow
def test_an_ensemble_across_recipes_computes_each_recipes_features_once_per_file(run, speaker_run, tmp_path,
                                                                                 monkeypatch):
    """A Whisper head and a from-scratch crnn in one ensemble: here the fast and the seed recipe."""
    cfg, _, _ = run
    seed_cfg = dataclasses.replace(cfg, features=dataclasses.replace(TINY_FEATURES, recipe="seed"),
                                   train=dataclasses.replace(cfg.train, epochs=2))
    seed_dir = tmp_path / "seed_recipe"
    train_lib.train_and_evaluate(seed_cfg, seed_dir, progress=False)
    clips = _test_clips(run, 3)
    members = [predict.load_predictor(d) for d in (run[1], speaker_run[1], seed_dir)]
    assert members[2].feature_config.recipe == "seed" and members[0].feature_config.recipe == "fast"
    alone = [m.predict_files(clips) for m in members]
    both = predict.load_ensemble([run[1], speaker_run[1], seed_dir])
    assert [len(r) for r in both.recipes] == [2, 1] and "over 2 feature recipes" in both.describe()
    calls = []
    original = predict.Predictor.raw_inputs_of
    monkeypatch.setattr(predict.Predictor, "raw_inputs_of",
                        lambda self, paths: calls.append((self.feature_config.recipe, len(paths))) or
                        original(self, paths))
    got = both.predict_files(clips)
    assert sorted(calls) == [("fast", 3), ("seed", 3)]  # once per recipe, for all of its members
    want = np.mean([[list(p.probabilities.values()) for p in a] for a in alone], axis=0)
    np.testing.assert_allclose([list(p.probabilities.values()) for p in got], want, atol=1e-6)


def test_an_ensemble_refuses_models_that_disagree_on_their_labels(predictor):
    impostor = predict.Ensemble([predictor])
    impostor.label_names = ("calm", "angry")
    impostor.checkpoint_dir = "elsewhere"
    with pytest.raises(ValueError, match="elsewhere and .* differ in label_names"):
        predict.Ensemble([predictor, impostor])


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
