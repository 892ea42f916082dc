"""Ensembles of checkpoints (ser_jax.predict.predictor.Ensemble): the mean of the members'
probabilities over features read once per recipe; members must agree on their labels.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ser_jax import predict
from ser_jax.testing.tiny import TINY_FEATURES
from ser_jax.train import loop as train_lib

from .helpers import _test_clips

# The trained runs (run in tests/conftest.py, speaker_run in tests/predict/conftest.py) are built once
# per session: the tests that use them all go to one xdist worker.
pytestmark = pytest.mark.xdist_group("predict_runs")


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
