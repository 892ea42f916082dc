"""A cache file: its name and content key, its HDF5 layout and checksums, reading it and writing it.

``load`` reads a complete cache (verifying everything) into a FeatureSet, ``damage`` says why an
existing file cannot be trusted, ``is_up_to_date`` whether it matches a corpus' files; ``write`` writes
one atomically (a temporary file renamed over it, its ``complete`` mark last). See ser_jax/cache for
the safety rules.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from ser_jax import corpora, provenance, stream
from ser_jax import features as features_lib
from ser_jax.cache import CacheError
from ser_jax.cache import journal as journal_lib
from ser_jax.featureset import FeatureSet

# 2: metadata columns come from the corpus reader (format 1 had RAVDESS' columns only). A format-1
# cache of the same feature config lends its feature rows to a rebuild, so nothing is recomputed.
# 3: a SHA-256 digest of every dataset but the features (those have Fletcher-32 per chunk).
FORMAT_VERSION = 3
READABLE_FEATURE_FORMATS = (1, 2, 3)
DIGESTS_FROM = 3  # the first format whose files carry digests


# --------------------------------------------------------------------------------------------
# Naming


def corpus_name(root: str | os.PathLike) -> str:
    """A readable, collision-free name for a corpus root: its folder name plus a path hash."""
    resolved = str(Path(root).expanduser().resolve())
    slug = re.sub(r"[^A-Za-z0-9_.]+", "_", Path(resolved).name).strip("_") or "corpus"
    return f"{slug}-{hashlib.sha1(resolved.encode()).hexdigest()[:6]}"


def cache_path(root: str | os.PathLike, cfg: features_lib.FeatureConfig, cache_dir: str | os.PathLike) -> Path:
    return Path(cache_dir) / f"{corpus_name(root)}-{cfg.recipe}-{cfg.key()}.h5"

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


def meta_signature(corpus: corpora.Corpus) -> str:
    """What the cache's metadata depends on besides the files: format, reader, corpus name, columns."""
    return json.dumps([FORMAT_VERSION, corpus.reader, corpus.name, _all_columns(corpus)])


def _all_columns(corpus: corpora.Corpus) -> list[tuple[str, str]]:
    return [(c, "str") for c in corpora.GENERIC_COLUMNS] + [list(c) for c in corpus.columns]


def read_index(path: Path, key: str, signature: str | None = None) -> dict[str, dict] | None:
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
                index[STALE] = {}
            return index
    except (CacheError, OSError, KeyError, ValueError):
        return None


def fill_features(path: Path, entries: list[dict]) -> None:
    """Reads the feature rows of kept cache entries (those with a 'row' and no features yet)."""
    wanted = [e for e in entries if e.get("row") is not None and e.get("features") is None]
    if not wanted:
        return
    with h5py.File(path, "r") as f:
        feats, lengths = f["features"][()], f["lengths"][()]
    for e in wanted:
        e["features"] = feats[e["row"], : lengths[e["row"]]]


STALE = "\0stale-metadata"  # a key no relative path can be


def failed_of(path: Path) -> tuple[tuple[str, str], ...]:
    with _open_checked(path) as f:
        return tuple(zip(_strings(f["failed/rel"]).tolist(), _strings(f["failed/reason"]).tolist()))


def is_up_to_date(path: Path, corpus: corpora.Corpus, cfg: features_lib.FeatureConfig) -> bool:
    """True when the cache is complete, made for cfg and this reader, and matches every file's size and mtime.

    False for a corpus whose files were copied or touched (new mtimes); ``build`` then finds the same
    bytes by their content hash and rewrites only the index, computing nothing."""
    index = read_index(path, cfg.key(), meta_signature(corpus)) if path.exists() else None
    if index is None or STALE in index or journal_lib.dir_of(path).exists():
        return False
    return {r: (e["size"], e["mtime_ns"]) for r, e in index.items()} == {
        r: (s, m) for r, (_, s, m) in stat_all(corpus).items()
    }


# --------------------------------------------------------------------------------------------
# Writing


def stat_all(corpus: corpora.Corpus) -> dict[str, tuple[corpora.Record, int, int]]:
    out = {}
    for u in corpus.records:
        st = os.stat(u.path)
        out[os.path.relpath(u.path, corpus.root)] = (u, st.st_size, st.st_mtime_ns)
    return out


def _str_dataset(group: h5py.Group, name: str, values: Sequence[str]) -> None:
    group.create_dataset(name, data=np.asarray(list(values), dtype=object), dtype=h5py.string_dtype())


def write(
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
            f.attrs["meta_signature"] = meta_signature(corpus)
            f.attrs["created"] = datetime.datetime.now().isoformat(timespec="seconds")
            ds = f.create_dataset(
                "features", shape=(len(rows), t_max, n_feat), dtype=dtype,
                chunks=(1, t_max, n_feat) if rows else None, fletcher32=bool(rows),
            )
            lengths = np.zeros(len(rows), np.int32)
            hasher = provenance.ArrayHasher(dtype, ds.shape)  # the features' content hash, as written
            block = np.zeros((min(256, max(len(rows), 1)), t_max, n_feat), dtype)
            for start in range(0, len(rows), len(block)):
                chunk = rows[start : start + len(block)]
                block[:] = 0.0
                for j, r in enumerate(chunk):
                    block[j, : r[5].shape[0]] = r[5]
                    lengths[start + j] = r[5].shape[0]
                ds[start : start + len(chunk)] = block[: len(chunk)]
                hasher.update(block[: len(chunk)])
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
            f.attrs["features_sha256"] = hasher.hexdigest()  # cache.content.FEATURES_DIGEST: runs' provenance
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

