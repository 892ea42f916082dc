"""A run's data from several corpora (ser_jax.train.data), corpora as plug-ins end to end: the RAVDESS
split is unchanged, several corpora train together, cross-corpus runs use the shared emotions, and
emotion filters relabel before splitting."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
from pathlib import Path

import numpy as np
import pytest

from ser_jax import checkpoint, splits
from ser_jax import config as config_lib
from ser_jax.testing import corpora as synthetic
from ser_jax.train import data as train_data
from ser_jax.train import loop as train_lib

from .helpers import tiny_config
from conftest import built_once

# sha1 of the (train, val, test) relative paths of each split of the session's tiny synthetic RAVDESS
# corpus (3 actors, 16 kHz, seed 0), computed by the code before corpora were plug-ins (commit b91fd0d,
# splits.make_splits(cfg, emotions, channels, actors) over corpus.discover). A RAVDESS user's splits,
# and hence results, must not move.
BEFORE_PLUGINS = {
    "seed_leaky": "5a69bd5f3e867aaa069322f9407fe1e4a2d993d2",
    "holdout": "7866be257d397b34a346781cf07e2348b8221b14",
    "actor_kfold/fold_0": "cc977b7e91c674fe0751ec3534b63fb6f0193b63",
    "actor_kfold/fold_1": "18058e2eb00f00ef139bfcd72228a7052e2f7d97",
    "actor_kfold/fold_2": "f2a17c0bfe0c78adc6f82b283ecec0d9669e9dfb",
}


def _fingerprint(split: splits.Split, paths) -> str:
    parts = [[paths[i] for i in getattr(split, p)] for p in ("train", "val", "test")]
    return hashlib.sha1(json.dumps(parts).encode()).hexdigest()


def test_ravdess_splits_are_those_from_before_corpora_were_plugins(tiny_corpus, tiny_cache_dir):
    fs = train_data.load_features(tiny_config(tiny_corpus, tiny_cache_dir), progress=False)
    got = {}
    for cfg in (splits.SplitConfig(protocol="seed_leaky"), splits.SplitConfig(protocol="holdout"),
                splits.SplitConfig(protocol="actor_kfold", folds=3, val_speakers=1)):
        for s in splits.make_splits(cfg, fs.meta):
            got[s.name.replace("speaker_kfold", "actor_kfold")] = _fingerprint(s, fs.paths)
    assert got == BEFORE_PLUGINS


@pytest.fixture(scope="module")
def emodb_corpus(tmp_path_factory) -> Path:
    """Built where tiny_corpus is, so the two are sibling folders (runs name clips by their path
    below the corpora's common folder: tiny_corpus/..., emodb/...)."""
    return built_once(tmp_path_factory, "emodb",
                      lambda root: synthetic.write("emodb", root, speakers=3, per_emotion=2, sample_rate=16000))


def two_corpora(tiny_corpus, emodb_corpus, cache_dir, **kw) -> config_lib.ExperimentConfig:
    cfg = tiny_config(tiny_corpus, cache_dir, epochs=1, **kw)  # what is tested is the layout, not learning
    return dataclasses.replace(cfg, data_dir=f"{tiny_corpus},{emodb_corpus}")


@pytest.mark.slow
def test_two_corpora_train_together_each_from_its_own_cache(tiny_corpus, tiny_cache_dir, emodb_corpus, tmp_path):
    cfg = two_corpora(tiny_corpus, emodb_corpus, tiny_cache_dir,
                      split=splits.SplitConfig(protocol="speaker_kfold", folds=3, val_speakers=1))
    assert cfg.data_dir == (str(tiny_corpus), str(emodb_corpus)) and cfg.corpus == ("auto", "auto")
    result = train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=False)
    m = result.metrics
    # the union of both vocabularies: RAVDESS' 8 emotions and EmoDB's boredom
    assert m["label_names"] == sorted({*synthetic.emotions("emodb"), "calm", "surprised"})
    assert set(m["per_corpus"]) == {"ravdess", "emodb"}  # every fold tests speakers of both
    assert len(list(Path(tiny_cache_dir).glob("emodb*.h5"))) == 1  # a cache of its own beside RAVDESS'
    fold = json.loads((tmp_path / "run" / "fold_0" / "metrics.json").read_text())
    tested = {p.split("/")[0] for p in fold["test_predictions"]["paths"]}
    assert tested == {Path(tiny_corpus).name, Path(emodb_corpus).name}
    assert "emodb alone" in (tmp_path / "run" / "report.txt").read_text()


