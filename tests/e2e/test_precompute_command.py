"""python -m ser_jax.precompute: a killed run (SIGKILL, Ctrl-C) resumes to the same cache, a killed
shard keeps its finished files, usage errors are one line; killing it during a build leaves no
feature worker behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cache.helpers import build, make_corpus

from ser_jax import features, workers
from ser_jax.cache import format as cache_format
from ser_jax.cache import shards as cache_shards

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


def _worker_pids(parent: int) -> list[int]:
    """Live processes started as feature workers of ``parent``."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            env = (proc / "environ").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if f"SER_JAX_WORKER_PARENT={parent}".encode() in env.split(b"\0") and state != "Z":
            pids.append(int(proc.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_the_parent_during_a_build_leaves_no_worker(tmp_path, sig):
    paths = make_corpus(tmp_path / "data", n=8)
    marks = tmp_path / "marks"
    env = dict(os.environ, **{workers.NUMBA_CACHE_ENV: str(tmp_path / "numba"),
                              workers.FAULT_ENV: json.dumps({"clip": paths[3].name, "how": "hang", "times": 0,
                                                             "marks": str(marks)})})
    cmd = [sys.executable, "-m", "ser_jax.precompute", f"--data_dir={tmp_path / 'data'}",
           f"--cache_dir={tmp_path / 'cache'}", "--recipe=fast", "--sample_rate=16000", "--duration=0.5",
           "--n_fft=256", "--hop_length=128", "--n_mfcc=13", "--n_mels=16", "--workers=2"]
    parent = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while time.time() < deadline and not (marks.is_dir() and any(marks.iterdir())):
        time.sleep(0.05)
    assert marks.is_dir() and any(marks.iterdir()), "no worker reached the hanging clip"
    assert len(_worker_pids(parent.pid)) == 2
    parent.send_signal(sig)
    parent.wait(timeout=30)
    deadline = time.time() + 10
    while time.time() < deadline and _worker_pids(parent.pid):
        time.sleep(0.05)
    assert _worker_pids(parent.pid) == []
