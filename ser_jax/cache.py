"""The HDF5 feature cache: computed once, incrementally, safely; read in well under a second.

One file per (corpus, feature config): ``<cache_dir>/<corpus>-<recipe>-<config key>.h5``. The key
hashes the config and the library versions, so a cache made any other way is never read for this
config. Several corpora in one experiment keep one cache each (:func:`concat` joins them in memory),
so adding a corpus never recomputes another. Besides the features, a cache holds the metadata
columns its corpus reader gives (``corpus``, ``speaker``, ``emotion``, ``gender`` and the reader's
own), so nothing downstream needs to know the corpus' naming scheme.

Safety rests on three rules:
- the final file is only ever produced by writing a temporary file and ``os.replace``-ing it, and its
  ``complete`` attribute is written last, so a reader never sees a half-written cache;
- every finished utterance is first journalled as its own small file (also atomically renamed), so
  a run killed at any moment (SIGINT or SIGKILL) resumes where it stopped;
- a lock file (``flock``, released by the kernel even on SIGKILL) keeps two writers apart.
Every byte is checksummed: the features per chunk (HDF5 Fletcher-32), every other dataset by a
SHA-256 digest stored with the file; loading verifies both, and that the features are finite and the
lengths and layout consistent, so a damaged cache fails loudly (and a run reports it and rebuilds it)
instead of reading wrong.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Iterator, Sequence

import h5py
import numpy as np

from ser_jax import corpora, lockfile, stream
from ser_jax import workers as workers_lib
from ser_jax import features as features_lib

# 2: metadata columns come from the corpus reader (format 1 had RAVDESS' columns only). A format-1
# cache of the same feature config lends its feature rows to a rebuild, so nothing is recomputed.
# 3: a SHA-256 digest of every dataset but the features (those have Fletcher-32 per chunk).
FORMAT_VERSION = 3
READABLE_FEATURE_FORMATS = (1, 2, 3)
DIGESTS_FROM = 3  # the first format whose files carry digests


class CacheError(RuntimeError):
    """A cache that cannot be used as it is; the message says what is wrong and what to do."""


class CacheLockedError(CacheError):
    pass


@dataclasses.dataclass(frozen=True)
class FeatureSet:
    """Everything training needs from a cache: padded features, true lengths, labels, provenance."""

    features: np.ndarray | stream.Rows  # (N, T, F) float32, zero beyond each row's length; Rows: on disk
    lengths: np.ndarray  # (N,) int32 true frame counts
    meta: dict[str, np.ndarray]  # metadata columns (corpus, speaker, emotion, gender, the reader's own)
    paths: tuple[str, ...]  # source files, relative to corpus_root
    layout: tuple[tuple[str, int, int], ...]  # feature group, first row, end row
    config: features_lib.FeatureConfig
    corpus_root: str
    failed: tuple[tuple[str, str], ...]  # (relative path, reason) of files that could not be used
    path: str = ""  # the cache file this was read from

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.layout)

    def select_groups(self, groups: Sequence[str]) -> "FeatureSet":
        """The same rows with only the named feature groups, for ablations without recomputing."""
        unknown = sorted(set(groups) - set(self.feature_names))
        if unknown:
            raise ValueError(f"unknown feature group(s) {unknown}; this cache has {list(self.feature_names)}")
        keep = [(n, a, b) for n, a, b in self.layout if n in set(groups)]
        cols = np.concatenate([np.arange(a, b) for _, a, b in keep])
        layout, start = [], 0
        for n, a, b in keep:
            layout.append((n, start, start + b - a))
            start += b - a
        return dataclasses.replace(
            self,
            features=(stream.View(self.features, cols=cols) if stream.is_lazy(self.features)
                      else np.ascontiguousarray(self.features[:, :, cols])),
            layout=tuple(layout),
            config=dataclasses.replace(self.config, groups=tuple(n for n, _, _ in keep)),
        )


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


# --------------------------------------------------------------------------------------------
# Naming


def concat(sets: Sequence[FeatureSet]) -> FeatureSet:
    """Several corpora as one FeatureSet: rows in the given order, frames padded to the longest.

    Their feature configs must be equal (one model input). A column one corpus lacks is filled with
    "" (strings) or -1 (integers) for its rows; paths become relative to the corpora's common folder.
    """
    if len(sets) == 1:
        return sets[0]
    first = sets[0]
    for other in sets[1:]:
        if other.config.key() != first.config.key() or other.layout != first.layout:
            raise CacheError(
                f"corpora with different feature configs cannot be mixed: {first.path} was made with "
                f"{_config_line(first.config)} and {other.path} with {_config_line(other.config)}; build both "
                "caches with the same feature flags")
    t_max = max(s.features.shape[1] for s in sets)
    if any(stream.is_lazy(s.features) for s in sets):
        feats = stream.Stack([s.features for s in sets])
    else:
        feats = np.zeros((sum(len(s) for s in sets), t_max, first.features.shape[2]), np.float32)
        start = 0
        for s in sets:
            feats[start : start + len(s), : s.features.shape[1]] = s.features
            start += len(s)
    columns: dict[str, np.dtype] = {}
    for s in sets:
        for k, v in s.meta.items():
            columns.setdefault(k, v.dtype)
    meta = {}
    for k, dtype in columns.items():
        fill = "" if dtype.kind == "O" else -1
        meta[k] = np.concatenate([s.meta[k] if k in s.meta else np.full(len(s), fill, dtype) for s in sets])
    base = os.path.commonpath([s.corpus_root for s in sets])
    paths = tuple(os.path.relpath(os.path.join(s.corpus_root, p), base) for s in sets for p in s.paths)
    failed = tuple((os.path.relpath(os.path.join(s.corpus_root, p), base), r) for s in sets for p, r in s.failed)
    return FeatureSet(feats, np.concatenate([s.lengths for s in sets]), meta, paths, first.layout, first.config,
                      base, failed, ",".join(s.path for s in sets))


def _config_line(cfg: features_lib.FeatureConfig) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(cfg.to_dict().items()))


def corpus_name(root: str | os.PathLike) -> str:
    """A readable, collision-free name for a corpus root: its folder name plus a path hash."""
    resolved = str(Path(root).expanduser().resolve())
    slug = re.sub(r"[^A-Za-z0-9_.]+", "_", Path(resolved).name).strip("_") or "corpus"
    return f"{slug}-{hashlib.sha1(resolved.encode()).hexdigest()[:6]}"


def cache_path(root: str | os.PathLike, cfg: features_lib.FeatureConfig, cache_dir: str | os.PathLike) -> Path:
    return Path(cache_dir) / f"{corpus_name(root)}-{cfg.recipe}-{cfg.key()}.h5"


# --------------------------------------------------------------------------------------------
# Locking and journal


@contextlib.contextmanager
def _lock(path: Path, wait: bool) -> Iterator[None]:
    def busy(holder: str) -> CacheLockedError:
        return CacheLockedError(f"{path} is being written by another precompute (pid {holder}); wait for it to "
                                "finish, or pass --wait to queue behind it")

    def on_wait(holder: str) -> None:
        print(f"waiting for another precompute (pid {holder}) to finish writing {path} ...", flush=True)

    with lockfile.exclusive(path.with_name(path.name + ".lock"), busy, wait=wait, on_wait=on_wait):
        yield


def _journal_dir(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def _journal_file(journal: Path, rel: str) -> Path:
    return journal / (hashlib.sha1(rel.encode()).hexdigest() + ".npz")


def _write_atomic_npz(dest: Path, **arrays: np.ndarray) -> None:
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except OSError as e:  # name the folder: a full disk here is the journal's
        tmp.unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror or str(e), str(dest.parent)) from None


def _read_journal(journal: Path) -> dict[str, dict]:
    """Entries of an interrupted run, keyed by relative path; unreadable entries are ignored."""
    entries: dict[str, dict] = {}
    if not journal.is_dir():
        return entries
    for f in journal.glob("*.npz"):
        try:
            with np.load(f, allow_pickle=False) as z:
                rel = str(z["rel"])
                entries[rel] = {
                    "size": int(z["size"]),
                    "mtime_ns": int(z["mtime_ns"]),
                    "sha1": str(z["sha1"]),
                    "error": str(z["error"]),
                    "features": z["features"] if "features" in z.files else None,
                }
        except Exception:  # a torn entry from a kill: recompute that file
            continue
    return entries


# --------------------------------------------------------------------------------------------
# Workers


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
        feats = features_lib.prepare(features_lib.load_audio(path, cfg), cfg)
    except features_lib.AudioError as e:
        return None, str(e).splitlines()[0], sha1
    except Exception as e:  # never let one file stop the run
        return None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", sha1
    if not np.all(np.isfinite(feats)):
        return None, "non-finite feature values", sha1
    return feats.astype(np.float32, copy=False), "", sha1


# --------------------------------------------------------------------------------------------
# Reading


def _open_checked(path: Path, formats: Sequence[int] = (FORMAT_VERSION,)) -> h5py.File:
    if not path.exists():
        raise CacheError(f"no feature cache at {path}; build it with python -m ser_jax.precompute")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise CacheError(
            f"{path} is not a readable HDF5 file (truncated or corrupted: {str(e).splitlines()[0]}); "
            "delete it and run python -m ser_jax.precompute again"
        ) from None
    fmt = f.attrs.get("format_version")
    if fmt not in formats or not bool(f.attrs.get("complete", False)):
        f.close()
        what = (
            f"has format version {fmt}, expected {FORMAT_VERSION}"
            if fmt not in formats
            else "is unfinished (no 'complete' mark)"
        )
        raise CacheError(f"{path} {what}; delete it and run python -m ser_jax.precompute again")
    return f


def _digest(values: np.ndarray) -> str:
    """SHA-256 of a dataset's values (strings by their UTF-8 bytes, numbers by dtype, shape and bytes)."""
    h = hashlib.sha256()
    if values.dtype.kind == "O":
        for v in values.tolist():
            b = v.encode() if isinstance(v, str) else bytes(v)
            h.update(len(b).to_bytes(8, "little") + b)
    else:
        h.update(f"{values.dtype.str}{values.shape}".encode())
        h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


