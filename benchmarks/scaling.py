"""Data-parallel overhead: steps per second of the seed model on 1, 2 and 4 host-platform devices.

Each device count runs in its own subprocess (``XLA_FLAGS=--xla_force_host_platform_device_count=N``)
on the same workload: random arrays of 130 x 187 frames, the original model (crnn defaults), batch
32 split over the devices (``ser_jax.parallel``), the median of several epochs after the compiling
one. On a CPU the devices share the same cores, so more of them cannot be faster; the figures show
the overhead of splitting a batch (issue 13's target: 2 devices at least 80% of 1 device's rate).

    .venv/bin/python benchmarks/scaling.py [--devices=1,2,4] [--steps=40] [--repeats=5]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from absl import app, flags

flags.DEFINE_list("devices", ["1", "2", "4"], "Device counts to time.")
flags.DEFINE_integer("steps", 40, "Training steps per timed repeat.")
flags.DEFINE_integer("repeats", 5, "Timed repeats (the median is reported).")
FLAGS = flags.FLAGS

_CHILD = """
import json, sys, time
import jax, jax.numpy as jnp, numpy as np
from ser_jax import models, optim, parallel
from ser_jax.train import data as train_data
from ser_jax.train import loop as train_lib
steps, repeats = int(sys.argv[1]), int(sys.argv[2])
T, F, B, N = 130, 187, 32, 512
rng = np.random.default_rng(0)
data = train_data.Arrays(jnp.asarray(rng.standard_normal((N, T, F), np.float32)), jnp.full((N,), T, jnp.int32),
                        jnp.asarray(rng.integers(0, 8, N), jnp.int32))
state = train_lib.create_train_state(jax.random.PRNGKey(0), models.make_config("crnn"), optim.OptimConfig(), T, F, 1000)
mesh = parallel.make_mesh(0)
shard, everywhere = parallel.batch_sharding(mesh), parallel.replicated(mesh)
state, data = parallel.replicate(state, everywhere), parallel.replicate(data, everywhere)
batches = [jnp.asarray(rng.permutation(N)[:B].astype(np.int32)) for _ in range(steps)]
w = jnp.ones(B)
state, m = train_lib.train_step(state, data, batches[0], w, jax.random.PRNGKey(0), shard=shard)
jax.block_until_ready(m)
times = []
for r in range(repeats):
    t0 = time.perf_counter()
    for b, idx in enumerate(batches):
        state, m = train_lib.train_step(state, data, idx, w, jax.random.PRNGKey(b), shard=shard)
    jax.block_until_ready(m)
    times.append(time.perf_counter() - t0)
print(json.dumps({"devices": jax.local_device_count(), "steps_per_s": steps / float(np.median(times))}))
"""


def main(argv: list[str]) -> int:
    del argv
    rows = []
    for n in map(int, FLAGS.devices):
        env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={n}"}
        out = subprocess.run([sys.executable, "-c", _CHILD, str(FLAGS.steps), str(FLAGS.repeats)], env=env,
                             capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"error: {n} devices failed:\n{out.stderr[-2000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = rows[0]["steps_per_s"]
    print(f"crnn (original config), batch 32 of 130 x 187, {os.cpu_count()} CPU cores; median of {FLAGS.repeats} x "
          f"{FLAGS.steps} steps")
    print("| devices | train steps / s | vs 1 device |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r['devices']} | {r['steps_per_s']:.1f} | {r['steps_per_s'] / base:.2f} |")
    return 0


if __name__ == "__main__":
    app.run(main)
