"""How far the `fast` feature recipe is from `seed`, per feature group, and what each costs.

    .venv/bin/python benchmarks/feature_deviation.py --data_dir=/path/to/ravdess --limit=200

For `--limit` files spread evenly over the corpus it computes seed_reference (the notebook
function), the `seed` recipe, `fast` and `fast` with `fast_hpss`, timing each per clip (load
included, one process), and prints Markdown tables: per group, the largest absolute
difference from `seed`, the mean absolute difference relative to the seed's standard
deviation of that group, the correlation pooled over the group's rows, and the lowest
correlation of a single row. Timings are wall-clock on whatever else the machine is doing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import sys
import time

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ser_jax import audio, corpora  # noqa: E402
from ser_jax import features as F  # noqa: E402
from ser_jax.features.recipes import seed  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", "/work/shared/data/ravdess-dev", "Corpus root (RAVDESS layout).")
flags.DEFINE_integer("limit", 200, "Files to use, spread evenly over the sorted corpus; 0 = all.")
flags.DEFINE_bool("reference", True, "Also run seed_reference (slow: ~0.13 s per clip).")
flags.DEFINE_bool("hpss", True, "Also run fast with fast_hpss=True (slow: ~0.09 s per clip).")
flags.DEFINE_bool("one_blas_thread", True,
                  "Run every method with BLAS on one thread (features.prepare always does), so "
                  "seed_reference is not slowed by BLAS threads fighting over a busy machine.")
flags.DEFINE_integer("processes", 2, "Also time `fast` over all files with this many processes "
                     "(process start-up included); 0 to skip.")


@dataclasses.dataclass
class RowStats:
    """Running sums per feature row for deviation of `other` from `base` (float64, streaming)."""

    n: int
    sx: np.ndarray
    sy: np.ndarray
    sxx: np.ndarray
    syy: np.ndarray
    sxy: np.ndarray
    sabs: np.ndarray
    maxabs: np.ndarray

    @classmethod
    def zeros(cls, width: int) -> "RowStats":
        z = lambda: np.zeros(width)  # noqa: E731
        return cls(0, z(), z(), z(), z(), z(), z(), z())

    def add(self, base: np.ndarray, other: np.ndarray) -> None:
        x, y = base.astype(np.float64), other.astype(np.float64)
        self.n += x.shape[0]
        self.sx += x.sum(0)
        self.sy += y.sum(0)
        self.sxx += (x * x).sum(0)
        self.syy += (y * y).sum(0)
        self.sxy += (x * y).sum(0)
        d = np.abs(x - y)
        self.sabs += d.sum(0)
        self.maxabs = np.maximum(self.maxabs, d.max(0))

    def group(self, a: int, b: int) -> dict[str, float]:
        """Max |diff|, mean |diff| / std(base), pooled r and the lowest per-row r over rows a:b."""
        n = self.n * (b - a)
        sx, sy = self.sx[a:b].sum(), self.sy[a:b].sum()
        var_x = self.sxx[a:b].sum() / n - (sx / n) ** 2
        var_y = self.syy[a:b].sum() / n - (sy / n) ** 2
        cov = self.sxy[a:b].sum() / n - sx * sy / n**2
        mean_abs = self.sabs[a:b].sum() / n
        row_var_x = self.sxx[a:b] / self.n - (self.sx[a:b] / self.n) ** 2
        row_var_y = self.syy[a:b] / self.n - (self.sy[a:b] / self.n) ** 2
        row_cov = self.sxy[a:b] / self.n - self.sx[a:b] * self.sy[a:b] / self.n**2
        with np.errstate(divide="ignore", invalid="ignore"):
            row_r = row_cov / np.sqrt(row_var_x * row_var_y)
            return {
                "max_abs": float(self.maxabs[a:b].max()),
                "rel_mean_abs": float(mean_abs / np.sqrt(var_x)) if var_x > 0 else float("nan"),
                "r": float(cov / np.sqrt(var_x * var_y)) if var_x > 0 and var_y > 0 else float("nan"),
                "min_row_r": float(np.nanmin(row_r)) if np.isfinite(row_r).any() else float("nan"),
            }


def spread(items: list, limit: int) -> list:
    """limit items evenly spaced over the list (all of them if limit is 0 or larger)."""
    if limit <= 0 or limit >= len(items):
        return list(items)
    return [items[i] for i in np.unique(np.linspace(0, len(items) - 1, limit).round().astype(int))]


def deviation_table(title: str, stats: RowStats, cfg: F.FeatureConfig) -> str:
    lines = [f"**{title}**", "",
             "| group | rows | max abs diff | mean abs diff / seed std | r (pooled) | min row r |",
             "|---|---|---|---|---|---|"]
    for name, a, b in F.feature_layout(cfg):
        g = stats.group(a, b)
        lines.append(f"| {name} | {a}-{b - 1} | {g['max_abs']:.3g} | {g['rel_mean_abs']:.3g} | "
                     f"{g['r']:.4f} | {g['min_row_r']:.4f} |")
    return "\n".join(lines)


def _fast_worker(path: str) -> np.ndarray | None:
    try:
        return F.compute(path, F.FeatureConfig(recipe="fast"))
    except audio.AudioError:
        return None


def pool_seconds(paths: list[str], processes: int) -> float:
    """Wall time of `fast` over paths on a fresh process pool, start-up included."""
    t0 = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        for _ in pool.imap_unordered(_fast_worker, paths, chunksize=8):
            pass
    return time.perf_counter() - t0


def main(argv: list[str]) -> int:
    del argv
    limit = contextlib.nullcontext()
    if FLAGS.one_blas_thread:
        import threadpoolctl

        limit = threadpoolctl.threadpool_limits(1, user_api="blas")
    with limit:
        return run()


def run() -> int:
    corpus = corpora.read(FLAGS.data_dir)
    paths = [u.path for u in spread(list(corpus.records), FLAGS.limit)]
    seed_cfg = F.FeatureConfig()
    methods: dict[str, object] = {}
    if FLAGS.reference:
        methods["seed_reference"] = seed.seed_reference
    methods["seed"] = lambda p: F.compute(p, seed_cfg)
    methods["fast"] = lambda p: F.compute(p, F.FeatureConfig(recipe="fast"))
    if FLAGS.hpss:
        methods["fast_hpss"] = lambda p: F.compute(p, F.FeatureConfig(recipe="fast", fast_hpss=True))

    first_call = {}
    for name, fn in methods.items():  # imports, numba, filterbank caches: not part of per-clip cost
        t0 = time.perf_counter()
        fn(paths[0])
        first_call[name] = time.perf_counter() - t0

    width = F.num_features(seed_cfg)
    stats = {name: RowStats.zeros(width) for name in methods if name != "seed"}
    seconds = {name: [] for name in methods}
    failed = []
    for i, path in enumerate(paths):
        out, took = {}, {}
        names = list(methods)
        names = names[i % len(names):] + names[: i % len(names)]  # rotate who reads the file first
        try:
            for name in names:  # interleaved, so load drifts hit every method alike
                t0 = time.perf_counter()
                out[name] = methods[name](path)
                took[name] = time.perf_counter() - t0
        except Exception as e:  # seed_reference has no AudioError; report any failure and go on
            failed.append(f"{path}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            continue
        for name, t in took.items():
            seconds[name].append(t)
        for name, st in stats.items():
            st.add(out["seed"], np.asarray(out[name], dtype=np.float32))
        if (i + 1) % 25 == 0:
            print(f"{i + 1}/{len(paths)} files", file=sys.stderr, flush=True)

    n = len(paths) - len(failed)
    print(f"{n} files of {FLAGS.data_dir} ({len(corpus)} in the corpus, every "
          f"~{len(corpus) / len(paths):.1f}th), {len(failed)} failed")
    for line in failed:
        print(f"  failed: {line}")
    print()
    for name, st in stats.items():
        print(deviation_table(f"`{name}` vs `seed` recipe", st, seed_cfg))
        print()
    print("| method | ms per clip (mean) | median | first call (s) |")
    print("|---|---|---|---|")
    for name, s in seconds.items():
        s = np.asarray(s) * 1000
        print(f"| {name} | {s.mean():.1f} | {np.median(s):.1f} | {first_call[name]:.2f} |")
    if FLAGS.processes > 0:
        wall = pool_seconds(paths, FLAGS.processes)
        print(f"\n`fast` on {FLAGS.processes} fresh processes: {wall:.2f} s wall for {len(paths)} files "
              f"= {wall / len(paths) * 1000:.1f} ms per clip, start-up included")
        if "seed_reference" in seconds:
            serial = float(np.sum(seconds["seed_reference"]))
            print(f"serial seed_reference on the same files: {serial:.1f} s -> {serial / wall:.1f}x")
    return 0


if __name__ == "__main__":
    app.run(main)