def _read_values(ds: h5py.Dataset) -> np.ndarray:
    return _strings(ds) if h5py.check_string_dtype(ds.dtype) is not None else ds[()]


def _all_digests(f: h5py.File) -> dict[str, str]:
    out: dict[str, str] = {}

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset) and name != "features":
            out[name] = _digest(_read_values(obj))

    f.visititems(visit)
    return out


def _verify_digests(f: h5py.File, path: Path) -> None:
    """CacheError naming the first dataset whose contents differ from what was written."""
    if int(f.attrs.get("format_version", 0)) < DIGESTS_FROM:
        return
    try:
        expected = json.loads(f.attrs["digests"])
    except (KeyError, ValueError, TypeError):
        raise CacheError(f"{path} is damaged: its checksums are missing or unreadable; delete it and run "
                         "python -m ser_jax.precompute again") from None
    for name, digest in sorted(expected.items()):
        try:
            ok = name in f and _digest(_read_values(f[name])) == digest
        except (OSError, KeyError, ValueError, UnicodeDecodeError):
            ok = False
        if not ok:
            raise CacheError(f"{path} is damaged: dataset {name} does not match its checksum; delete it and run "
                             "python -m ser_jax.precompute again")
    extra = sorted(set(_all_digests(f)) - set(expected))
    if extra:
        raise CacheError(f"{path} is damaged: unexpected dataset {extra[0]}; delete it and run precompute again")


