"""A feature cache's content hash (ser_jax.cache.content): stored in the cache, an older cache hashed
alike, independent of the worker count.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import pytest

from ser_jax import corpora, provenance, synth
from ser_jax.cache import build as cache_build
from ser_jax.cache import content
from ser_jax.testing.tiny import TINY_FEATURES


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small")
    synth.synthesize(root, actors=1, seed=0, sample_rate=16000, emotions=[1, 5], channels=["speech"])
    return root


def test_the_cache_stores_its_features_hash_and_an_older_cache_is_hashed_alike(small_corpus, tmp_path):
    built = cache_build.build(corpora.read(small_corpus), TINY_FEATURES, tmp_path / "c", workers=1, progress=False)
    digest = content.digest(built.path)
    with h5py.File(built.path, "r") as f:
        assert f.attrs[content.FEATURES_DIGEST] == provenance.hash_array(f["features"][()])
    older = tmp_path / "older.h5"  # as written before the attribute existed
    shutil.copy(built.path, older)
    with h5py.File(older, "r+") as f:
        del f.attrs[content.FEATURES_DIGEST]
    assert content.digest(older) == digest

    with h5py.File(older, "r+") as f:  # one feature value changed: the features part, nothing else
        f["features"][2, 1, 0] += 1e-3
    changed = content.digest(older)
    assert changed["features"] != digest["features"] and changed["sha256"] != digest["sha256"]
    assert {k: changed[k] for k in ("lengths", "meta", "paths")} == {k: digest[k] for k in ("lengths", "meta", "paths")}


def test_the_cache_content_does_not_depend_on_the_worker_count(small_corpus, tmp_path, monkeypatch):
    """Workers finish in any order and their number follows os.cpu_count(); the cache must not."""
    digests = []
    for cores in (1, 3):
        monkeypatch.setattr("os.cpu_count", lambda cores=cores: cores)
        built = cache_build.build(corpora.read(small_corpus), TINY_FEATURES, tmp_path / f"c{cores}", workers=None,
                                  progress=False)
        digests.append(content.digest(built.path))
    assert digests[0] == digests[1]
