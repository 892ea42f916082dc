"""Start-up time of the commands: the first call and the second, side by side.

The second call finds JAX's persistent compilation cache (``--jax_cache``) filled by the first, so
it skips XLA compilation; imports and everything else are paid again. Everything runs in fresh
subprocesses on a small synthetic corpus made here (deleted after):

- ``train``: a tiny 2-epoch training of the seed model layout (fast features, 16 kHz), twice;
- ``predict``: one 3 s file with the checkpoint of that training, twice;
- the import floor: a process that only imports JAX, flax, orbax and soundfile and runs one op.

    .venv/bin/python benchmarks/startup.py [--repeats=3]

Prints wall seconds (median over repeats) of each call and the ratio second/first.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("repeats", 3, "Repetitions of each first/second pair (each with an empty cache).")

TINY = ["--recipe=fast", "--sample_rate=16000", "--duration=3.0", "--conv_filters=16", "--conv_kernels=5",
        "--lstm_units=16", "--dense_units=16", "--epochs=2", "--split=holdout", "--workers=2", "--batch_size=16"]


_FLOOR = "import jax, flax.linen, orbax.checkpoint, soundfile; jax.numpy.zeros(1).block_until_ready()"


def _timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return seconds


def main(argv: list[str]) -> None:
    del argv
    root = Path(tempfile.mkdtemp(prefix="ser_jax-startup-"))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
        py = [sys.executable, "-m"]
        subprocess.run([*py, "ser_jax.synth", "--out", str(root / "corpus"), "--actors", "2", "--seed", "0",
                        "--sample_rate", "16000"], check=True, capture_output=True, env=env)
        clip = next((root / "corpus").rglob("*.wav"))
        # The feature cache once, outside the timings.
        subprocess.run([*py, "ser_jax.precompute", f"--data_dir={root / 'corpus'}", f"--cache_dir={root / 'cache'}",
                        *TINY[:3]], check=True, capture_output=True, env=env)
        times: dict[str, list[float]] = {k: [] for k in ("train 1st", "train 2nd", "predict 1st", "predict 2nd")}
        for r in range(FLAGS.repeats):
            xla = root / f"xla_{r}"
            for call in ("1st", "2nd"):
                run = root / f"run_{r}_{call}"
                times[f"train {call}"].append(_timed(
                    [*py, "ser_jax.train", f"--data_dir={root / 'corpus'}", f"--cache_dir={root / 'cache'}",
                     f"--run_dir={run}", f"--jax_cache={xla}", *TINY], env))
            for call in ("1st", "2nd"):
                times[f"predict {call}"].append(_timed(
                    [*py, "ser_jax.predict", f"--checkpoint={root / f'run_{r}_1st'}", f"--jax_cache={xla}_predict",
                     str(clip)], env))
        # The floor of any predict: a process that imports what restoring and running a model needs.
        floor = statistics.median(_timed([sys.executable, "-c", _FLOOR], env) for _ in range(max(3, FLAGS.repeats)))
        print(f"start-up, median of {FLAGS.repeats} (wall seconds, fresh processes, {os.cpu_count()} CPUs)")
        print(f"  import floor (python -c '{_FLOOR}'): {floor:.2f} s")
        for what in ("train", "predict"):
            first, second = (statistics.median(times[f"{what} {c}"]) for c in ("1st", "2nd"))
            print(f"  {what:8s} first {first:6.2f} s   second {second:6.2f} s   second/first {second / first:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    app.run(main)