def _strings(ds: h5py.Dataset) -> np.ndarray:
    return np.asarray(ds.asstr()[()], dtype=object) if len(ds) else np.asarray([], dtype=object)


def load(
    path: str | os.PathLike, expect: features_lib.FeatureConfig | None = None, *, lazy: bool = False
) -> FeatureSet:
    """Reads a complete cache into memory; raises CacheError saying what is wrong and how to fix it.

    ``lazy``: everything but the features, which stay on disk (``stream.CacheRows``) and are
    checked (checksum, finiteness) when a batch reads them: for corpora larger than memory.
    """
    path = Path(path)
    f = _open_checked(path)
    try:
        cfg = features_lib.FeatureConfig.from_dict(json.loads(f.attrs["config"]))
        if expect is not None and f.attrs["config_key"] != expect.key():
            raise CacheError(
                f"{path} was made with another feature config or library versions "
                f"(key {f.attrs['config_key']}, expected {expect.key()}); run python -m ser_jax.precompute "
                "to build the cache for this config"
            )
        _verify_digests(f, path)
        feats = (stream.CacheRows(path, f["features"].shape, CacheError) if lazy else f["features"][()])
        lengths = f["lengths"][()].astype(np.int32)
        meta = {}
        for name, kind in _columns(f):
            ds = f["meta"][name]
            meta[name] = _strings(ds) if kind == "str" else ds[()]
        paths = tuple(_strings(f["files/rel"]))
        layout = tuple(
            (str(n), int(a), int(b))
            for n, a, b in zip(_strings(f["layout/name"]), f["layout/start"][()], f["layout/stop"][()])
        )
        failed = tuple(zip(_strings(f["failed/rel"]), _strings(f["failed/reason"])))
        root = str(f.attrs["corpus_root"])
    except CacheError:
        raise
    except (OSError, KeyError, ValueError) as e:
        raise CacheError(
            f"{path} is corrupted ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
            "delete it and run python -m ser_jax.precompute again"
        ) from None
    finally:
        f.close()
    n = len(lengths)
    if feats.ndim != 3 or feats.shape[0] != n or len(paths) != n or any(len(v) != n for v in meta.values()):
        raise CacheError(f"{path} has inconsistent row counts; delete it and run precompute again")
    problem = _inconsistency(feats, lengths, layout, cfg)
    if problem:
        raise CacheError(f"{path} is damaged: {problem}; delete it and run python -m ser_jax.precompute again")
    return FeatureSet(feats, lengths, meta, paths, layout, cfg, root, failed, str(path))


