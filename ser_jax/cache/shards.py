"""Sharded builds: N jobs (machines, or array jobs of a cluster scheduler) each compute a disjoint
slice of the corpus into a part, a journal of their own; a merge writes the one cache from them,
exactly as a single build writes it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from ser_jax import corpora
from ser_jax import features as features_lib
from ser_jax.cache import CacheError
from ser_jax.cache import build as cache_build
from ser_jax.cache import format as cache_format
from ser_jax.cache import journal as journal_lib


def part_dir(path: Path, shard: int, shards: int) -> Path:
    """The part of shard ``shard`` (1-based) of ``shards``: per-utterance journal files, like a build's."""
    return path.with_name(f"{path.name}.part-{shard}-of-{shards}")


_PART_DONE = "complete.json"


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' (1 <= K <= N) -> (K, N); anything else is a one-line error naming the flag."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ValueError(f"--shard={text}: expected K/N with 1 <= K <= N, e.g. 1/4 (the first of 4 shards)")
    return int(m.group(1)), int(m.group(2))


def shard_files(current: dict, shard: int, shards: int) -> list[str]:
    """Shard ``shard``'s files: every ``shards``-th file in discovery (sorted) order, so each shard
    gets long and short files alike, and the shards of one corpus never overlap."""
    return [rel for i, rel in enumerate(current) if i % shards == shard - 1]


def build_shard(
    corpus: corpora.Corpus, cfg: features_lib.FeatureConfig, cache_dir: str | os.PathLike, shard: tuple[int, int],
    *, workers: int | None = None, progress: bool = True, wait: bool = False,
) -> cache_build.BuildSummary:
    """Computes shard K of N of the corpus into its part (resumable: a killed shard keeps what it finished)."""
    t0 = time.perf_counter()
    k, n = shard
    path = cache_format.cache_path(corpus.source, cfg, Path(cache_dir))
    part = part_dir(path, k, n)
    part.mkdir(parents=True, exist_ok=True)
    with journal_lib.lock(part, wait):
        current = cache_format.stat_all(corpus)
        mine = shard_files(current, k, n)
        pending = journal_lib.read(part)
        done = {rel: pending[rel] for rel in mine if rel in pending
                and (pending[rel]["size"], pending[rel]["mtime_ns"]) == current[rel][1:]}
        todo = [rel for rel in mine if rel not in done]
        cached = len(done)
        cache_build.compute(todo, current, cfg, part, done, workers, progress)
        tmp = part / f".{_PART_DONE}.tmp"
        tmp.write_text(json.dumps({"shard": k, "shards": n, "files": len(mine), "key": cfg.key()}))
        os.replace(tmp, part / _PART_DONE)  # last: the part is finished
    failed = tuple((rel, done[rel]["error"]) for rel in mine if done[rel]["error"])
    return cache_build.BuildSummary(str(part), len(mine), len(todo), cached, 0, failed, len(corpus.skipped),
                        time.perf_counter() - t0, wrote=True)


def merge_shards(
    corpus: corpora.Corpus, cfg: features_lib.FeatureConfig, cache_dir: str | os.PathLike, shards: int,
    *, workers: int | None = None, progress: bool = True, wait: bool = False,
) -> cache_build.BuildSummary:
    """The cache from the N finished parts, written exactly as a single build writes it (any file no
    part holds, e.g. one added since, is computed here); the parts are removed after."""
    path = cache_format.cache_path(corpus.source, cfg, Path(cache_dir))
    parts = [part_dir(path, k, shards) for k in range(1, shards + 1)]
    missing = [k for k, p in enumerate(parts, 1) if not (p / _PART_DONE).is_file()]
    if missing:
        raise CacheError(f"{path}: shard(s) {', '.join(map(str, missing))} of {shards} not finished; run precompute "
                         f"--shard=K/{shards} for each, then merge again")
    with journal_lib.lock(path, wait):
        journal = journal_lib.dir_of(path)
        journal.mkdir(exist_ok=True)
        for p in parts:  # a move per file: an interrupted merge leaves each entry in a part or the journal
            for f in p.glob("*.npz"):
                os.replace(f, journal / f.name)
    summary = cache_build.build(corpus, cfg, cache_dir, workers=workers, progress=progress, wait=wait)
    for p in parts:
        shutil.rmtree(p, ignore_errors=True)
        p.with_name(p.name + ".lock").unlink(missing_ok=True)
    return summary

