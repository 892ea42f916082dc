"""Features read from disk batch by batch: the same rows, the same scaling, the same training result."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from ser_jax import cache, corpora, featureset, normalize, splits, stream
from ser_jax import config as config_lib
from ser_jax.cache import format as cache_format
from ser_jax.testing.tiny import TINY_FEATURES
from ser_jax.train import data as train_data


@pytest.fixture(scope="module")
def tiny_set(tiny_corpus, tiny_cache_dir):
    path = cache_format.cache_path(corpora.read(tiny_corpus).source, TINY_FEATURES, tiny_cache_dir)
    return cache_format.load(path), cache_format.load(path, lazy=True)


def test_lazy_rows_read_what_the_in_memory_load_holds_in_any_order(tiny_set):
    eager, lazy = tiny_set
    assert isinstance(lazy.features, stream.CacheRows) and lazy.features.shape == eager.features.shape
    rows = np.asarray([5, 0, 5, len(eager) - 1, 17])  # unsorted, repeated
    np.testing.assert_array_equal(lazy.features[rows], eager.features[rows])
    assert lazy.meta.keys() == eager.meta.keys() and lazy.paths == eager.paths
    with pytest.raises(IndexError):
        lazy.features[np.asarray([len(eager)])]


def test_views_stacks_and_scaling_equal_their_in_memory_counterparts(tiny_set):
    eager, lazy = tiny_set
    groups = ("mfcc", "rms")
    np.testing.assert_array_equal(lazy.select_groups(groups).features[np.arange(9)],
                                  eager.select_groups(groups).features[:9])
    both, both_eager = featureset.concat([lazy, lazy]), featureset.concat([eager, eager])
    rows = np.asarray([3, len(eager) + 3, 2 * len(eager) - 1])
    np.testing.assert_array_equal(both.features[rows], both_eager.features[rows])
    padded = stream.View(lazy.features, rows=np.asarray([4, 1]), frames=lazy.features.shape[1] + 3)
    assert padded.shape[1] == lazy.features.shape[1] + 3
    np.testing.assert_array_equal(padded[np.asarray([0, 1])][:, -3:], 0.0)

    train, used = np.arange(0, 200), np.arange(0, 250)
    tc = config_lib.TrainConfig()
    split = splits.Split(name="t", train=train, val=np.arange(200, 225), test=np.arange(225, 250), leaky=False,
                         fold=None, description="")
    for tcfg in (tc, config_lib.TrainConfig(speaker_norm=True)):
        x_eager, norm_eager = train_data.standardize_rows(eager, split, tcfg)
        x_lazy, norm_lazy = train_data.standardize_rows(lazy, split, tcfg)
        assert isinstance(x_lazy, stream.Scaled)
        np.testing.assert_array_equal(x_lazy[np.arange(len(eager))], x_eager)  # unused rows: zeros in both
        np.testing.assert_array_equal(norm_lazy["mean"], norm_eager["mean"])
    mean, std = normalize.fit_standardizer(lazy.features, lazy.lengths, used)  # chunked reads from disk
    np.testing.assert_array_equal(mean, normalize.fit_standardizer(eager.features, eager.lengths, used)[0])


def test_materialized_rows_equal_the_in_memory_load_in_its_stored_type(tiny_set):
    eager, lazy = tiny_set
    x = stream.materialize(lazy.features)
    assert x.dtype == eager.features.dtype
    np.testing.assert_array_equal(x, eager.features)
    groups = ("mfcc", "rms")
    np.testing.assert_array_equal(stream.materialize(featureset.concat([lazy, lazy]).select_groups(groups).features),
                                  featureset.concat([eager, eager]).select_groups(groups).features)


def test_training_opens_each_cache_once_whatever_stream_decides(tiny_corpus, tiny_cache_dir, monkeypatch):
    from ser_jax.testing.tiny import TINY_FEATURES as feats

    opened = []
    load = cache_format.load

    def counting(path, *args, **kwargs):
        opened.append(str(path))
        return load(path, *args, **kwargs)

    monkeypatch.setattr(cache_format, "load", counting)
    for mode, streaming in (("auto", False), ("on", True), ("off", False)):
        opened.clear()
        cfg = config_lib.ExperimentConfig(data_dir=str(tiny_corpus), cache_dir=str(tiny_cache_dir), features=feats,
                                          stream=mode, workers=2)
        prepared = train_data.prepare(cfg, progress=False)
        assert prepared.streaming == streaming and stream.is_lazy(prepared.features.features) == streaming
        assert len(opened) == 1, (mode, opened)


def test_a_damaged_row_is_a_one_line_cache_error_at_the_read_that_touches_it(tiny_set, tmp_path):
    import shutil

    import h5py

    _, lazy = tiny_set
    copy = tmp_path / "damaged.h5"
    shutil.copy(lazy.features.path, copy)
    with h5py.File(copy, "r+") as f:  # fletcher32 per chunk would catch raw damage; a NaN is valid HDF5
        row = f["features"][7]
        row[0, 0] = np.nan
        f["features"][7] = row
    rows = stream.CacheRows(copy, lazy.features.shape, cache.CacheError)
    rows[np.asarray([1, 2])]  # other rows still read
    with pytest.raises(cache.CacheError, match=r"damaged\.h5 is damaged: row 7 holds non-finite features"):
        rows[np.asarray([3, 7])]


def test_prefetch_keeps_order_is_bounded_re_raises_and_stops_when_closed():
    made = []

    def items():
        for i in range(100):
            made.append(i)
            yield i

    it = stream.prefetch(items(), size=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    time.sleep(0.2)
    assert len(made) <= 3 + 2 + 1  # consumed + queued + one in hand
    it.close()
    assert not any(t.name == "ser_jax-prefetch" and t.is_alive() for t in threading.enumerate())

    def broken():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(stream.prefetch(broken()))
    assert list(stream.prefetch(iter(range(5)), size=1)) == [0, 1, 2, 3, 4]


def test_auto_streams_only_when_the_in_memory_copies_would_not_fit():
    gib = 2**30
    assert not stream.should_stream("auto", 1 * gib, available=16 * gib)
    assert stream.should_stream("auto", 10 * gib, available=16 * gib)
    assert stream.should_stream("on", 1, available=16 * gib) and not stream.should_stream("off", 100 * gib, 1)


# Training from disk equals training in memory: tests/test_parallel.py trains a run with --stream=on in
# two processes against the same run in memory in one (one test for both, to spare CI two trainings).
