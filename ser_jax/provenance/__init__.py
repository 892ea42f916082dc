"""Content hashes of what each stage of a run started from, and two runs compared stage by stage.

Two runs of the same code, settings and seed that end differently parted somewhere: in the corpus
they read, the features computed from it, the model's initial parameters, or training itself. A
run's config.json therefore records, under ``provenance.stages``, in pipeline order:

    corpus            per corpus: its sorted file list and every file's bytes
    features          per feature cache: features, lengths, metadata columns (labels), file list
    init_params       per split: parameters and batch statistics before the first step
    test_predictions  per split: the test clips' predicted classes and probabilities

and ``runtime.host`` the CPU a run trained on (XLA's CPU kernels sum in an order that depends on
the cores and the vector instruction set: see docs/usage.md, "Comparing two runs"). Training itself
is compared by the epoch logs (metrics.jsonl), the first epoch whose numbers differ.

``python -m ser_jax.provenance RUN_A RUN_B`` prints each stage, same or not, and the first that
differs (exit status 0 when none does, 1 when one does).

The hash functions are pure: the same values give the same hex digest in any process or machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

STAGES = ("corpus", "features", "init_params", "test_predictions")
CHUNK_BYTES = 64 << 20  # arrays are hashed in row blocks of about this size (a large cache never in memory whole)


class ArrayHasher:
    """SHA-256 of one numeric array fed in row blocks, in order: the digest :func:`hash_array` gives
    for the whole array, so a writer can hash a cache as it writes it, block by block."""

    def __init__(self, dtype: Any, shape: Iterable[int]):
        self.dtype = np.dtype(dtype)
        self._h = hashlib.sha256(f"{self.dtype.str}{tuple(int(n) for n in shape)}".encode())

    def update(self, block: Any) -> None:
        self._h.update(np.ascontiguousarray(block, dtype=self.dtype).tobytes())

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def hash_array(values: Any, chunk_bytes: int = CHUNK_BYTES) -> str:
    """SHA-256 of an array's dtype, shape and values: a numpy array, an h5py dataset or anything
    sliced along its first axis (read a block at a time); strings by their UTF-8 bytes."""
    shape = tuple(int(n) for n in getattr(values, "shape", np.shape(values)))
    dtype = np.dtype(values.dtype if hasattr(values, "dtype") else np.asarray(values).dtype)
    if dtype.kind in "OUS":
        h = hashlib.sha256(f"str{shape}".encode())
        for v in np.asarray(values[()] if shape else values).ravel().tolist():
            b = v.encode() if isinstance(v, str) else bytes(v)
            h.update(len(b).to_bytes(8, "little") + b)
        return h.hexdigest()
    hasher = ArrayHasher(dtype, shape)
    if not shape:
        hasher.update(np.asarray(values))
        return hasher.hexdigest()
    row_bytes = max(1, int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize)
    step = max(1, chunk_bytes // row_bytes)
    for start in range(0, shape[0], step):
        hasher.update(values[start:start + step])
    return hasher.hexdigest()


def combine(parts: Mapping[str, str]) -> str:
    """One digest of named digests (order-free: by name)."""
    return hashlib.sha256(json.dumps(dict(sorted(parts.items())), separators=(",", ":")).encode()).hexdigest()


def hash_arrays(arrays: Mapping[str, Any], chunk_bytes: int = CHUNK_BYTES) -> str:
    """One digest of named arrays (each as :func:`hash_array`), independent of the mapping's order."""
    return combine({name: hash_array(a, chunk_bytes) for name, a in arrays.items()})


def hash_files(paths: Iterable[str | os.PathLike], root: str | os.PathLike) -> str:
    """SHA-256 of files: their names relative to ``root`` (sorted, '/'-separated: the same corpus
    anywhere on any machine hashes the same) and every file's bytes."""
    named = sorted((Path(os.path.relpath(p, root)).as_posix(), Path(p)) for p in paths)
    h = hashlib.sha256()
    for rel, path in named:
        h.update(len(rel.encode()).to_bytes(8, "little") + rel.encode())
        h.update(path.stat().st_size.to_bytes(8, "little"))
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    return h.hexdigest()


def hash_tree(tree: Any) -> str:
    """SHA-256 of a pytree of arrays (model parameters): every leaf's path, dtype, shape and values."""
    import jax

    leaves, _ = jax.tree_util.tree_flatten_with_path(jax.device_get(tree))
    return combine({jax.tree_util.keystr(path): hash_array(np.asarray(leaf)) for path, leaf in leaves})


def hash_json(obj: Any) -> str:
    """SHA-256 of a JSON-serialisable value (keys sorted), e.g. a run's test predictions."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


