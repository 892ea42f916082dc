"""What lets a killed build resume: the writer's lock and the journal of finished utterances.

Every finished utterance is journalled as its own small ``.npz`` file, written to a temporary name and
atomically renamed, so a run killed at any moment keeps every clip it finished; a torn entry is simply
recomputed. A shard's part is a journal of the same kind. The lock (``flock``, released by the kernel
even on SIGKILL) keeps two writers of one cache apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from ser_jax import lockfile
from ser_jax.cache import CacheLockedError


@contextlib.contextmanager
def lock(path: Path, wait: bool) -> Iterator[None]:
    def busy(holder: str) -> CacheLockedError:
        return CacheLockedError(f"{path} is being written by another precompute (pid {holder}); wait for it to "
                                "finish, or pass --wait to queue behind it")

    def on_wait(holder: str) -> None:
        print(f"waiting for another precompute (pid {holder}) to finish writing {path} ...", flush=True)

    with lockfile.exclusive(path.with_name(path.name + ".lock"), busy, wait=wait, on_wait=on_wait):
        yield


def dir_of(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def entry_path(journal: Path, rel: str) -> Path:
    return journal / (hashlib.sha1(rel.encode()).hexdigest() + ".npz")


def write_npz(dest: Path, **arrays: np.ndarray) -> None:
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


def read(journal: Path) -> dict[str, dict]:
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

