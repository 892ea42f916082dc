"""Fault injection: kills, damaged caches and checkpoints, full disks, two writers.

Each test counts what it tried and how it was handled, and prints one line
``fault injection: <what>: tried N, handled N`` (``pytest tests/e2e/test_faults.py -s`` shows them;
the README's reliability section quotes them). Handled means: the resumed run is bit-identical to
an uninterrupted one, or the damage is refused in one line / rebuilt correctly; never a silent
success, a wrong result or a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from ser_jax import cache, checkpoint, corpora, predict
from ser_jax import config as config_lib
from ser_jax.cache import build as cache_build
from ser_jax.cache import format as cache_format
from ser_jax.testing.tiny import TINY_FEATURES, TINY_MODEL
from ser_jax.train import loop as train_lib

TINY_FLAGS = ["--recipe=fast", "--sample_rate=16000", "--duration=1.0", "--n_fft=512", "--hop_length=256",
              "--n_mfcc=13", "--n_mels=16", "--conv_filters=8", "--conv_kernels=3", "--lstm_units=8",
              "--dense_units=8", "--batch_size=16", "--learning_rate=3e-3", "--split=holdout", "--workers=1"]
KILLS_PER_RUN = 10  # per test case; 2 cases, so at least 20 kills per CI run
# What must be equal between a resumed run and an uninterrupted one (not the seconds it took).
SAME = ("history", "test_predictions", "best_epoch", "epochs_run", "stopped_by", "accuracy", "macro_f1", "uar",
        "confusion_matrix", "best_val_accuracy")


def _report(what: str, tried: int, handled: int) -> None:
    print(f"\nfault injection: {what}: tried {tried}, handled {handled}", flush=True)
    assert handled == tried, f"{what}: {tried - handled} of {tried} not handled"


def _train_cmd(corpus, cache_dir, run_dir, *extra):
    return [sys.executable, "-m", "ser_jax.train", f"--data_dir={corpus}", f"--cache_dir={cache_dir}",
            f"--run_dir={run_dir}", *TINY_FLAGS, *extra]


def _one_line_error(out: subprocess.CompletedProcess) -> bool:
    """Failed, with the reason as the last line of stderr (after any progress bars) and no traceback."""
    lines = [line for line in out.stderr.replace("\r", "\n").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    return (out.returncode not in (0, -9) and len(errors) == 1 and lines[-1] == errors[0]
            and "Traceback" not in out.stderr)


# ------------------------------------------------------------------------------------------------
# Kills


@pytest.mark.slow
@pytest.mark.parametrize("extra", [["--epochs=3", "--patience=0"], ["--epochs=8", "--patience=2"]],
                         ids=["all_epochs", "early_stopping"])
def test_killed_trainings_resume_to_the_same_result(tiny_corpus, tiny_cache_dir, tmp_path, extra):
    """A run is killed again and again (SIGKILL at random moments and at the named fault points,
    inside and between checkpoint saves and during the final evaluation); each time `--resume`
    continues it; the end is bit-identical to an uninterrupted run."""
    # The session's persistent compilation cache (conftest.py): every restart skips XLA compilation
    # (the same executable, so the same numbers), which keeps 10 restarts per test short.
    assert os.environ.get("JAX_COMPILATION_CACHE_DIR")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    ref_dir = tmp_path / "reference"
    subprocess.run(_train_cmd(tiny_corpus, tiny_cache_dir, ref_dir, *extra), check=True, capture_output=True, env=env)
    reference = json.loads((ref_dir / "metrics.json").read_text())
    assert reference["stopped_by"] == ("early_stopping" if extra[1] != "--patience=0" else "max_epochs")

    rng = random.Random(0 if extra[1] == "--patience=0" else 1)
    run_dir = tmp_path / "killed"
    points = ["between_checkpoint_saves:2", "after_epoch:1", "between_checkpoint_saves:1", "before_test_evaluation",
              "after_metrics_written"]
    kills, full_seconds = 0, 0.0  # full_seconds: the longest restart so far, what random kills are drawn within
    # A resumed run that was far along often ends before its kill moment (more so on a loaded
    # machine, where run times vary): allow enough attempts that the kills still get made.
    for attempt in range(6 * KILLS_PER_RUN):
        if kills >= KILLS_PER_RUN:
            break
        if (run_dir / "metrics.json").exists():  # it ran to the end between kills: compare, then start again
            assert all(json.loads((run_dir / "metrics.json").read_text())[k] == reference[k] for k in SAME)
            shutil.rmtree(run_dir)
        cmd = _train_cmd(tiny_corpus, tiny_cache_dir, run_dir, *extra, "--resume")
        if attempt < len(points):  # first the named points, then random moments
            t0 = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, env={**env, "SER_JAX_FAULT": points[attempt]})
            full_seconds = max(full_seconds, time.perf_counter() - t0)
            assert out.returncode in (0, -signal.SIGKILL), out.stderr
            kills += out.returncode == -signal.SIGKILL
            continue
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            # Most of a short run is start-up (imports: the first ~40%) and the report (the last ~25%).
            proc.wait(timeout=rng.uniform(0.4, 0.8) * full_seconds)
        except subprocess.TimeoutExpired:
            proc.send_signal(rng.choice([signal.SIGKILL, signal.SIGKILL, signal.SIGINT]))
            kills += 1
            proc.wait()
    final = subprocess.run(_train_cmd(tiny_corpus, tiny_cache_dir, run_dir, *extra, "--resume"),
                           capture_output=True, text=True, env=env)
    assert final.returncode == 0, final.stderr
    resumed = json.loads((run_dir / "metrics.json").read_text())
    handled = kills if all(resumed[k] == reference[k] for k in SAME) else 0
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == reference["epochs_run"]
    assert resumed["train_seconds"] > 0
    _report(f"kills of a training ({extra[1]})", kills, handled)
    assert kills >= KILLS_PER_RUN


# ------------------------------------------------------------------------------------------------
# Damaged caches


def _damage_dataset(f: h5py.File, name: str) -> None:
    ds = f[name]
    if name == "features":  # a NaN written through HDF5 (its checksum is then recomputed)
        ds[0, 0, 0] = np.nan
    elif h5py.check_string_dtype(ds.dtype) is not None:
        v = ds.asstr()[0]
        ds[0] = ("r" + v[1:]) if v[:1] != "r" else ("s" + v[1:])
    else:
        ds[0] = ds[0] + 1


def test_every_damaged_cache_dataset_is_refused_in_one_line_or_rebuilt(tiny_corpus, tiny_cache_dir, tmp_path,
                                                                        capsys):
    corpus = corpora.read(tiny_corpus)
    original = cache_format.cache_path(corpus.source, TINY_FEATURES, tiny_cache_dir)
    good = cache_format.load(original)
    names: list[str] = []
    with h5py.File(original, "r") as f:
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and len(o) else None)
    tried = handled = rebuilt_count = 0
    for name in names + ["<features chunk bytes>"]:
        work = tmp_path / name.replace("/", "_")
        work.mkdir()
        damaged = cache_format.cache_path(corpus.source, TINY_FEATURES, work)
        shutil.copy(original, damaged)
        if name.startswith("<"):
            with h5py.File(damaged, "r") as f:
                offset = f["features"].id.get_chunk_info(3).byte_offset
            with open(damaged, "r+b") as fh:
                fh.seek(offset + 10)
                byte = fh.read(1)
                fh.seek(offset + 10)
                fh.write(bytes([byte[0] ^ 0x40]))
        else:
            with h5py.File(damaged, "r+") as f:
                _damage_dataset(f, name)
        tried += 1
        with pytest.raises(cache.CacheError) as info:
            cache_format.load(damaged)
        one_line = "\n" not in str(info.value) and "damaged" in str(info.value) or "corrupted" in str(info.value)
        # A run finds it damaged, says so, and rebuilds it: the rebuilt cache equals the good one. The
        # rebuild is one code path whatever the damage, so it is run for a spread of them (each is a
        # whole precompute); every other damage is checked up to the point where ensure() decides.
        rebuild = name in ("features", "meta/emotion", "<features chunk bytes>")
        if rebuild:
            capsys.readouterr()
            rebuilt = cache_build.ensure(tiny_corpus, TINY_FEATURES, work, workers=2, progress=True)
            said = "damaged" in capsys.readouterr().out
            same = np.array_equal(rebuilt.features, good.features) and rebuilt.meta.keys() == good.meta.keys() and all(
                np.array_equal(rebuilt.meta[k], good.meta[k]) for k in good.meta)
        else:
            said, same = bool(cache_format.damage(damaged)), True
        rebuilt_count += rebuild
        handled += bool(one_line and said and same)
    _report("damaged cache datasets", tried, handled)
    assert rebuilt_count == 3


# ------------------------------------------------------------------------------------------------
# Damaged checkpoints


@pytest.fixture(scope="module")
def finished_run(tiny_corpus, tiny_cache_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("finished") / "run"
    cfg = config_lib.ExperimentConfig(
        data_dir=str(tiny_corpus), cache_dir=str(tiny_cache_dir), features=TINY_FEATURES, model_config=TINY_MODEL,
        train=config_lib.TrainConfig(epochs=2, patience=0, batch_size=16), workers=1)
    train_lib.train_and_evaluate(cfg, run, progress=False)
    return run


@pytest.mark.xdist_group("finished_run")  # one worker builds the fixture, not both
@pytest.mark.slow
def test_every_damaged_checkpoint_file_is_a_one_line_error_or_harmless(finished_run, tmp_path):
    tree, meta = checkpoint.load_best(finished_run)
    digest = checkpoint.tree_digest(tree)
    best = finished_run / "checkpoints" / "best"
    files = sorted(p.relative_to(finished_run) for p in best.rglob("*") if p.is_file())
    tried = handled = 0
    for rel in files:  # each file of the checkpoint predict reads (resume's "last" slot: the kill tests)
        for how in ("truncate", "flip", "delete"):
            work = tmp_path / f"{how}_{str(rel).replace('/', '_')}"
            shutil.copytree(finished_run, work)
            target = work / rel
            data = target.read_bytes()
            if how == "truncate":
                target.write_bytes(data[: len(data) // 2])
            elif how == "flip":
                if not data:
                    continue
                pos = len(data) // 2
                target.write_bytes(data[:pos] + bytes([data[pos] ^ 0x10]) + data[pos + 1:])
            else:
                target.unlink()
            tried += 1
            try:
                predictor = predict.load_predictor(work)
                t, m = checkpoint.load_best(work)
                ok = checkpoint.tree_digest(t) == digest and m == meta and predictor.label_names
            except checkpoint.CheckpointError as e:
                ok = "\n" not in str(e)
            handled += bool(ok)
    _report("damaged checkpoint files", tried, handled)


@pytest.mark.xdist_group("finished_run")  # one worker builds the fixture, not both
def test_a_damaged_checkpoint_in_predict_is_one_line(finished_run, tmp_path, tiny_corpus):
    work = tmp_path / "run"
    shutil.copytree(finished_run, work)
    for meta_dir in (work / "checkpoints" / "best").glob("*/meta"):
        shutil.rmtree(meta_dir)
    clip = next(Path(tiny_corpus).rglob("*.wav"))
    out = subprocess.run([sys.executable, "-m", "ser_jax.predict", f"--checkpoint={work}", str(clip)],
                         capture_output=True, text=True)
    assert _one_line_error(out), out.stderr


# ------------------------------------------------------------------------------------------------
# Full disks


def test_a_full_disk_while_writing_a_cache_is_one_line_and_keeps_the_work(tiny_corpus, tmp_path, monkeypatch):
    corpus = corpora.read(tiny_corpus)
    tried = handled = 0
    # 1. Visibly short of space: refused before the final write (h5py may crash on ENOSPC).
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=1000))
    tried += 1
    with pytest.raises(cache.CacheError, match="not enough disk space") as info:
        cache_build.build(corpus, TINY_FEATURES, tmp_path / "c1", workers=1, progress=False)
    monkeypatch.undo()
    journal = list((tmp_path / "c1").glob("*.journal"))
    handled += "\n" not in str(info.value) and len(journal) == 1 and len(list(journal[0].glob("*.npz"))) == len(corpus)
    # 2. ENOSPC from the writer itself: one line, the temporary file removed, the journal kept.
    import h5py as h5

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(h5, "File", full)
    tried += 1
    with pytest.raises(cache.CacheError, match="No space left on device") as info:
        cache_build.build(corpus, TINY_FEATURES, tmp_path / "c1", workers=1, progress=False)
    monkeypatch.undo()
    handled += "\n" not in str(info.value) and not list((tmp_path / "c1").glob(".*.tmp"))
    # Space is back: the next build finishes from the journal, computing nothing again.
    summary = cache_build.build(corpus, TINY_FEATURES, tmp_path / "c1", workers=1, progress=False)
    assert summary.computed == 0 and summary.cached == len(corpus)
    _report("full disk under the cache", tried, handled)


def test_a_full_disk_while_checkpointing_is_one_line(tiny_corpus, tiny_cache_dir, tmp_path, monkeypatch):
    import orbax.checkpoint as ocp

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ocp.CheckpointManager, "save", full)
    cfg = config_lib.ExperimentConfig(
        data_dir=str(tiny_corpus), cache_dir=str(tiny_cache_dir), features=TINY_FEATURES, model_config=TINY_MODEL,
        train=config_lib.TrainConfig(epochs=2, patience=0, batch_size=16), workers=1)
    with pytest.raises(checkpoint.CheckpointError, match="No space left on device") as info:
        train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=False)
    _report("full disk under a run", 1, int("\n" not in str(info.value)))


def test_leftover_temporary_files_of_dead_writers_are_removed(tiny_corpus, tiny_cache_dir, tmp_path):
    corpus = corpora.read(tiny_corpus)
    work = tmp_path / "c"
    work.mkdir()
    path = cache_format.cache_path(corpus.source, TINY_FEATURES, work)
    shutil.copy(cache_format.cache_path(corpus.source, TINY_FEATURES, tiny_cache_dir), path)
    os.utime(path)
    leftover = path.with_name(f".{path.name}.999999.tmp")
    leftover.write_bytes(b"\0" * 1000)
    with h5py.File(path, "r+") as f:  # make it need a rewrite
        f.attrs["meta_signature"] = "old"
    cache_build.build(corpus, TINY_FEATURES, work, workers=1, progress=False)
    assert not leftover.exists()


def test_an_up_to_date_cache_needs_no_lock_so_a_read_only_folder_serves(tiny_corpus, tiny_cache_dir, tmp_path):
    corpus = corpora.read(tiny_corpus)
    work = tmp_path / "ro"
    work.mkdir()
    shutil.copy2(cache_format.cache_path(corpus.source, TINY_FEATURES, tiny_cache_dir), work)
    summary = cache_build.build(corpus, TINY_FEATURES, work, workers=1, progress=False)
    assert not summary.wrote
    assert not list(work.glob("*.lock"))  # nothing was (or needed to be) created in the folder


# ------------------------------------------------------------------------------------------------
# Settings that cannot work, divergence, two writers: one line each from the command line


@pytest.mark.parametrize("extra, message", [
    (["--learning_rate=1e4", "--epochs=6"], "chance level|became nan|became inf"),
    (["--batch_size=100000"], "--batch_size=100000 is larger than the training set"),
])
def test_runs_that_cannot_work_stop_in_one_line(tiny_corpus, tiny_cache_dir, tmp_path, extra, message):
    import re

    out = subprocess.run(_train_cmd(tiny_corpus, tiny_cache_dir, tmp_path / "run", *extra), capture_output=True,
                         text=True)
    assert _one_line_error(out), out.stderr
    assert re.search(message, out.stderr)


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a real 4 MiB tmpfs, where this process may mount one (else the test is skipped:
    the simulated ENOSPC tests above cover the same error paths)."""
    mount = tmp_path / "small"
    mount.mkdir()
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if out.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root); ENOSPC is simulated by the tests above")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.slow
def test_a_really_full_disk_is_one_line_for_precompute_and_training(tiny_corpus, tiny_cache_dir, small_disk):
    tried = handled = 0
    # Precompute into a 4 MiB disk: the cache of 312 clips needs more.
    out = subprocess.run([sys.executable, "-m", "ser_jax.precompute", f"--data_dir={tiny_corpus}",
                          f"--cache_dir={small_disk / 'cache'}", *TINY_FLAGS[:7], "--workers=1"],
                         capture_output=True, text=True)
    tried += 1
    handled += _one_line_error(out) and "space" in out.stderr
    # Training whose run directory fills up: the disk is filled to 64 KiB free first.
    (small_disk / "filler").write_bytes(b"\0" * (shutil.disk_usage(small_disk).free - 64 * 1024))
    out = subprocess.run(_train_cmd(tiny_corpus, tiny_cache_dir, small_disk / "run", "--epochs=3"),
                         capture_output=True, text=True)
    tried += 1
    handled += _one_line_error(out)
    assert handled == tried, out.stderr[-2000:]
    _report("a really full disk (tmpfs)", tried, handled)