def _inconsistency(feats: np.ndarray, lengths: np.ndarray, layout: tuple, cfg: features_lib.FeatureConfig) -> str:
    """What is inconsistent between a cache's arrays and its config ('' when nothing)."""
    if tuple(layout) != features_lib.feature_layout(cfg):
        return f"its layout {list(layout)} is not that of its config"
    if feats.ndim == 3 and feats.shape[2] != features_lib.num_features(cfg):
        return f"it has {feats.shape[2]} feature rows, its config {features_lib.num_features(cfg)}"
    if len(lengths) and (lengths.min() < 1 or lengths.max() > feats.shape[1]):
        return f"a row length is outside [1, {feats.shape[1]}]"
    if stream.is_lazy(feats):
        return ""  # rows are checked as they are read
    bad = np.flatnonzero(~np.isfinite(feats).all(axis=(1, 2))) if feats.size else []
    if len(bad):
        return f"{len(bad)} row(s) hold non-finite features (first: row {bad[0]})"
    return ""


def damage(path: str | os.PathLike) -> str:
    """Why an existing cache file cannot be trusted ('' when it can): everything load() verifies.

    A complete cache of an older format is not damaged: a rebuild borrows its feature rows.
    """
    try:
        with _open_checked(Path(path), READABLE_FEATURE_FORMATS) as f:
            if int(f.attrs["format_version"]) < FORMAT_VERSION:
                return ""
        load(path)
    except CacheError as e:
        return str(e).split("; delete it")[0]
    return ""


def _columns(f: h5py.File) -> list[tuple[str, str]]:
    return [(str(n), str(k)) for n, k in json.loads(f.attrs["columns"])]


def _meta_signature(corpus: corpora.Corpus) -> str:
    """What the cache's metadata depends on besides the files: format, reader, corpus name, columns."""
    return json.dumps([FORMAT_VERSION, corpus.reader, corpus.name, _all_columns(corpus)])


def _all_columns(corpus: corpora.Corpus) -> list[tuple[str, str]]:
    return [(c, "str") for c in corpora.GENERIC_COLUMNS] + [list(c) for c in corpus.columns]


