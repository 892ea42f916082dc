"""The cache file (ser_jax.cache.format): corrupted or unfinished caches detected with a fix, a cache
of the previous format lending its features.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from ser_jax import cache, corpora
from ser_jax.cache import format as cache_format

from .helpers import CFG, build, make_corpus


def test_corrupted_or_unfinished_cache_is_detected_with_a_fix(tmp_path):
    make_corpus(tmp_path / "data", n=3)
    s = build(tmp_path / "data", tmp_path / "cache")
    good = Path(s.path).read_bytes()

    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(cache.CacheError, match="delete it and run python -m ser_jax.precompute"):
        cache_format.load(truncated)

    unfinished = tmp_path / "unfinished.h5"
    unfinished.write_bytes(good)
    with h5py.File(unfinished, "a") as f:
        del f.attrs["complete"]
    with pytest.raises(cache.CacheError, match="unfinished"):
        cache_format.load(unfinished)

    flipped = tmp_path / "flipped.h5"
    with h5py.File(Path(s.path), "r") as f:
        offset = f["features"].id.get_chunk_info(1).byte_offset
    data = bytearray(good)
    data[offset + 100] ^= 0xFF
    flipped.write_bytes(bytes(data))
    with pytest.raises(cache.CacheError, match="corrupted"):
        cache_format.load(flipped)

    with pytest.raises(cache.CacheError, match="no feature cache"):
        cache_format.load(tmp_path / "missing.h5")

    # A corrupted cache in place is rebuilt, not trusted.
    Path(s.path).write_bytes(good[: len(good) // 2])
    rebuilt = build(tmp_path / "data", tmp_path / "cache")
    assert rebuilt.computed == 3 and cache_format.load(rebuilt.path).features.shape[0] == 3


def test_a_cache_of_the_previous_format_lends_its_features_and_is_rewritten(tmp_path):
    """Format 1 (RAVDESS columns only) is rewritten with the reader's columns; no file is recomputed."""
    make_corpus(tmp_path / "data")
    s = build(tmp_path / "data", tmp_path / "cache")
    before = cache_format.load(s.path)
    with h5py.File(s.path, "r+") as f:  # what a format-1 cache looks like to the reader
        f.attrs["format_version"] = 1
        del f.attrs["meta_signature"]
    assert not cache_format.is_up_to_date(Path(s.path), corpora.read(tmp_path / "data"), CFG)
    again = build(tmp_path / "data", tmp_path / "cache")
    assert (again.computed, again.cached, again.wrote) == (0, 6, True)
    after = cache_format.load(s.path)
    np.testing.assert_array_equal(after.features, before.features)
    assert list(after.meta["speaker"]) == ["ravdess:01"] * 3 + ["ravdess:02"] * 3
    assert set(after.meta) >= {"corpus", "speaker", "emotion", "gender", "channel", "actor"}
