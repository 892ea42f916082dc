"""Two training processes (python -m ser_jax.train --num_processes=2, JAX's distributed runtime over
gloo), each streaming its share of every batch from disk, train the run one process trains in memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

TOLERANCE = 1e-5  # on losses and probabilities; measured differences are about 2e-7


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TINY_FLAGS = ["--recipe=fast", "--sample_rate=16000", "--duration=1.0", "--n_fft=512", "--hop_length=256",
              "--n_mfcc=13", "--n_mels=16", "--conv_filters=8", "--conv_kernels=3", "--lstm_units=8",
              "--dense_units=8", "--split=holdout", "--epochs=2", "--patience=0", "--batch_size=16",
              "--learning_rate=3e-3", "--workers=1"]


@pytest.mark.slow
def test_two_processes_streaming_from_disk_train_as_one_process_in_memory(tiny_corpus, tiny_cache_dir, tmp_path):
    """Two processes (JAX's distributed runtime, CPU collectives over gloo), one device each, each reading
    its share of every batch from the cache on disk (--stream=on, per-speaker scaling as rows are read,
    a subset of the feature groups), train the run one process trains with everything in memory.
    Process 0 alone writes the run directory; both write the checkpoints."""
    import numpy as np

    from ser_jax import checkpoint, optim, splits
    from ser_jax import config as config_lib
    from ser_jax.testing.tiny import TINY_FEATURES, TINY_MODEL
    from ser_jax.train import loop as train_lib

    common = [f"--data_dir={tiny_corpus}", f"--cache_dir={tiny_cache_dir}", *TINY_FLAGS,
              f"--run_dir={tmp_path / 'two'}", f"--coordinator_address=127.0.0.1:{_free_port()}",
              "--num_processes=2", "--stream=on", "--speaker_norm", "--feature_groups=mfcc,mel,rms"]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    procs = [subprocess.Popen([sys.executable, "-m", "ser_jax.train", *common, f"--process_id={i}"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in (0, 1)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-2000:] for o in outs)
    assert "accuracy" in outs[0] and "run directory" not in outs[1]  # only process 0 reports

    cfg = config_lib.ExperimentConfig(
        data_dir=str(tiny_corpus), cache_dir=str(tiny_cache_dir), features=TINY_FEATURES,
        split=splits.SplitConfig(protocol="holdout"), model_config=TINY_MODEL,
        optim=optim.OptimConfig(learning_rate=3e-3), workers=1, stream="off", feature_groups=("mfcc", "mel", "rms"),
        train=config_lib.TrainConfig(epochs=2, patience=0, batch_size=16, speaker_norm=True))
    one = train_lib.train_and_evaluate(cfg, tmp_path / "one", progress=False).metrics
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert two["accuracy"] == one["accuracy"] and two["test_predictions"]["y_pred"] == one["test_predictions"]["y_pred"]
    for a, b in zip(one["history"], two["history"], strict=True):
        for key in ("train_loss", "val_loss", "val_accuracy"):
            assert abs(a[key] - b[key]) <= TOLERANCE, (a["epoch"], key, a[key], b[key])
    np.testing.assert_allclose(one["test_predictions"]["probabilities"], two["test_predictions"]["probabilities"],
                               atol=TOLERANCE)
    (p1, m1), (p2, m2) = checkpoint.load_best(tmp_path / "one"), checkpoint.load_best(tmp_path / "two")
    assert m1["epoch"] == m2["epoch"]
    for a, b in zip(*(jax_leaves(p) for p in (p1, p2)), strict=True):
        np.testing.assert_allclose(a, b, atol=TOLERANCE)
    assert len(list((tmp_path / "two").glob("events.out.tfevents.*"))) == 1


def jax_leaves(tree):
    import jax

    return jax.tree_util.tree_leaves(tree)
