"""Training speed of every registered model: compile time, ms per step, seconds per epoch, peak memory.

The workload is the one the original Keras model was timed on (../shared/seed/FACTS.md): 1959
training + 490 validation clips of 130 x 187, batch 32, one epoch = every training batch plus a
pass over the validation clips. Data are random arrays of those shapes (speed does not depend on
the values). With --data_dir it also times a whole 80-epoch seed run (no early stopping) on a
real corpus, compilation and checkpoints included.

    .venv/bin/python benchmarks/train_speed.py [--models=crnn,tcn,conformer] [--data_dir=../shared/data/ravdess-dev]

Each model is timed with its default Config (crnn's is the original network), so a model that
slows down shows here as a regression against its figure in the README.

The Keras baseline cannot run in this process (ser_jax never depends on TensorFlow), so the
ratio is against the figure FACTS.md records for the original on a machine of this kind.
"""

from __future__ import annotations

import resource
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from ser_jax import config as config_lib
from ser_jax import models as models_lib
from ser_jax import optim as optim_lib
from ser_jax.train import data as train_data
from ser_jax.train import loop as train_lib

KERAS_SECONDS_PER_EPOCH = 4.5  # FACTS.md: the original, model.fit on 2 cores, 1959 + 490 clips

flags.DEFINE_integer("n_train", 1959, "Training clips.")
flags.DEFINE_integer("n_val", 490, "Validation clips.")
flags.DEFINE_integer("epochs", 5, "Epochs to time (after the compiling one).")
flags.DEFINE_list("models", list(models_lib.MODELS), "Models to time (names in ser_jax.models.MODELS).")
flags.DEFINE_string("data_dir", None, "If set, also time a full 80-epoch seed run on this corpus (crnn).")
flags.DEFINE_string("cache_dir", "cache", "Feature cache directory for the full run.")
FLAGS = flags.FLAGS


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_epochs(n_train: int, n_val: int, epochs: int, model: str = "crnn") -> dict:
    T, F, B = 130, 187, 32
    rng = np.random.default_rng(0)
    n = n_train + n_val
    data = train_data.Arrays(
        jnp.asarray(rng.standard_normal((n, T, F), np.float32)),
        jnp.full((n,), T, jnp.int32),
        jnp.asarray(rng.integers(0, 8, n), jnp.int32),
    )
    train_rows, val_rows = np.arange(n_train), np.arange(n_train, n)
    steps = -(-n_train // B)
    t0 = time.perf_counter()
    state = train_lib.create_train_state(jax.random.PRNGKey(0), models_lib.make_config(model),
                                         optim_lib.OptimConfig(), T, F, total_steps=steps * 80, model_name=model)
    params = models_lib.count_params({"params": state.params, "batch_stats": state.batch_stats})["total"]
    compiled_before = train_lib.train_step._cache_size()
    batches = train_data.padded_batches(train_rows, B)
    idx, w = batches[0]
    state, m = train_lib.train_step(state, data, jnp.asarray(idx), jnp.asarray(w), jax.random.PRNGKey(1))
    jax.block_until_ready(m)
    train_lib.predict_logits(state, data, val_rows, 128)
    compile_s = time.perf_counter() - t0

    epoch_s, step_ms = [], []
    for _ in range(epochs):
        t0 = time.perf_counter()
        for b, (idx, w) in enumerate(batches):
            state, m = train_lib.train_step(state, data, jnp.asarray(idx), jnp.asarray(w), jax.random.PRNGKey(b))
        jax.block_until_ready(m)
        t1 = time.perf_counter()
        train_lib.predict_logits(state, data, val_rows, 128)
        t2 = time.perf_counter()
        step_ms.append(1000 * (t1 - t0) / len(batches))
        epoch_s.append(t2 - t0)
    return {"compile_s": compile_s, "ms_per_step": float(np.median(step_ms)),
            "s_per_epoch": float(np.median(epoch_s)), "steps_per_epoch": len(batches),
            "compilations": train_lib.train_step._cache_size() - compiled_before, "params": params}


def time_full_run(data_dir: str, cache_dir: str) -> dict:
    from ser_jax import features as features_lib

    cfg = config_lib.ExperimentConfig(
        data_dir=data_dir, cache_dir=cache_dir, features=features_lib.FeatureConfig(recipe="seed"),
        train=config_lib.TrainConfig(epochs=80, patience=0))
    train_data.load_features(cfg, progress=True)  # build the cache first: not part of the timed run
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = train_lib.train_and_evaluate(cfg, f"{tmp}/run", progress=False)
        wall = time.perf_counter() - t0
    return {"wall_s": wall, "epochs": result.metrics["epochs_run"], "accuracy": result.metrics["accuracy"],
            "n_train": result.metrics["n_train"], "n_val": result.metrics["n_val"]}


def main(argv):
    del argv
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {jax.local_device_count()} device(s)")
    print(f"workload: {FLAGS.n_train} train + {FLAGS.n_val} val clips of 130 x 187, batch 32, each model's "
          f"default config; median of {FLAGS.epochs} epochs after the compiling one")
    print("| model | parameters | compile (first step + eval) | train step | epoch (train + val) | vs Keras epoch "
          "| compilations |")
    print("|---|---|---|---|---|---|---|")
    for name in FLAGS.models:
        models_lib.module(name)  # an unknown name fails before any timing
        r = time_epochs(FLAGS.n_train, FLAGS.n_val, FLAGS.epochs, name)
        print(f"| {name} | {r['params']:,} | {r['compile_s']:.1f} s | {r['ms_per_step']:.1f} ms | "
              f"{r['s_per_epoch']:.2f} s | {KERAS_SECONDS_PER_EPOCH / r['s_per_epoch']:.1f}x | {r['compilations']} |",
              flush=True)
    print(f"(the original Keras epoch, FACTS.md: {KERAS_SECONDS_PER_EPOCH:.2f} s; target for crnn >= 3x)")
    if FLAGS.data_dir:
        full = time_full_run(FLAGS.data_dir, FLAGS.cache_dir)
        print(f"| full seed run on {FLAGS.data_dir}: {full['epochs']} epochs, {full['n_train']} train + "
              f"{full['n_val']} val, wall time incl. compile and checkpoints | {full['wall_s']:.1f} s |")
    print(f"| peak resident memory | {peak_rss_mib():.0f} MiB |")
    return 0


if __name__ == "__main__":
    app.run(main)
