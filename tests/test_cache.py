"""The HDF5 feature cache: incremental, safe against kills and corruption, honest about bad files."""

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf

from ser_jax import cache, corpora, features, featureset
from ser_jax.cache import build as cache_build
from ser_jax.cache import format as cache_format
from ser_jax.cache import journal as journal_lib
from ser_jax.cache import shards as cache_shards
from ser_jax.corpora import ravdess

# Small and fast, but the same code path as the defaults.
CFG = features.FeatureConfig(recipe="fast", sample_rate=16000, duration=0.5, n_fft=256, hop_length=128,
                             n_mfcc=13, n_mels=16)
SR = 16000


def tone(seed: int, seconds: float = 0.6, sr: int = SR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 40 * seed % 200
    return (0.3 * np.sin(2 * np.pi * f0 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def make_corpus(root: Path, n: int = 6) -> list[Path]:
    paths = []
    for i in range(n):
        actor, emotion = 1 + i % 2, 1 + (i // 2) % 8  # unique names up to n = 64
        name = ravdess.format_name(channel="speech", emotion_code=emotion, intensity=1, statement=1 + (i // 16) % 2,
                                  repetition=1 + (i // 32) % 2, actor=actor)
        p = root / "Audio_Speech_Actors_01-24" / f"Actor_{actor:02d}" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, tone(i), SR)
        paths.append(p)
    return paths


def build(root: Path, cache_dir: Path, cfg=CFG, **kw) -> cache_build.BuildSummary:
    return cache_build.build(corpora.read(root), cfg, cache_dir, workers=1, progress=False, **kw)


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


def test_a_second_writer_stops_with_a_clear_message(tmp_path):
    make_corpus(tmp_path / "data", n=2)
    path = cache_format.cache_path(corpora.read(tmp_path / "data").root, CFG, tmp_path / "cache")
    path.parent.mkdir(parents=True)
    with journal_lib.lock(path, wait=False):
        with pytest.raises(cache.CacheLockedError, match=f"being written by another precompute .pid {os.getpid()}"):
            build(tmp_path / "data", tmp_path / "cache")
    assert build(tmp_path / "data", tmp_path / "cache").computed == 2  # released afterwards


PRECOMPUTE = [sys.executable, "-m", "ser_jax.precompute", "--recipe=fast", "--sample_rate=16000", "--duration=0.5",
              "--n_fft=256", "--hop_length=128", "--n_mfcc=13", "--n_mels=16", "--workers=1"]
# The kill test needs work that lasts long enough to be interrupted: the seed recipe (harmonic
# separation, about 50 ms a clip) on 3 s clips, so 40 files take a couple of seconds.
KILL_CFG = features.FeatureConfig(recipe="seed", sample_rate=16000, duration=3.0, n_fft=512, hop_length=256,
                                  n_mfcc=13, n_mels=16)
KILL_FILES = 20  # the kill comes after the 3rd; seed features of 3 s clips take long enough per file
KILL_CMD = [sys.executable, "-m", "ser_jax.precompute", "--recipe=seed", "--sample_rate=16000", "--duration=3.0",
            "--n_fft=512", "--hop_length=256", "--n_mfcc=13", "--n_mels=16", "--workers=1"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_precompute_resumes_to_the_same_result(tmp_path, sig):
    make_corpus(tmp_path / "data", n=KILL_FILES)
    cmd = KILL_CMD + [f"--data_dir={tmp_path / 'data'}", f"--cache_dir={tmp_path / 'cache'}"]
    # A shell's background jobs inherit SIGINT ignored (as under `make test &`); a user's Ctrl-C is not.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    path = cache_format.cache_path(tmp_path / "data", KILL_CFG, tmp_path / "cache")
    journal = path.with_name(path.name + ".journal")
    deadline = time.time() + 60
    while time.time() < deadline and len(list(journal.glob("*.npz"))) < 3:
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0, "the run finished before it could be interrupted"
    if sig == signal.SIGINT:
        assert "interrupted" in err and "Traceback" not in err
    assert not path.exists()  # no half-written cache
    done_before = len(list(journal.glob("*.npz")))
    assert 3 <= done_before < KILL_FILES

    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"{KILL_FILES} utterances: {KILL_FILES - done_before} computed, {done_before} cached" in out.stdout
    resumed = cache_format.load(path)
    assert not journal.exists()

    fresh = build(tmp_path / "data", tmp_path / "fresh", cfg=KILL_CFG)
    reference = cache_format.load(fresh.path)
    assert resumed.paths == reference.paths
    np.testing.assert_array_equal(resumed.features, reference.features)
    np.testing.assert_array_equal(resumed.lengths, reference.lengths)


def test_precompute_cli_errors_are_one_line(tmp_path):
    out = subprocess.run(PRECOMPUTE + [f"--data_dir={tmp_path / 'nowhere'}"], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: --data_dir={tmp_path / 'nowhere'}: no such folder or file"
    out = subprocess.run(PRECOMPUTE[:3] + [f"--data_dir={tmp_path}", "--duration=-1"], capture_output=True,
                         text=True)
    assert out.returncode == 2 and out.stderr.strip().startswith("error: --duration")


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


def test_another_reader_of_the_same_files_rewrites_the_metadata_only(tmp_path):
    make_corpus(tmp_path / "data")
    s = build(tmp_path / "data", tmp_path / "cache")
    corpus = corpora.read(tmp_path / "data")
    renamed = dataclasses.replace(corpus, name="other")  # e.g. a reader change: the metadata must follow
    assert not cache_format.is_up_to_date(Path(s.path), renamed, CFG)
    again = cache_build.build(renamed, CFG, tmp_path / "cache", workers=1, progress=False)
    assert (again.computed, again.wrote) == (0, True)
    assert cache_format.is_up_to_date(Path(s.path), renamed, CFG)


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


@pytest.mark.slow
def test_a_killed_shard_keeps_its_finished_files_and_the_merge_equals_one_build(tmp_path):
    make_corpus(tmp_path / "data", n=40)
    cmd = KILL_CMD + [f"--data_dir={tmp_path / 'data'}", f"--cache_dir={tmp_path / 'cache'}"]
    path = cache_format.cache_path(tmp_path / "data", KILL_CFG, tmp_path / "cache")
    part = cache_shards.part_dir(path, 1, 2)
    proc = subprocess.Popen(cmd + ["--shard=1/2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(part.glob("*.npz"))) < 3:
        time.sleep(0.01)
    proc.kill()
    proc.wait(timeout=30)
    done_before = len(list(part.glob("*.npz")))
    assert 3 <= done_before < 20 and not (part / "complete.json").exists()
    out = subprocess.run(cmd + ["--merge_shards=2"], capture_output=True, text=True)
    assert out.returncode == 1 and out.stderr.strip().endswith("shard(s) 1, 2 of 2 not finished; run precompute "
                                                               "--shard=K/2 for each, then merge again")
    out = subprocess.run(cmd + ["--shard=1/2"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"20 utterances: {20 - done_before} computed, {done_before} cached" in out.stdout
    for args in (["--shard=2/2"], ["--merge_shards=2"]):
        out = subprocess.run(cmd + args, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
    merged = cache_format.load(path)  # (equal to a single build bit for bit: the test above)
    assert len(merged.paths) == 40 and not list(path.parent.glob("*.part-*"))
    np.testing.assert_array_equal(merged.features[0], features.compute(tmp_path / "data" / merged.paths[0], KILL_CFG))
