"""Sharded precompute vs. one build: the time of each part and of the merge, and the same cache.

Builds the cache of ``--data_dir`` once in one go, then again as ``--shards`` shards (one after
another here; on a cluster they run at once, so their wall time is the slowest shard's) plus the
merge, in two fresh cache folders; then compares the two caches dataset by dataset, bit for bit.

    .venv/bin/python benchmarks/sharded_precompute.py --data_dir=/path/to/ravdess [--shards=2] [--recipe=fast]
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from absl import app, flags

from ser_jax import corpora
from ser_jax import features as features_lib
from ser_jax.cache import build as cache_build
from ser_jax.cache import shards as cache_shards

flags.DEFINE_string("data_dir", None, "Corpus folder.", required=True)
flags.DEFINE_integer("shards", 2, "Number of shards.")
flags.DEFINE_string("recipe", "fast", "Feature recipe (seed: the original's, about 20x slower).")
flags.DEFINE_integer("workers", 0, "Processes per build (0: one per core).")
FLAGS = flags.FLAGS


def datasets(path: str) -> dict[str, tuple[bytes, dict]]:
    """Every dataset's bytes (as a digest) and attributes, and the file's attributes but its creation time."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                data = obj[()]
                blob = data.tobytes() if isinstance(data, np.ndarray) and data.dtype != object else repr(
                    data.tolist() if isinstance(data, np.ndarray) else data).encode()
                out[name] = (hashlib.sha256(blob).hexdigest(), {k: repr(v) for k, v in obj.attrs.items()})
        f.visititems(visit)
        out["/"] = ("", {k: repr(v) for k, v in f.attrs.items() if k != "created"})  # the build's time
    return out


def main(argv: list[str]) -> int:
    del argv
    corpus = corpora.read(FLAGS.data_dir)
    cfg = features_lib.FeatureConfig(recipe=FLAGS.recipe)
    workers = FLAGS.workers or os.cpu_count()
    root = Path(tempfile.mkdtemp(prefix="ser_jax_shards_"))
    try:
        t0 = time.perf_counter()
        one = cache_build.build(corpus, cfg, root / "one", workers=workers, progress=False)
        single = time.perf_counter() - t0
        parts = []
        for k in range(1, FLAGS.shards + 1):
            t0 = time.perf_counter()
            cache_shards.build_shard(corpus, cfg, root / "sharded", (k, FLAGS.shards), workers=workers, progress=False)
            parts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        merged = cache_shards.merge_shards(corpus, cfg, root / "sharded", FLAGS.shards, workers=workers, progress=False)
        merge = time.perf_counter() - t0
        a, b = datasets(one.path), datasets(merged.path)
        same = a == b
        differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        same_file = Path(one.path).read_bytes() == Path(merged.path).read_bytes()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{FLAGS.data_dir}: {one.total} files, recipe {FLAGS.recipe}, {workers} worker(s) per build, "
          f"{os.cpu_count()} CPU cores")
    print("| build | seconds |")
    print("|---|---|")
    print(f"| one machine | {single:.1f} |")
    for k, s in enumerate(parts, 1):
        print(f"| shard {k}/{FLAGS.shards} | {s:.1f} |")
    print(f"| merge | {merge:.1f} |")
    print(f"| shards one after another + merge | {sum(parts) + merge:.1f} |")
    print(f"| shards at once (slowest) + merge | {max(parts) + merge:.1f} |")
    print(f"every dataset and attribute (but the file's creation time) equal: "
          f"{'yes' if same else 'NO: ' + ', '.join(differ[:5])}; whole file bytes identical: "
          f"{'yes' if same_file else 'no'}")
    return 0 if same else 1


if __name__ == "__main__":
    app.run(main)
