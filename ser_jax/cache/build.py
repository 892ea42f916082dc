"""Building caches: ``build`` brings the cache of (corpus, config) up to date, computing only what is
new or changed in feature workers and journalling each clip as it arrives; ``ensure`` gives the
FeatureSet of a corpus, building or repairing its cache first (what training calls).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import time
from pathlib import Path

import numpy as np

from ser_jax import audio, corpora
from ser_jax import features as features_lib
from ser_jax import workers as workers_lib
from ser_jax.cache import CacheError
from ser_jax.cache import format as cache_format
from ser_jax.cache import journal as journal_lib
from ser_jax.featureset import FeatureSet


@dataclasses.dataclass(frozen=True)
class BuildSummary:
    path: str
    total: int  # utterances in the corpus
    computed: int  # newly computed this run
    cached: int  # reused from the cache or the journal of an interrupted run
    removed: int  # rows dropped because their file is gone
    failed: tuple[tuple[str, str], ...]  # (relative path, reason)
    skipped: int  # non-audio / non-RAVDESS files passed over by discovery
    seconds: float
    wrote: bool  # False when the cache was already up to date

    def __str__(self) -> str:
        lines = [
            f"{self.path}: {self.total} utterances: {self.computed} computed, {self.cached} cached, "
            f"{self.removed} removed, {len(self.failed)} failed, {self.skipped} skipped in "
            f"{self.seconds:.1f} s" + ("" if self.wrote else " (already up to date)")
        ]
        for rel, reason in self.failed[:20]:
            lines.append(f"  failed: {rel}: {reason}")
        if len(self.failed) > 20:
            lines.append(f"  ... and {len(self.failed) - 20} more failed files (listed in the cache)")
        return "\n".join(lines)


def _sha1_of(path: str) -> str:
    """The content hash the cache keys features by ('' when unreadable: then the file is recomputed)."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha1").hexdigest()
    except OSError:
        return ""


def _work(path: str, cfg_dict: dict) -> tuple[np.ndarray | None, str, str]:
    """What a worker computes of one file (its features, or an encoder's input: features.prepare), or
    the one-line reason it failed, plus the content hash."""
    try:
        with open(path, "rb") as f:
            sha1 = hashlib.sha1(f.read()).hexdigest()
    except OSError as e:
        return None, f"cannot read: {e.strerror or e}", ""
    try:
        cfg = features_lib.FeatureConfig.from_dict(cfg_dict)
        feats = features_lib.prepare(features_lib.load_clip(path, cfg), cfg)
    except audio.AudioError as e:
        return None, str(e).splitlines()[0], sha1
    except Exception as e:  # never let one file stop the run
        return None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", sha1
    if not np.all(np.isfinite(feats)):
        return None, "non-finite feature values", sha1
    return feats.astype(np.float32, copy=False), "", sha1


def build(
    corpus: corpora.Corpus,
    cfg: features_lib.FeatureConfig,
    cache_dir: str | os.PathLike = "cache",
    *,
    workers: int | None = None,
    progress: bool = True,
    wait: bool = False,
) -> BuildSummary:
    """Brings the cache of (corpus, cfg) up to date, computing only what is new or changed."""
    t0 = time.perf_counter()
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_format.cache_path(corpus.source, cfg, cache_dir)
    if cache_format.is_up_to_date(path, corpus, cfg):  # nothing to write: no lock needed (a read-only folder is fine)
        failed = cache_format.failed_of(path)
        return BuildSummary(str(path), len(corpus), 0, len(corpus), 0, failed, len(corpus.skipped),
                            time.perf_counter() - t0, wrote=False)
    with journal_lib.lock(path, wait):
        for leftover in path.parent.glob(f".{path.name}.*.tmp"):  # of writers that died; we hold the lock
            leftover.unlink(missing_ok=True)
        damaged = cache_format.damage(path) if path.exists() else ""
        if damaged:
            if progress:
                print(f"note: {damaged}; rebuilding it", flush=True)
            path.unlink()
        current = cache_format.stat_all(corpus)
        old = cache_format.read_index(path, cfg.key(), cache_format.meta_signature(corpus)) if path.exists() else None
        stale_meta = old is not None and old.pop(cache_format.STALE, None) is not None
        journal = journal_lib.dir_of(path)
        pending = journal_lib.read(journal)

        def fresh(entry: dict | None, size: int, mtime: int) -> bool:
            return entry is not None and entry["size"] == size and entry["mtime_ns"] == mtime

        done: dict[str, dict] = {}
        todo: list[str] = []
        retimed = 0  # same bytes, new mtime (a copied, re-downloaded or touched corpus): no recompute
        for rel, (u, size, mtime) in current.items():
            sources = [e for e in (pending.get(rel), (old or {}).get(rel)) if e is not None]
            hit = next((e for e in sources if fresh(e, size, mtime)), None)
            if hit is None:
                same_size = [e for e in sources if e["size"] == size and e["sha1"]]
                if same_size and (digest := _sha1_of(u.path)):
                    hit = next((e for e in same_size if e["sha1"] == digest), None)
                    retimed += hit is not None
            if hit is not None:
                done[rel] = hit
            else:
                todo.append(rel)
        removed = len(set(old or {}) - set(current))
        if old is not None and not todo and not removed and not pending and not stale_meta and not retimed:
            failed = tuple((r, e["error"]) for r, e in sorted(done.items()) if e["error"])
            return BuildSummary(str(path), len(current), 0, len(current), 0, failed,
                                len(corpus.skipped), time.perf_counter() - t0, wrote=False)
        cached = len(done)

        journal.mkdir(exist_ok=True)
        compute(todo, current, cfg, journal, done, workers, progress)
        cache_format.fill_features(path, list(done.values()))

        rows, failed = [], []
        for rel, (u, size, mtime) in current.items():  # discovery (sorted) order
            e = done[rel]
            if e["error"]:
                failed.append((rel, e["error"], size, mtime))
            else:
                rows.append((rel, u, size, mtime, e["sha1"], e["features"]))
        cache_format.write(path, corpus, cfg, rows, failed)
        shutil.rmtree(journal, ignore_errors=True)
    return BuildSummary(str(path), len(current), len(todo), cached, removed,
                        tuple((r, e) for r, e, _, _ in failed), len(corpus.skipped),
                        time.perf_counter() - t0, wrote=True)


