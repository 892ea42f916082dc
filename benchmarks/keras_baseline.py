"""The original Keras model and ser_jax, timed side by side on the same split and features.

Both train whole 80-epoch runs (no early stopping) on one split of one corpus: the holdout split of
``holdout.flags`` (stratified 80/20 test split, 10% of the training part for validation, random
state 42), seed features, standardised with training statistics. Each epoch is every training
batch (32 clips) plus a pass over the validation clips.

- Keras: the original network exactly as ``../shared/seed/FACTS.md`` describes it (228,041
  parameters; Conv1D-BN-dropout-pool, BiLSTM with input and recurrent dropout, tanh attention,
  dense), Adam 1e-3, ``model.fit`` with the validation data. TensorFlow is never a dependency of
  ser_jax: it runs in a virtual environment of its own, created here on first use
  (``--keras_venv``, default ``~/.cache/ser_jax/keras-venv``; ``--setup`` only creates it), and
  gets the arrays through an ``.npz`` file.
- ser_jax: ``python -m ser_jax.train --flagfile=holdout --patience=0`` on the same corpus (so its
  masks and cosine schedule too), in a subprocess.

    .venv/bin/python benchmarks/keras_baseline.py --data_dir=PATH/TO/RAVDESS [--epochs=80]

Prints seconds per epoch of each (median over epochs after the first, which compiles), whole-run
wall time, test accuracy of each run, and the ratio. Run it on a quiet machine: both use every core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from absl import app, flags

flags.DEFINE_string("data_dir", None, "Corpus folder (RAVDESS layout).")
flags.DEFINE_string("cache_dir", "cache", "Feature cache folder (built first if missing, not timed).")
flags.DEFINE_integer("epochs", 80, "Epochs of each whole run.")
flags.DEFINE_string("keras_venv", os.path.expanduser("~/.cache/ser_jax/keras-venv"),
                    "Virtual environment holding TensorFlow/Keras (created on first use).")
flags.DEFINE_string("tensorflow", "tensorflow==2.21.*", "The TensorFlow requirement installed there.")
flags.DEFINE_boolean("setup", False, "Only create the Keras environment.")
FLAGS = flags.FLAGS

KERAS_SCRIPT = r'''
import json, sys, time
import numpy as np
import keras
from keras import layers, regularizers

data = np.load(sys.argv[1])
epochs = int(sys.argv[2])
keras.utils.set_random_seed(0)
T, F = data["x_train"].shape[1:]
inp = keras.Input((T, F))
x = layers.Conv1D(128, 5, padding="same", activation="relu", kernel_regularizer=regularizers.l2(1e-3))(inp)
x = layers.BatchNormalization()(x)
x = layers.Dropout(0.3)(x)
x = layers.MaxPooling1D(2)(x)
x = layers.Bidirectional(layers.LSTM(64, return_sequences=True, dropout=0.3, recurrent_dropout=0.3))(x)
score = layers.Dense(1, activation="tanh")(x)
weights = layers.Softmax(axis=1)(score)
context = layers.Lambda(lambda t: keras.ops.sum(t[0] * t[1], axis=1))([x, weights])
x = layers.Dense(64, activation="relu", kernel_regularizer=regularizers.l2(1e-3))(context)
x = layers.Dropout(0.5)(x)
out = layers.Dense(int(data["num_classes"]), activation="softmax")(x)
model = keras.Model(inp, out)
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])

class Times(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        seconds.append(time.perf_counter() - self.t0)

seconds = []
t0 = time.perf_counter()
model.fit(data["x_train"], data["y_train"], batch_size=32, epochs=epochs, verbose=0,
          validation_data=(data["x_val"], data["y_val"]), callbacks=[Times()])
wall = time.perf_counter() - t0
acc = float((model.predict(data["x_test"], verbose=0).argmax(-1) == data["y_test"]).mean())
print(json.dumps({"params": int(model.count_params()), "epoch_seconds": seconds, "wall_s": wall,
                  "test_accuracy_last_epoch": acc, "keras": keras.__version__}))
'''


def keras_python() -> Path:
    venv = Path(FLAGS.keras_venv)
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} with {FLAGS.tensorflow} (once; TensorFlow stays out of ser_jax's environment)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", FLAGS.tensorflow, "numpy<2.5"], check=True)
    return python


def holdout_arrays(out: Path) -> dict:
    """The holdout split's standardised seed features, as ser_jax's holdout.flags training sees them."""
    from ser_jax import splits
    from ser_jax.config import ExperimentConfig, TrainConfig
    from ser_jax.train import data as train_data

    cfg = ExperimentConfig(data_dir=FLAGS.data_dir, cache_dir=FLAGS.cache_dir)
    fs = train_data.load_features(cfg, progress=True)
    split = splits.make_splits(cfg.split, fs.meta)[0]
    names = sorted(set(fs.meta["emotion"]))
    y = np.asarray([names.index(e) for e in fs.meta["emotion"]], np.int32)
    x, _ = train_data.standardize_rows(fs, split, TrainConfig())  # training statistics, as holdout.flags
    arrays = {f"x_{k}": x[getattr(split, k)] for k in ("train", "val", "test")}
    arrays |= {f"y_{k}": y[getattr(split, k)] for k in ("train", "val", "test")}
    np.savez(out, **arrays, num_classes=len(names))
    return {k: len(v) for k, v in arrays.items() if k.startswith("y_")}


def main(argv: list[str]) -> int:
    del argv
    python = keras_python()
    if FLAGS.setup:
        return 0
    if not FLAGS.data_dir:
        raise SystemExit("error: --data_dir is required (a RAVDESS-layout corpus)")
    with tempfile.TemporaryDirectory(prefix="ser_jax-keras-") as tmp:
        npz = Path(tmp) / "holdout.npz"
        sizes = holdout_arrays(npz)
        print(f"holdout split of {FLAGS.data_dir}: {sizes['y_train']} train / {sizes['y_val']} val / "
              f"{sizes['y_test']} test clips; {FLAGS.epochs} epochs each", flush=True)
        script = Path(tmp) / "keras_original.py"
        script.write_text(KERAS_SCRIPT)
        out = subprocess.run([str(python), str(script), str(npz), str(FLAGS.epochs)], capture_output=True, text=True,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if out.returncode:
            raise SystemExit(f"error: the Keras run failed:\n{out.stderr[-3000:]}")
        keras = json.loads(out.stdout.strip().splitlines()[-1])

        run = Path(tmp) / "run"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ser_jax.train", "--flagfile=holdout", f"--data_dir={FLAGS.data_dir}",
                        f"--cache_dir={FLAGS.cache_dir}", f"--run_dir={run}", f"--epochs={FLAGS.epochs}",
                        "--patience=0"], check=True, capture_output=True)
        jax_wall = time.perf_counter() - t0
        metrics = json.loads((run / "metrics.json").read_text())
    k_epoch = float(np.median(keras["epoch_seconds"][1:]))
    # ser_jax's train_seconds: the training loop (compilation, validation and checkpoints included).
    j_epoch = metrics["train_seconds"] / metrics["epochs_run"]
    print("| | seconds per epoch | whole run (wall) | test accuracy |")
    print("|---|---|---|---|")
    print(f"| original Keras model (Keras {keras['keras']}, {keras['params']:,} parameters), median epoch after "
          f"the first | {k_epoch:.2f} s | {keras['wall_s']:.0f} s fit | {100 * keras['test_accuracy_last_epoch']:.2f}% "
          f"(last epoch) |")
    print(f"| ser_jax holdout.flags, train_seconds / epochs (compile, validation, checkpoints included) | "
          f"{j_epoch:.2f} s | {jax_wall:.0f} s process | {100 * metrics['accuracy']:.2f}% (epoch chosen on "
          f"validation) |")
    print(f"ratio (Keras / ser_jax seconds per epoch): {k_epoch / j_epoch:.2f}x")
    return 0


if __name__ == "__main__":
    app.run(main)
