"""A feature cache's content hash: what ``provenance.stages.features`` records for each cache a run reads.

The features are hashed as the cache is written (``format.write`` stores the digest in the
``features_sha256`` attribute), so a run reads one attribute instead of rehashing gigabytes; a cache
written before that attribute existed has its features hashed here, a block of rows at a time. The
small datasets (lengths, metadata columns, file names) are hashed as loaded, strings by their text.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from ser_jax import provenance
from ser_jax.cache import format as cache_format

FEATURES_DIGEST = "features_sha256"  # a cache file's attribute: provenance.hash_array of its features


def features_digest(f: h5py.File) -> str:
    """The stored digest of an open cache's features, or (an older cache) one computed now."""
    stored = f.attrs.get(FEATURES_DIGEST)
    return str(stored) if stored else provenance.hash_array(f["features"])


def digest(path: str | os.PathLike) -> dict:
    """The content hash of a cache (``sha256``) and of its parts: features, lengths, metadata columns
    (labels, speakers, ...) and file paths, so that a comparison says which part differs.

    Not in it: sizes, modification times and content hashes of the audio files (the corpus stage's),
    when and where the cache was written.
    """
    with h5py.File(Path(path), "r") as f:
        meta = {name: (cache_format._strings(f["meta"][name]) if kind == "str" else f["meta"][name][()])
                for name, kind in cache_format._columns(f)}
        parts = {"features": features_digest(f), "lengths": provenance.hash_array(f["lengths"][()]),
                 "meta": provenance.hash_arrays(meta),
                 "paths": provenance.hash_array(cache_format._strings(f["files/rel"]))}
        rows = int(f["lengths"].shape[0])
    return {"sha256": provenance.combine(parts), "rows": rows, **parts}
