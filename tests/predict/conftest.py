"""The speaker-normalised run that the speaker and ensemble tests share (the plain run, ``run``, is in
tests/conftest.py: tests/e2e/ predicts with it too). Session-scoped, so that it is trained once for
the files that use it; they carry pytest.mark.xdist_group("predict_runs"), so one xdist worker runs them.
"""

from __future__ import annotations

import pytest

from ser_jax import config as config_lib
from ser_jax import optim, splits
from ser_jax.testing.tiny import TINY_FEATURES, TINY_MODEL
from ser_jax.train import loop as train_lib


@pytest.fixture(scope="session")
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