def _read_index(path: Path, key: str, signature: str | None = None) -> dict[str, dict] | None:
    """What an existing cache holds (without feature data), keyed by relative path; None if unusable.

    With ``signature``, a cache whose metadata was written differently (an older format, another
    reader) still lends its feature rows; its index then carries ``"stale_meta": True`` rows.
    """
    try:
        with _open_checked(path, READABLE_FEATURE_FORMATS) as f:
            if f.attrs["config_key"] != key:
                return None
            _verify_digests(f, path)
            stale = signature is not None and str(f.attrs.get("meta_signature", "")) != signature
            index = {
                r: {"size": int(s), "mtime_ns": int(m), "sha1": h, "error": "", "row": i}
                for i, (r, s, m, h) in enumerate(zip(
                    _strings(f["files/rel"]), f["files/size"][()], f["files/mtime_ns"][()],
                    _strings(f["files/sha1"])))
            }
            for r, reason, s, m in zip(
                _strings(f["failed/rel"]), _strings(f["failed/reason"]), f["failed/size"][()],
                f["failed/mtime_ns"][()],
            ):
                index[r] = {"size": int(s), "mtime_ns": int(m), "sha1": "", "error": reason, "row": None}
            if stale:
                index[_STALE] = {}
            return index
    except (CacheError, OSError, KeyError, ValueError):
        return None


def _fill_features(path: Path, entries: list[dict]) -> None:
    """Reads the feature rows of kept cache entries (those with a 'row' and no features yet)."""
    wanted = [e for e in entries if e.get("row") is not None and e.get("features") is None]
    if not wanted:
        return
    with h5py.File(path, "r") as f:
        feats, lengths = f["features"][()], f["lengths"][()]
    for e in wanted:
        e["features"] = feats[e["row"], : lengths[e["row"]]]


_STALE = "\0stale-metadata"  # a key no relative path can be


def _failed_of(path: Path) -> tuple[tuple[str, str], ...]:
    with _open_checked(path) as f:
        return tuple(zip(_strings(f["failed/rel"]).tolist(), _strings(f["failed/reason"]).tolist()))


def is_up_to_date(path: Path, corpus: corpora.Corpus, cfg: features_lib.FeatureConfig) -> bool:
    """True when the cache is complete, made for cfg and this reader, and matches every file's size and mtime.

    False for a corpus whose files were copied or touched (new mtimes); ``build`` then finds the same
    bytes by their content hash and rewrites only the index, computing nothing."""
    index = _read_index(path, cfg.key(), _meta_signature(corpus)) if path.exists() else None
    if index is None or _STALE in index or _journal_dir(path).exists():
        return False
    return {r: (e["size"], e["mtime_ns"]) for r, e in index.items()} == {
        r: (s, m) for r, (_, s, m) in _stat_all(corpus).items()
    }


# --------------------------------------------------------------------------------------------
# Writing


def _stat_all(corpus: corpora.Corpus) -> dict[str, tuple[corpora.Record, int, int]]:
    out = {}
    for u in corpus.records:
        st = os.stat(u.path)
        out[os.path.relpath(u.path, corpus.root)] = (u, st.st_size, st.st_mtime_ns)
    return out


def _str_dataset(group: h5py.Group, name: str, values: Sequence[str]) -> None:
    group.create_dataset(name, data=np.asarray(list(values), dtype=object), dtype=h5py.string_dtype())