_ENCODE_BATCH = 64  # clips an encoder recipe gathers before encoding them (sorted by length, in batches)


def compute(
    todo: list[str],
    current: dict[str, tuple[corpora.Record, int, int]],
    cfg: features_lib.FeatureConfig,
    journal: Path,
    done: dict[str, dict],
    workers: int | None,
    progress: bool,
) -> None:
    """Computes the todo files in worker processes, journalling each result as it arrives (a clip
    whose worker died twice is journalled as failed, with the signal or exit code)."""
    if not todo:
        return
    from tqdm.auto import tqdm

    workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    cfg_dict = cfg.to_dict()

    def record(rel: str, result: tuple[np.ndarray | None, str, str]) -> None:
        feats, error, sha1 = result
        _, size, mtime = current[rel]
        arrays = dict(rel=np.asarray(rel), size=np.asarray(size), mtime_ns=np.asarray(mtime),
                      sha1=np.asarray(sha1), error=np.asarray(error))
        if feats is not None:
            arrays["features"] = feats
        journal_lib.write_npz(journal_lib.entry_path(journal, rel), **arrays)
        done[rel] = {"size": size, "mtime_ns": mtime, "sha1": sha1, "error": error, "features": feats}

    two_stage = features_lib.needs_finish(cfg)
    if two_stage:  # the encoder's weights, checked before any work: a missing extra is one line, at once
        features_lib.finish([], cfg)
    waiting: list[tuple[str, tuple[np.ndarray, str, str]]] = []

    def flush(bar) -> None:  # an encoder recipe: the workers' log-mels through the encoder, in batches
        done_now = features_lib.finish([r[0] for _, r in waiting], cfg)
        for (rel, (_, error, sha1)), feats in zip(waiting, done_now):
            record(rel, (feats, error, sha1))
        bar.update(len(waiting))
        waiting.clear()

    tasks = [(rel, (current[rel][0].path, cfg_dict)) for rel in todo]
    with tqdm(total=len(todo), desc=f"features ({cfg.recipe})", unit="clip", disable=not progress,
              dynamic_ncols=True) as bar:
        # In worker processes always, one clip included: librosa's numba code must not run in this
        # process, which may have loaded JAX, and a worker that dies costs only its clip.
        for out in workers_lib.run("ser_jax.cache.build:_work", tasks, workers):
            result = out.value if not out.error else (None, out.error, _sha1_of(current[out.key][0].path))
            if two_stage and result[0] is not None:
                waiting.append((out.key, result))
                if len(waiting) >= _ENCODE_BATCH:
                    flush(bar)
                continue
            record(out.key, result)
            bar.update()
        if waiting:
            flush(bar)


def ensure(
    corpus_root: str | os.PathLike,
    cfg: features_lib.FeatureConfig,
    cache_dir: str | os.PathLike = "cache",
    *,
    reader: str = "auto",
    workers: int | None = None,
    progress: bool = True,
    lazy: bool = False,
) -> FeatureSet:
    """The FeatureSet of a corpus, building or updating its cache first when needed (``lazy``: see load)."""
    corpus = corpora.read(corpus_root, reader)
    if progress:
        print(f"{corpus.source}: {corpus.note}; {len(corpus)} files, {len(corpus.skipped)} skipped", flush=True)
    path = cache_format.cache_path(corpus.source, cfg, cache_dir)
    if not cache_format.is_up_to_date(path, corpus, cfg):
        summary = build(corpus, cfg, cache_dir, workers=workers, progress=progress, wait=True)
        if progress:
            print(summary, flush=True)
    try:
        return cache_format.load(path, expect=cfg, lazy=lazy)
    except CacheError as e:  # damaged after all (e.g. a feature chunk): say so, rebuild once
        if not cache_format.damage(path):
            raise
        print(f"note: {str(e).split('; delete it')[0]}; rebuilding it", flush=True)
        path.unlink(missing_ok=True)
        summary = build(corpus, cfg, cache_dir, workers=workers, progress=progress, wait=True)
        if progress:
            print(summary, flush=True)
        return cache_format.load(path, expect=cfg, lazy=lazy)
