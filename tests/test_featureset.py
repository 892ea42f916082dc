"""Feature sets (ser_jax.featureset): caches of several corpora joined, and only of one feature config."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from cache.helpers import CFG, build, make_corpus

from ser_jax import cache, featureset
from ser_jax.cache import format as cache_format


def test_concat_joins_corpora_and_refuses_different_feature_configs(tmp_path):
    make_corpus(tmp_path / "a", n=4)
    make_corpus(tmp_path / "b", n=2)
    a = cache_format.load(build(tmp_path / "a", tmp_path / "cache").path)
    b = cache_format.load(build(tmp_path / "b", tmp_path / "cache").path)
    both = featureset.concat([a, b])
    assert len(both) == 6 and both.corpus_root == str(tmp_path)
    assert both.paths[0].startswith("a/") and both.paths[-1].startswith("b/")
    np.testing.assert_array_equal(both.features[4:], b.features)
    other = dataclasses.replace(CFG, n_mfcc=12)
    c = cache_format.load(build(tmp_path / "b", tmp_path / "cache", cfg=other).path)
    with pytest.raises(cache.CacheError, match="different feature configs.*n_mfcc=13.*n_mfcc=12"):
        featureset.concat([a, c])