def _write_cache(
    dest: Path,
    corpus: corpora.Corpus,
    cfg: features_lib.FeatureConfig,
    rows: list[tuple[str, corpora.Record, int, int, str, np.ndarray]],
    failed: list[tuple[str, str, int, int]],
) -> None:
    """Writes a complete cache to a temporary file and renames it over dest."""
    n_feat = features_lib.num_features(cfg)
    dtype = features_lib.storage_dtype(cfg)
    t_max = max((r[5].shape[0] for r in rows), default=1)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    # Stop before writing when the space is visibly short: h5py may crash, not raise, on a full disk.
    need = int(len(rows) * t_max * n_feat * dtype.itemsize * 1.05) + 8 * 2**20
    free = shutil.disk_usage(dest.parent).free
    if free < need:
        raise CacheError(f"not enough disk space to write {dest}: it needs about {need / 2**20:.0f} MiB, "
                         f"{free / 2**20:.0f} MiB are free; free some space and run again (every computed file is "
                         "kept in its journal)")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["config"] = json.dumps(cfg.to_dict(), sort_keys=True)
            f.attrs["config_key"] = cfg.key()
            f.attrs["versions"] = json.dumps(_versions(), sort_keys=True)
            f.attrs["corpus_root"] = corpus.root
            f.attrs["corpus_source"] = corpus.source
            f.attrs["columns"] = json.dumps(_all_columns(corpus))
            f.attrs["meta_signature"] = _meta_signature(corpus)
            f.attrs["created"] = datetime.datetime.now().isoformat(timespec="seconds")
            ds = f.create_dataset(
                "features", shape=(len(rows), t_max, n_feat), dtype=dtype,
                chunks=(1, t_max, n_feat) if rows else None, fletcher32=bool(rows),
            )
            lengths = np.zeros(len(rows), np.int32)
            block = np.zeros((min(256, max(len(rows), 1)), t_max, n_feat), dtype)
            for start in range(0, len(rows), len(block)):
                chunk = rows[start : start + len(block)]
                block[:] = 0.0
                for j, r in enumerate(chunk):
                    block[j, : r[5].shape[0]] = r[5]
                    lengths[start + j] = r[5].shape[0]
                ds[start : start + len(chunk)] = block[: len(chunk)]
            f.create_dataset("lengths", data=lengths)
            meta = f.create_group("meta")
            for name, kind in _all_columns(corpus):
                values = [r[1][name] for r in rows]
                if kind == "str":
                    _str_dataset(meta, name, values)
                else:
                    meta.create_dataset(name, data=np.asarray(values, np.int32))
            files = f.create_group("files")
            _str_dataset(files, "rel", [r[0] for r in rows])
            files.create_dataset("size", data=np.asarray([r[2] for r in rows], np.int64))
            files.create_dataset("mtime_ns", data=np.asarray([r[3] for r in rows], np.int64))
            _str_dataset(files, "sha1", [r[4] for r in rows])
            lay = f.create_group("layout")
            layout = features_lib.feature_layout(cfg)
            _str_dataset(lay, "name", [n for n, _, _ in layout])
            lay.create_dataset("start", data=np.asarray([a for _, a, _ in layout], np.int32))
            lay.create_dataset("stop", data=np.asarray([b for _, _, b in layout], np.int32))
            fail = f.create_group("failed")
            _str_dataset(fail, "rel", [x[0] for x in failed])
            _str_dataset(fail, "reason", [x[1] for x in failed])
            fail.create_dataset("size", data=np.asarray([x[2] for x in failed], np.int64))
            fail.create_dataset("mtime_ns", data=np.asarray([x[3] for x in failed], np.int64))
            f.attrs["digests"] = json.dumps(_all_digests(f), sort_keys=True)
            f.attrs["complete"] = True  # last: a file without it is never read
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except OSError as e:
        raise CacheError(f"cannot write {dest}: {e.strerror or str(e).splitlines()[0]}; every computed file is kept "
                         "in its journal, run again once that is fixed") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _versions() -> dict[str, str]:
    # From the package metadata: importing librosa here would load numba's code (see ser_jax.workers).
    lib = features_lib.library_versions()
    return {"ser_jax_format": str(FORMAT_VERSION), "librosa": lib["librosa"], "numpy": np.__version__,
            "scipy": lib["scipy"], "h5py": h5py.__version__}


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
    path = cache_path(corpus.source, cfg, cache_dir)
    if is_up_to_date(path, corpus, cfg):  # nothing to write: no lock needed (a read-only folder is fine)
        failed = _failed_of(path)
        return BuildSummary(str(path), len(corpus), 0, len(corpus), 0, failed, len(corpus.skipped),
                            time.perf_counter() - t0, wrote=False)
    with _lock(path, wait):
        for leftover in path.parent.glob(f".{path.name}.*.tmp"):  # of writers that died; we hold the lock
            leftover.unlink(missing_ok=True)
        damaged = damage(path) if path.exists() else ""
        if damaged:
            if progress:
                print(f"note: {damaged}; rebuilding it", flush=True)
            path.unlink()
        current = _stat_all(corpus)
        old = _read_index(path, cfg.key(), _meta_signature(corpus)) if path.exists() else None
        stale_meta = old is not None and old.pop(_STALE, None) is not None
        journal = _journal_dir(path)
        pending = _read_journal(journal)

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
        _compute(todo, current, cfg, journal, done, workers, progress)
        _fill_features(path, list(done.values()))

        rows, failed = [], []
        for rel, (u, size, mtime) in current.items():  # discovery (sorted) order
            e = done[rel]
            if e["error"]:
                failed.append((rel, e["error"], size, mtime))
            else:
                rows.append((rel, u, size, mtime, e["sha1"], e["features"]))
        _write_cache(path, corpus, cfg, rows, failed)
        shutil.rmtree(journal, ignore_errors=True)
    return BuildSummary(str(path), len(current), len(todo), cached, removed,
                        tuple((r, e) for r, e, _, _ in failed), len(corpus.skipped),
                        time.perf_counter() - t0, wrote=True)


