"""Feature workers (ser_jax.workers): a worker that dies costs its clip only, a task that raises is an
error. That workers never outlive their parent: tests/e2e/test_precompute_command.py.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from cache.helpers import CFG, build, make_corpus

from ser_jax import corpora, workers
from ser_jax.cache import build as cache_build
from ser_jax.cache import format as cache_format
from ser_jax.cache import journal as journal_lib
from ser_jax.cache import shards as cache_shards


def fault(monkeypatch, tmp_path: Path, clip: Path, how: str, times: int) -> Path:
    """Makes the worker given ``clip`` die (or hang) ``times`` times (0: always); the folder returned
    gets one file per time, named by the dying worker's pid."""
    marks = tmp_path / "marks"
    # A death wipes the workers' numba cache: this test's own copy, not the session's.
    numba = tmp_path / "numba"
    shutil.copytree(workers.numba_cache_dir(), numba, dirs_exist_ok=True)
    monkeypatch.setenv(workers.NUMBA_CACHE_ENV, str(numba))
    monkeypatch.setenv(workers.FAULT_ENV, json.dumps({"clip": clip.name, "how": how, "times": times,
                                                      "marks": str(marks)}))
    return marks


@pytest.mark.parametrize("how, reason", [("segv", "SIGSEGV, signal 11"), ("exit", "exit code 3")])
def test_a_clip_whose_worker_dies_twice_is_failed_and_the_rest_is_cached(tmp_path, monkeypatch, how, reason):
    paths = make_corpus(tmp_path / "data", n=6)
    marks = fault(monkeypatch, tmp_path, paths[2], how, times=0)
    s = cache_build.build(corpora.read(tmp_path / "data"), CFG, tmp_path / "cache", workers=2, progress=False)
    rel = os.path.relpath(paths[2], tmp_path / "data")
    assert s.failed == ((rel, f"its feature worker died, 2 times ({reason}); skipped"),)
    assert len(list(marks.iterdir())) == 2  # tried once more, in a fresh worker
    assert f"failed: {rel}: its feature worker died" in str(s)  # the run's report names it
    fs = cache_format.load(s.path, expect=CFG)
    assert len(fs.paths) == 5 and rel not in fs.paths and fs.failed == s.failed
    monkeypatch.delenv(workers.FAULT_ENV)
    again = build(tmp_path / "data", tmp_path / "cache")  # recorded: the next run does not retry it
    assert (again.computed, again.failed) == (0, s.failed)


def test_a_worker_that_dies_once_is_replaced_and_its_clip_computed(tmp_path, monkeypatch):
    paths = make_corpus(tmp_path / "data", n=4)
    reference = cache_format.load(build(tmp_path / "data", tmp_path / "reference").path)
    marks = fault(monkeypatch, tmp_path, paths[1], "segv", times=1)
    s = build(tmp_path / "data", tmp_path / "cache")
    assert (s.computed, s.failed, len(list(marks.iterdir()))) == (4, (), 1)
    assert (cache_format.load(s.path).features == reference.features).all()


def test_the_journal_of_a_part_names_the_clip_whose_worker_died(tmp_path, monkeypatch):
    paths = make_corpus(tmp_path / "data", n=4)
    fault(monkeypatch, tmp_path, paths[0], "exit", times=0)
    s = cache_shards.build_shard(corpora.read(tmp_path / "data"), CFG, tmp_path / "cache", (1, 1), workers=1,
                          progress=False)
    entries = journal_lib.read(Path(s.path))
    assert entries[os.path.relpath(paths[0], tmp_path / "data")]["error"].startswith("its feature worker died")
    assert sum(bool(e["error"]) for e in entries.values()) == 1 and len(entries) == 4


def test_a_task_that_raises_is_an_error_and_the_worker_lives_on():
    outcomes = list(workers.run("ser_jax.features:parse_duration", [(0, ("soon",)), (1, ("2.5",))], 1))
    by_key = {o.key: o for o in outcomes}
    assert by_key[0].error.startswith("ValueError") and by_key[1] == workers.Outcome(1, 2.5)
    with pytest.raises(workers.WorkerError, match="ValueError"):
        workers.call("ser_jax.features:parse_duration", "soon")


def test_workers_load_neither_jax_nor_the_callers_main_module():
    loaded = workers.call("ser_jax.workers:loaded_modules")
    assert "jax" not in loaded and "flax" not in loaded and "pytest" not in loaded
