"""Feature extraction speed: the original style against ``ser_jax.precompute``, same files, same run.

- original: the notebook's function (seed.seed_reference) applied file by file, serially;
- precompute --recipe=seed: the same numbers, in parallel worker processes, into a fresh HDF5 cache;
- precompute --recipe=fast: one shared STFT, no harmonic separation, into a fresh cache;
- the unchanged re-run of each (nothing to compute) and loading the cache into memory.

    .venv/bin/python benchmarks/features.py --data_dir=../shared/data/ravdess-dev [--limit=N] [--workers=2]

Everything is end to end: pool start-up, audio decoding and HDF5 writing are included.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time

from absl import app, flags

from ser_jax import corpora, features
from ser_jax.cache import build as cache_build
from ser_jax.cache import format as cache_format
from ser_jax.features.recipes import seed

flags.DEFINE_string("data_dir", None, "Corpus root.", required=True)
flags.DEFINE_integer("limit", 0, "Use every k-th file so that about this many remain (0 = all).")
flags.DEFINE_integer("workers", os.cpu_count() or 1, "Worker processes for precompute.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    found = corpora.read(FLAGS.data_dir)
    utts = found.records
    if FLAGS.limit and FLAGS.limit < len(utts):
        utts = utts[:: max(1, len(utts) // FLAGS.limit)][: FLAGS.limit]
    sub = dataclasses.replace(found, records=tuple(utts), skipped=())
    n = len(utts)
    print(f"{n} files from {found.root}, {FLAGS.workers} workers, {os.cpu_count()} cores")

    t0 = time.perf_counter()
    for u in utts:
        seed.seed_reference(u.path)
    original = time.perf_counter() - t0
    print(f"original style done in {original:.1f} s", flush=True)

    rows = [("original style (serial, per-feature librosa calls)", original, None, None)]
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in ("seed", "fast"):
            cfg = features.FeatureConfig(recipe=recipe)
            t0 = time.perf_counter()
            summary = cache_build.build(sub, cfg, tmp, workers=FLAGS.workers, progress=False)
            build_s = time.perf_counter() - t0
            assert summary.computed == n - 0 and not summary.failed, summary
            t0 = time.perf_counter()
            again = cache_build.build(sub, cfg, tmp, workers=FLAGS.workers, progress=False)
            rerun_s = time.perf_counter() - t0
            assert again.computed == 0
            t0 = time.perf_counter()
            fs = cache_format.load(summary.path, expect=cfg)
            load_s = time.perf_counter() - t0
            rows.append((f"precompute --recipe={recipe}", build_s, rerun_s, load_s))
            print(f"{recipe}: built in {build_s:.1f} s, {fs.features.nbytes / 2**20:.0f} MiB", flush=True)

    print()
    print("| method | seconds | clips/s | speed-up vs original | unchanged re-run | load cache |")
    print("|---|---|---|---|---|---|")
    for name, secs, rerun, load in rows:
        print(f"| {name} | {secs:.1f} | {n / secs:.1f} | {original / secs:.1f}x | "
              f"{'-' if rerun is None else f'{rerun:.2f} s'} | {'-' if load is None else f'{load:.2f} s'} |")
    return 0


if __name__ == "__main__":
    app.run(main)
