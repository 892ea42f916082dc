"""A cache built in shards (ser_jax.cache.shards) and merged equals one build, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from ser_jax import cache, corpora, featureset
from ser_jax.cache import format as cache_format
from ser_jax.cache import shards as cache_shards

from .helpers import CFG, build, make_corpus


def _same_sets(a: featureset.FeatureSet, b: featureset.FeatureSet) -> None:
    assert a.paths == b.paths and a.config == b.config and a.layout == b.layout
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.lengths, b.lengths)
    assert a.meta.keys() == b.meta.keys()
    for k in a.meta:
        np.testing.assert_array_equal(a.meta[k], b.meta[k])


def test_shards_and_a_merge_give_the_cache_one_build_gives_bit_for_bit(tmp_path):
    make_corpus(tmp_path / "data", n=7)
    single = cache_format.load(build(tmp_path / "data", tmp_path / "one").path)
    corpus, shards = corpora.read(tmp_path / "data"), tmp_path / "shards"
    current = list(cache_format.stat_all(corpus))
    parts = [cache_shards.shard_files(dict.fromkeys(current), k, 3) for k in (1, 2, 3)]
    assert sorted(sum(parts, [])) == sorted(current) and sum(map(len, parts)) == 7  # disjoint, complete
    with pytest.raises(cache.CacheError, match=r"shard\(s\) 1, 2, 3 of 3 not finished; run precompute --shard=K/3"):
        cache_shards.merge_shards(corpus, CFG, shards, 3, workers=1, progress=False)
    for k in (3, 1, 2):  # any order, as jobs of a cluster finish
        s = cache_shards.build_shard(corpus, CFG, shards, (k, 3), workers=1, progress=False)
        assert (s.total, s.computed) == (len(parts[k - 1]), len(parts[k - 1]))
    merged = cache_shards.merge_shards(corpus, CFG, shards, 3, workers=1, progress=False)
    assert (merged.total, merged.computed, merged.cached) == (7, 0, 7)  # nothing recomputed in the merge
    _same_sets(cache_format.load(merged.path), single)
    assert not [p for p in shards.iterdir() if ".part-" in p.name]  # the parts (and their locks) are removed
