"""Shared fixtures: one tiny synthetic corpus and its feature cache per test session."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# One persistent XLA compilation cache for the whole session, subprocesses and xdist workers
# included (they inherit this environment): most tests train the same tiny model, and a cached
# executable gives the same numbers (the kill tests compare resumed runs bit for bit with it on).
# It must be set before JAX is imported, so here, above the imports of ser_jax.
# Single-threaded XLA for the tests' tiny models: with 2 test workers (and their training subprocesses)
# on 2 cores, XLA's multi-threaded CPU runtime oversubscribes them and spins; measured on the kill
# tests: 202 s instead of 341 s, 6.0 instead of 9.4 CPU minutes, the same losses to the last bit.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="ser_jax-test-xla-")
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
# librosa's numba code runs only in feature workers (ser_jax.workers), which keep what numba
# compiles in a folder of their own: one for the session, filled here once, by the controller, in a
# process without JAX, so that the test workers' feature workers only load from it.
if "SER_JAX_NUMBA_CACHE_DIR" not in os.environ:
    os.environ["SER_JAX_NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="ser_jax-test-numba-")
_WARM_NUMBA = """
import os, tempfile
import numpy as np, soundfile as sf
from ser_jax import features as F
path = os.path.join(tempfile.mkdtemp(), "warm.wav")
sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(3 * 22050).astype("float32"), 22050)
for cfg in (F.FeatureConfig(), F.FeatureConfig(recipe="fast"), F.FeatureConfig(recipe="fast", fast_hpss=True),
            F.FeatureConfig(recipe="fast", vtlp=1.1)):
    F.compute(path, cfg)
"""
if not os.environ.get("PYTEST_XDIST_WORKER"):
    subprocess.run([sys.executable, "-c", _WARM_NUMBA], check=False, capture_output=True,
                   env=dict(os.environ, NUMBA_CACHE_DIR=os.environ["SER_JAX_NUMBA_CACHE_DIR"]))
# Some tests call librosa in their own process, which has loaded JAX (the reference functions of
# test_features, for one): there numba must only load what the warm-up compiled, never compile
# (a JAX process that compiled piptrack's gufunc segfaulted in a fresh clone's make test).
os.environ["NUMBA_CACHE_DIR"] = os.environ["SER_JAX_NUMBA_CACHE_DIR"]

from ser_jax import synth  # noqa: E402

# The test folders are packages (tests/<package>/__init__.py, module names such as splits.test_speakers;
# tests/ itself is on sys.path as the root of this conftest). Their helpers.py modules hold what several
# test files of a folder share: pytest rewrites their asserts too, as it does a test module's.
pytest.register_assert_rewrite(*sorted(".".join(p.relative_to(Path(__file__).parent).with_suffix("").parts)
                                       for p in Path(__file__).parent.rglob("helpers.py")))
# The tests' tiny settings (small enough that a cache builds in seconds, the same code path as the
# defaults) live in ser_jax.testing.tiny; tests import them from there. Re-exported here for the fixtures.
from ser_jax.testing.tiny import TINY_FEATURES, TINY_MODEL  # noqa: E402,F401


def built_once(tmp_path_factory, name: str, build) -> Path:
    """A folder ``build`` fills once per test session, shared by the xdist workers (each worker
    making its own tiny corpus and cache cost ~20 CPU-s). The first worker builds it under a lock
    (waited for, unlike ser_jax.lockfile's, which refuses), the others wait for it; without xdist it
    is the session's own folder."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # this session's folder, above the workers' own
    folder, done = shared / name, shared / f"{name}.complete"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """3 actors, speech and song (312 files) at 16 kHz. Read only: tests copy what they change."""
    return built_once(tmp_path_factory, "tiny_corpus",
                       lambda root: synth.synthesize(root, actors=3, seed=0, sample_rate=16000, workers=2))


@pytest.fixture(scope="session")
def tiny_cache_dir(tiny_corpus, tmp_path_factory):
    """The tiny corpus's TINY_FEATURES cache, in a folder of this worker's own (tests add the caches
    of other settings to it), copied from the one build of the session."""
    from ser_jax import corpora
    from ser_jax.cache import build as cache_build

    built = built_once(tmp_path_factory, "tiny_cache_built", lambda d: cache_build.build(
        corpora.read(tiny_corpus), TINY_FEATURES, d, workers=2, progress=False))
    cache_dir = tmp_path_factory.mktemp("tiny_cache")
    for h5 in built.glob("*.h5"):
        shutil.copy2(h5, cache_dir / h5.name)
    return cache_dir


@pytest.fixture(scope="module")
def tiny_bin(tmp_path_factory):
    """A tiny random Whisper encoder's model.bin (ser_jax.testing.encoders), one per test module: the
    encoder tests (tests/encoders/) and the encoder recipes' (tests/features/recipes/) read it."""
    from ser_jax.testing.encoders import write_tiny_whisper

    return write_tiny_whisper(tmp_path_factory.mktemp("encoder") / "model.bin")


# ------------------------------------------------------------------------------------------------
# The trained run the prediction tests share (tests/predict/, tests/e2e/test_predict_command.py):
# built once per session by the one xdist worker that runs them (their files carry
# pytest.mark.xdist_group("predict_runs"), and make test distributes with --dist loadgroup).


@pytest.fixture(scope="session")
def run(tiny_corpus, tiny_cache_dir, tmp_path_factory):
    """A tiny holdout run and its metrics: no dropout and a high learning rate, so that after a few
    epochs its probabilities differ clearly between clips (tolerances below mean something)."""
    import dataclasses

    from ser_jax import config as config_lib
    from ser_jax import optim, splits
    from ser_jax.train import loop as train_lib

    model = dataclasses.replace(TINY_MODEL, conv_dropout=0.0, lstm_dropout=0.0, lstm_recurrent_dropout=0.0,
                                dense_dropout=0.0)
    cfg = config_lib.ExperimentConfig(
        data_dir=str(tiny_corpus), cache_dir=str(tiny_cache_dir), features=TINY_FEATURES,
        split=splits.SplitConfig(protocol="holdout"), model_config=model, optim=optim.OptimConfig(learning_rate=1e-2),
        train=config_lib.TrainConfig(epochs=6, patience=0, batch_size=16), workers=2)
    run_dir = tmp_path_factory.mktemp("predict") / "run"
    result = train_lib.train_and_evaluate(cfg, run_dir, progress=False)
    return cfg, run_dir, result.metrics


@pytest.fixture(scope="session")
def predictor(run):
    from ser_jax import predict

    return predict.load_predictor(run[1])