@pytest.mark.slow
def test_cross_corpus_trains_on_one_corpus_and_tests_the_other_on_shared_emotions(
        tiny_corpus, tiny_cache_dir, emodb_corpus, tmp_path):
    cfg = two_corpora(tiny_corpus, emodb_corpus, tiny_cache_dir,
                      split=splits.SplitConfig(protocol="cross_corpus", test_corpus="emodb", val_speakers=1))
    m = train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=False).metrics
    shared = sorted(set(synthetic.emotions("emodb")) - {"boredom"})
    # The label policy: the model learns every training emotion (RAVDESS' 8), the test corpus is
    # scored over the shared ones: no test clip of a class training never saw, no prediction outside them.
    assert m["label_names"] == sorted({*shared, "calm", "surprised"})
    assert m["scored_emotions"] == shared
    assert m["n_test"] == sum(1 for p in synthetic.plan("emodb", speakers=3) if p.emotion in shared)
    assert all(p.startswith(Path(emodb_corpus).name) for p in m["test_predictions"]["paths"])
    assert {m["label_names"][i] for i in m["test_predictions"]["y_pred"]} <= set(shared)
    unscored = [m["label_names"].index(e) for e in ("calm", "surprised")]
    assert np.all(np.asarray(m["test_predictions"]["probabilities"])[:, unscored] == 0)
    assert "trained also on calm, surprised; not tested: boredom" in m["split_description"]


@pytest.mark.slow
def test_speakers_with_few_clips_are_reported_and_take_their_corpus_statistics(
        tiny_corpus, tiny_cache_dir, emodb_corpus, tmp_path, capsys):
    cfg = two_corpora(tiny_corpus, emodb_corpus, tiny_cache_dir, speaker_norm=True, speaker_min_clips=20,
                      corpus_balance=1.0, split=splits.SplitConfig(protocol="cross_corpus", test_corpus="emodb",
                                                                   val_speakers=1))
    m = train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=True).metrics
    stats = m["speaker_statistics"]
    assert stats["min_clips_used"] == 20 and stats["speakers"] == 6  # 3 RAVDESS actors, 3 EmoDB speakers
    assert {s.split(":")[0] for s in stats["thin"]} == {"emodb"} and len(stats["thin"]) == 3  # 12 clips; actors 104
    assert "3 of 6 speakers have few clips" in capsys.readouterr().out
    assert "speaker statistics: 3 of 6 speakers have few clips" in (tmp_path / "run" / "report.txt").read_text()
    meta = checkpoint.load_best(tmp_path / "run")[1]
    assert meta["preprocessor"]["speaker_min_clips"] == 20 and meta["preprocessor"]["normalization"] == "speaker"


def test_corpus_balance_weighs_each_training_corpus_alike_however_many_clips_it_has():
    meta = {"corpus": np.array(["tess"] * 90 + ["ravdess"] * 10 + ["emodb"] * 5)}
    fs = types.SimpleNamespace(meta=meta)  # corpus_weights reads the corpus column only
    train = np.arange(100)  # emodb is the test corpus: no weight
    w = train_data.corpus_weights(fs, train, 1.0)
    assert w[:90].sum() == pytest.approx(w[90:100].sum())
    assert w[train].mean() == pytest.approx(1.0)  # the loss keeps its scale
    assert np.all(w[100:] == 0)
    half = train_data.corpus_weights(fs, train, 0.5)  # in between: 9x the clips, 3x the total weight
    assert half[:90].sum() / half[90:100].sum() == pytest.approx(3.0)
    assert train_data.corpus_weights(fs, train, 0.0) is None  # off: the plain mean loss
    assert train_data.corpus_weights(fs, np.arange(90), 1.0) is None  # one training corpus: nothing to balance


def test_emotions_are_merged_then_filtered_before_splitting(tiny_corpus, tiny_cache_dir):
    cfg = dataclasses.replace(tiny_config(tiny_corpus, tiny_cache_dir), emotions=("neutral", "angry", "sad"),
                              merge_emotions=("calm:neutral",))
    assert cfg.merge_emotions == (("calm", "neutral"),)
    fs = train_data.load_features(cfg, progress=False)
    assert set(fs.meta["emotion"]) == {"neutral", "angry", "sad", ""}
    assert np.sum(fs.meta["emotion"] == "neutral") == np.sum(np.isin(fs.meta["emotion_code"], [1, 2]))
    [split] = splits.make_splits(cfg.split, fs.meta)
    used = np.concatenate([split.train, split.val, split.test])
    assert "" not in set(fs.meta["emotion"][used])


@pytest.mark.parametrize(
    "kw,message",
    [
        (dict(corpus="bogus"), "--corpus=bogus: unknown reader 'bogus'"),
        (dict(corpus=("auto", "auto", "auto")), "one reader per --data_dir entry"),
        (dict(emotions=("joyful",)), "unknown emotion 'joyful'"),
        (dict(merge_emotions=("calm",)), "not FROM:TO"),
        (dict(merge_emotions=("calm:neutral", "neutral:sad")), "merge target is itself merged"),
    ],
)
def test_bad_corpus_settings_fail_on_construction(kw, message):
    with pytest.raises(ValueError, match=message):
        config_lib.ExperimentConfig(data_dir="a,b", **kw)


def test_the_same_corpus_twice_is_refused(tiny_corpus, tiny_cache_dir):
    cfg = dataclasses.replace(tiny_config(tiny_corpus, tiny_cache_dir), data_dir=f"{tiny_corpus},{tiny_corpus}")
    with pytest.raises(ValueError, match="corpus ravdess is given twice"):
        train_data.load_features(cfg, progress=False)
