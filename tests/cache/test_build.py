"""Building the HDF5 feature cache (ser_jax.cache.build): incremental (unchanged, touched, added,
removed and changed files), a cache per config, honest about bad files, one writer at a time, the
metadata of another reader. The format and its damage: test_format.py; shards: test_shards.py.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_jax import cache, corpora, features
from ser_jax.cache import build as cache_build
from ser_jax.cache import format as cache_format
from ser_jax.cache import journal as journal_lib
from ser_jax.corpora import ravdess

from .helpers import CFG, SR, build, make_corpus, tone


def test_build_then_load_round_trip(tmp_path):
    paths = make_corpus(tmp_path / "data")
    s = build(tmp_path / "data", tmp_path / "cache")
    assert (s.total, s.computed, s.cached, len(s.failed), s.wrote) == (6, 6, 0, 0, True)
    fs = cache_format.load(s.path, expect=CFG)
    assert fs.features.shape == (6, features.num_frames(int(0.5 * 16000), CFG), features.num_features(CFG))
    assert fs.features.dtype == np.float32 and np.isfinite(fs.features).all()
    assert list(fs.lengths) == [fs.features.shape[1]] * 6
    assert fs.paths == tuple(sorted(os.path.relpath(p, tmp_path / "data") for p in paths))
    assert list(fs.meta["actor"]) == [1, 1, 1, 2, 2, 2]
    assert set(fs.meta["emotion"]) <= set(ravdess.EMOTIONS.values())
    assert fs.layout == features.feature_layout(CFG)
    assert fs.config == CFG
    # Each row is exactly what the feature function computes for that file.
    first = tmp_path / "data" / fs.paths[0]
    np.testing.assert_array_equal(fs.features[0], features.compute(first, CFG))


def test_unchanged_rerun_computes_nothing_and_writes_nothing(tmp_path):
    make_corpus(tmp_path / "data")
    s = build(tmp_path / "data", tmp_path / "cache")
    mtime = os.stat(s.path).st_mtime_ns
    again = build(tmp_path / "data", tmp_path / "cache")
    assert (again.computed, again.cached, again.wrote) == (0, 6, False)
    assert os.stat(s.path).st_mtime_ns == mtime
    assert cache_format.is_up_to_date(Path(s.path), corpora.read(tmp_path / "data"), CFG)


def test_new_mtimes_on_the_same_bytes_reuse_the_features(tmp_path):
    """A copied, re-downloaded or touched corpus keeps its features: the content hash decides."""
    paths = make_corpus(tmp_path / "data", n=4)
    s = build(tmp_path / "data", tmp_path / "cache")
    before = cache_format.load(s.path)
    later = time.time_ns() + 10**9
    for p in paths:
        os.utime(p, ns=(later, later))
    tone_back = sf.read(paths[1])[0]  # same length, other bytes: recomputed
    sf.write(paths[1], tone_back[::-1].copy(), SR)
    s = build(tmp_path / "data", tmp_path / "cache")
    assert (s.computed, s.cached, s.wrote) == (1, 3, True)
    after = cache_format.load(s.path)
    for i, p in enumerate(paths):
        rel = os.path.relpath(p, tmp_path / "data")
        old, new = before.features[before.paths.index(rel)], after.features[after.paths.index(rel)]
        assert np.array_equal(old, new) == (i != 1), rel
    again = build(tmp_path / "data", tmp_path / "cache")  # the new mtimes are recorded
    assert (again.computed, again.wrote) == (0, False)


def test_added_removed_and_changed_files(tmp_path):
    paths = make_corpus(tmp_path / "data", n=5)
    s = build(tmp_path / "data", tmp_path / "cache")
    before = cache_format.load(s.path)

    new = paths[0].with_name(ravdess.format_name(channel="speech", emotion_code=8, intensity=2, statement=2,
                                                repetition=2, actor=1))
    sf.write(new, tone(99), SR)
    s = build(tmp_path / "data", tmp_path / "cache")
    assert (s.computed, s.cached, s.removed) == (1, 5, 0)

    paths[1].unlink()
    s = build(tmp_path / "data", tmp_path / "cache")
    assert (s.computed, s.removed) == (0, 1)
    assert os.path.relpath(paths[1], tmp_path / "data") not in cache_format.load(s.path).paths

    sf.write(paths[2], tone(1234), SR)  # new content
    os.utime(paths[2], ns=(time.time_ns(), time.time_ns() + 10**9))
    s = build(tmp_path / "data", tmp_path / "cache")
    assert (s.computed, s.removed) == (1, 0)
    after = cache_format.load(s.path)
    rel = os.path.relpath(paths[2], tmp_path / "data")
    assert not np.array_equal(after.features[after.paths.index(rel)], before.features[before.paths.index(rel)])
    np.testing.assert_array_equal(after.features[after.paths.index(rel)], features.compute(paths[2], CFG))


def test_another_config_gets_another_cache_and_is_never_read_for_this_one(tmp_path):
    make_corpus(tmp_path / "data", n=3)
    s = build(tmp_path / "data", tmp_path / "cache")
    other = features.FeatureConfig(**{**CFG.to_dict(), "n_mfcc": 12})
    assert cache_format.cache_path(tmp_path / "data", other, tmp_path / "cache") != Path(s.path)
    with pytest.raises(cache.CacheError, match="another feature config"):
        cache_format.load(s.path, expect=other)


BAD_AUDIO = {
    "empty": lambda p: p.write_bytes(b""),
    "garbage": lambda p: p.write_bytes(b"RIFF\x00\x00 this is not audio at all" * 10),
    "truncated": lambda p: p.write_bytes(_wav_bytes(p)[:30]),
}


ODD_AUDIO = {
    "silence": lambda p: sf.write(p, np.zeros(SR, np.float32), SR),
    "shorter_than_a_frame": lambda p: sf.write(p, tone(3)[:50], SR),
    "pcm8": lambda p: sf.write(p, tone(4), SR, subtype="PCM_U8"),
    "pcm24": lambda p: sf.write(p, tone(5), SR, subtype="PCM_24"),
    "float": lambda p: sf.write(p, tone(6), SR, subtype="FLOAT"),
    "stereo": lambda p: sf.write(p, np.stack([tone(7), tone(8)], 1), SR),
    "rate_44100": lambda p: sf.write(p, tone(9, sr=44100), 44100),
    "rate_8000": lambda p: sf.write(p, tone(10, sr=8000), 8000),
}


def _wav_bytes(p: Path) -> bytes:
    tmp = p.with_suffix(".tmp.wav")
    sf.write(tmp, tone(1), SR)
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def test_bad_audio_is_recorded_and_the_rest_processed(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    names = {}
    for i, (kind, write) in enumerate({**BAD_AUDIO, **ODD_AUDIO}.items()):
        p = root / ravdess.format_name(channel="speech", emotion_code=1 + i % 8, intensity=1 + (i % 8 > 0),
                                      statement=1, repetition=1, actor=1 + i)
        write(p)
        names[kind] = p.name
    s = build(root, tmp_path / "cache")
    failed = dict(s.failed)
    assert set(failed) == {names[k] for k in BAD_AUDIO}
    assert all(reason and "\n" not in reason for reason in failed.values())
    fs = cache_format.load(s.path)
    assert set(fs.paths) == {names[k] for k in ODD_AUDIO}
    assert np.isfinite(fs.features).all()
    assert {r for r, _ in fs.failed} == set(failed)
    assert str(s).count("failed:") == len(BAD_AUDIO)
    # Unchanged bad files are not retried on a re-run.
    assert build(root, tmp_path / "cache").computed == 0


def test_a_second_writer_stops_with_a_clear_message(tmp_path):
    make_corpus(tmp_path / "data", n=2)
    path = cache_format.cache_path(corpora.read(tmp_path / "data").root, CFG, tmp_path / "cache")
    path.parent.mkdir(parents=True)
    with journal_lib.lock(path, wait=False):
        with pytest.raises(cache.CacheLockedError, match=f"being written by another precompute .pid {os.getpid()}"):
            build(tmp_path / "data", tmp_path / "cache")
    assert build(tmp_path / "data", tmp_path / "cache").computed == 2  # released afterwards


def test_another_reader_of_the_same_files_rewrites_the_metadata_only(tmp_path):
    make_corpus(tmp_path / "data")
    s = build(tmp_path / "data", tmp_path / "cache")
    corpus = corpora.read(tmp_path / "data")
    renamed = dataclasses.replace(corpus, name="other")  # e.g. a reader change: the metadata must follow
    assert not cache_format.is_up_to_date(Path(s.path), renamed, CFG)
    again = cache_build.build(renamed, CFG, tmp_path / "cache", workers=1, progress=False)
    assert (again.computed, again.wrote) == (0, True)
    assert cache_format.is_up_to_date(Path(s.path), renamed, CFG)