# --------------------------------------------------------------------------------------------
# Sharded builds: N jobs (machines, or array jobs of a cluster scheduler) each compute a disjoint
# slice of the corpus into a part, a journal of their own; a merge writes the one cache from them.


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
) -> BuildSummary:
    """Computes shard K of N of the corpus into its part (resumable: a killed shard keeps what it finished)."""
    t0 = time.perf_counter()
    k, n = shard
    path = cache_path(corpus.source, cfg, Path(cache_dir))
    part = part_dir(path, k, n)
    part.mkdir(parents=True, exist_ok=True)
    with _lock(part, wait):
        current = _stat_all(corpus)
        mine = shard_files(current, k, n)
        pending = _read_journal(part)
        done = {rel: pending[rel] for rel in mine if rel in pending
                and (pending[rel]["size"], pending[rel]["mtime_ns"]) == current[rel][1:]}
        todo = [rel for rel in mine if rel not in done]
        cached = len(done)
        _compute(todo, current, cfg, part, done, workers, progress)
        tmp = part / f".{_PART_DONE}.tmp"
        tmp.write_text(json.dumps({"shard": k, "shards": n, "files": len(mine), "key": cfg.key()}))
        os.replace(tmp, part / _PART_DONE)  # last: the part is finished
    failed = tuple((rel, done[rel]["error"]) for rel in mine if done[rel]["error"])
    return BuildSummary(str(part), len(mine), len(todo), cached, 0, failed, len(corpus.skipped),
                        time.perf_counter() - t0, wrote=True)


def merge_shards(
    corpus: corpora.Corpus, cfg: features_lib.FeatureConfig, cache_dir: str | os.PathLike, shards: int,
    *, workers: int | None = None, progress: bool = True, wait: bool = False,
) -> BuildSummary:
    """The cache from the N finished parts, written exactly as a single build writes it (any file no
    part holds, e.g. one added since, is computed here); the parts are removed after."""
    path = cache_path(corpus.source, cfg, Path(cache_dir))
    parts = [part_dir(path, k, shards) for k in range(1, shards + 1)]
    missing = [k for k, p in enumerate(parts, 1) if not (p / _PART_DONE).is_file()]
    if missing:
        raise CacheError(f"{path}: shard(s) {', '.join(map(str, missing))} of {shards} not finished; run precompute "
                         f"--shard=K/{shards} for each, then merge again")
    with _lock(path, wait):
        journal = _journal_dir(path)
        journal.mkdir(exist_ok=True)
        for p in parts:  # a move per file: an interrupted merge leaves each entry in a part or the journal
            for f in p.glob("*.npz"):
                os.replace(f, journal / f.name)
    summary = build(corpus, cfg, cache_dir, workers=workers, progress=progress, wait=wait)
    for p in parts:
        shutil.rmtree(p, ignore_errors=True)
        p.with_name(p.name + ".lock").unlink(missing_ok=True)
    return summary


_ENCODE_BATCH = 64  # clips an encoder recipe gathers before encoding them (sorted by length, in batches)


def _compute(
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
        _write_atomic_npz(_journal_file(journal, rel), **arrays)
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
        for out in workers_lib.run("ser_jax.cache:_work", tasks, workers):
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
    path = cache_path(corpus.source, cfg, cache_dir)
    if not is_up_to_date(path, corpus, cfg):
        summary = build(corpus, cfg, cache_dir, workers=workers, progress=progress, wait=True)
        if progress:
            print(summary, flush=True)
    try:
        return load(path, expect=cfg, lazy=lazy)
    except CacheError as e:  # damaged after all (e.g. a feature chunk): say so, rebuild once
        if not damage(path):
            raise
        print(f"note: {str(e).split('; delete it')[0]}; rebuilding it", flush=True)
        path.unlink(missing_ok=True)
        summary = build(corpus, cfg, cache_dir, workers=workers, progress=progress, wait=True)
        if progress:
            print(summary, flush=True)
        return load(path, expect=cfg, lazy=lazy)
