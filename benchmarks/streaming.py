"""Training from disk vs. from memory: step rate and peak resident memory.

Writes a synthetic feature cache (``features`` as the real cache stores it: one 130 x 187 float32
row per HDF5 chunk, with checksums) of ``--clips`` rows (100,000: about 9.7 GB), then times, each
in its own subprocess so that resident memory is the child's own:
- memory: the in-memory path (``train.data.Arrays`` resident on the device; a set of ``--memory_clips``
  rows, since the step rate does not depend on the set's size);
- stream: ``train.data.feed`` over ``train.data.OnHost``: random batches read from the 100,000-row cache,
  standardised as read (``stream.Scaled``), prefetched by the background thread.
Both run the original model (crnn defaults) with batch 32; the median of ``--repeats`` x
``--steps`` steps after the compiling one. The cache is deleted afterwards (``--keep`` keeps it).
Issue 13's targets: streaming at least 80% of the in-memory step rate, peak resident under 3 GB.

    .venv/bin/python benchmarks/streaming.py [--clips=100000] [--dir=/tmp] [--steps=30] [--repeats=3]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from absl import app, flags

flags.DEFINE_integer("clips", 100_000, "Rows of the synthetic cache.")
flags.DEFINE_integer("memory_clips", 2048, "Rows of the in-memory set (the baseline).")
flags.DEFINE_string("dir", tempfile.gettempdir(), "Where the synthetic cache is written (needs ~10 GB).")
flags.DEFINE_integer("steps", 30, "Training steps per timed repeat.")
flags.DEFINE_integer("repeats", 3, "Timed repeats (the median is reported).")
flags.DEFINE_bool("keep", False, "Keep the synthetic cache.")
FLAGS = flags.FLAGS

T, F, B = 130, 187, 32

_CHILD = """
import json, resource, sys, time
import h5py, jax, jax.numpy as jnp, numpy as np
from ser_jax import cache, models, optim, stream
from ser_jax.train import data as train_data
from ser_jax.train import loop as train_lib
mode, path, n, steps, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
T, F, B = {T}, {F}, {B}
rng = np.random.default_rng(0)
y = rng.integers(0, 8, n).astype(np.int32)
lengths = np.full(n, T, np.int32)
if mode == "memory":
    with h5py.File(path, "r") as f:
        x = f["features"][:n]
    data = train_data.Arrays(jnp.asarray(x), jnp.asarray(lengths), jnp.asarray(y))
    del x
else:
    rows = stream.CacheRows(path, (n, T, F), cache.CacheError)
    mean, std = np.zeros(F, np.float32), np.ones(F, np.float32)
    data = train_data.OnHost(stream.Scaled(rows, lengths, np.zeros(n, np.int64), [(mean, std)]), lengths, y)
state = train_lib.create_train_state(jax.random.PRNGKey(0), models.make_config("crnn"), optim.OptimConfig(),
                                     T, F, 10**6)
batches = [(rng.choice(n, B, replace=False).astype(np.int32), np.ones(B, np.float32)) for _ in range(steps + 1)]

def run(bs):
    global state
    for b, (batch, idx, w) in enumerate(train_data.feed(data, bs)):
        state, m = train_lib.train_step(state, batch, idx, w, jax.random.PRNGKey(b))
    jax.block_until_ready(m)

run(batches[:1])  # compiles
times = []
for r in range(repeats):
    t0 = time.perf_counter()
    run(batches[1:])
    times.append(time.perf_counter() - t0)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"mode": mode, "steps_per_s": steps / float(np.median(times)), "peak_rss": rss}}))
"""


def write_cache(path: Path, clips: int) -> float:
    """A features dataset laid out as ser_jax.cache writes it; returns seconds."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("features", (clips, T, F), np.float32, chunks=(1, T, F), fletcher32=True)
        block = 1000
        for start in range(0, clips, block):
            n = min(block, clips - start)
            ds[start : start + n] = rng.standard_normal((n, T, F), np.float32)
    return time.perf_counter() - t0


def main(argv: list[str]) -> int:
    del argv
    path = Path(FLAGS.dir) / f"ser_jax_streaming_{os.getpid()}.h5"
    child = _CHILD.format(T=T, F=F, B=B)
    try:
        seconds = write_cache(path, FLAGS.clips)
        size = path.stat().st_size
        print(f"wrote {FLAGS.clips} x {T} x {F} float32 ({size / 1e9:.1f} GB) to {path} in {seconds:.0f} s", flush=True)
        rows = []
        for mode, n in (("memory", FLAGS.memory_clips), ("stream", FLAGS.clips)):
            out = subprocess.run([sys.executable, "-c", child, mode, str(path), str(n), str(FLAGS.steps),
                                  str(FLAGS.repeats)], capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"error: {mode} failed:\n{out.stderr[-2000:]}")
            rows.append({**json.loads(out.stdout.strip().splitlines()[-1]), "clips": n})
    finally:
        if not FLAGS.keep:
            path.unlink(missing_ok=True)
    base = rows[0]["steps_per_s"]
    print(f"crnn (original config), batch {B} of {T} x {F}, {os.cpu_count()} CPU cores; median of "
          f"{FLAGS.repeats} x {FLAGS.steps} steps")
    print("| data | clips | train steps / s | vs in memory | peak resident memory |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['clips']} | {r['steps_per_s']:.2f} | {r['steps_per_s'] / base:.2f} | "
              f"{r['peak_rss'] / 2**30:.2f} GiB |")
    return 0


if __name__ == "__main__":
    app.run(main)
