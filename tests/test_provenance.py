"""Provenance: each stage's content hash moves with that stage's input only, a run records them in
config.json, and two runs compared stage by stage name the first stage where they part."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import h5py
import jax
import numpy as np
import pytest

from ser_jax import config as config_lib
from ser_jax import corpora, optim, provenance, rundir, splits, synth
from ser_jax.cache import build as cache_build
from ser_jax.cache import content
from ser_jax.provenance import compare as compare_lib
from ser_jax.train import loop as train_lib
from ser_jax.train.steps import create_train_state

from conftest import TINY_FEATURES, TINY_MODEL


def _corpus_hash(root: Path) -> str:
    corpus = corpora.read(root)
    return provenance.hash_files([r.path for r in corpus.records], corpus.root)


# ------------------------------------------------------------------------------------------------
# The hash functions


def test_an_array_hashes_the_same_whole_in_blocks_and_as_written_block_by_block():
    x = np.random.default_rng(0).standard_normal((37, 5, 3)).astype(np.float32)
    whole = provenance.hash_array(x)
    assert provenance.hash_array(x, chunk_bytes=64) == whole  # 1 row a block
    hasher = provenance.ArrayHasher(x.dtype, x.shape)
    for start in range(0, 37, 10):
        hasher.update(x[start:start + 10])
    assert hasher.hexdigest() == whole
    assert provenance.hash_array(x.copy()) == whole
    changed = x.copy()
    changed[20, 4, 2] = np.nextafter(changed[20, 4, 2], np.inf)  # one value, by one ulp
    assert provenance.hash_array(changed) != whole
    assert provenance.hash_array(x.astype(np.float64)) != whole  # dtype and shape count too
    assert provenance.hash_array(x.reshape(37, 15)) != whole
    assert provenance.hash_array(np.asarray(["a", "bc"], object)) != provenance.hash_array(np.asarray(["ab", "c"], object))
    assert provenance.hash_arrays({"a": x, "b": x[:1]}) == provenance.hash_arrays({"b": x[:1], "a": x})


def test_a_corpus_hash_is_its_file_names_and_bytes_wherever_it_lies(tmp_path):
    a = tmp_path / "a"
    synth.synthesize(a, actors=1, seed=0, sample_rate=16000, emotions=[3], channels=["speech"])
    shutil.copytree(a, tmp_path / "b")
    assert _corpus_hash(a) == _corpus_hash(tmp_path / "b")  # another folder (or machine): the same corpus
    files = sorted(p for p in (tmp_path / "b").rglob("*.wav"))
    assert provenance.hash_files(files[::-1], tmp_path / "b") == _corpus_hash(a)  # listing order does not count
    data = bytearray(files[3].read_bytes())
    data[-1] ^= 1  # one bit of one sample
    files[3].write_bytes(bytes(data))
    assert _corpus_hash(tmp_path / "b") != _corpus_hash(a)


def test_initial_parameters_hash_the_same_for_the_same_key_and_not_for_another():
    def init(seed: int):
        state = create_train_state(jax.random.PRNGKey(seed), dataclasses.replace(TINY_MODEL, num_classes=4),
                                   optim.OptimConfig(), 20, 6, total_steps=10)
        return provenance.hash_tree({"params": state.params, "batch_stats": state.batch_stats})

    assert init(0) == init(0)
    assert init(0) != init(1)


# ------------------------------------------------------------------------------------------------
# A feature cache's content hash


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


# ------------------------------------------------------------------------------------------------
# A run's record, and two runs compared


def _config(corpus, cache_dir, **train) -> config_lib.ExperimentConfig:
    return config_lib.ExperimentConfig(
        data_dir=str(corpus), cache_dir=str(cache_dir), features=TINY_FEATURES,
        split=splits.SplitConfig(protocol="holdout"), model_config=TINY_MODEL,
        optim=optim.OptimConfig(learning_rate=3e-3),
        train=config_lib.TrainConfig(**{"epochs": 1, "patience": 0, "batch_size": 16, **train}), workers=2)


@pytest.fixture(scope="module")
def two_runs(tiny_corpus, tiny_cache_dir, tmp_path_factory) -> dict[str, Path]:
    """The same tiny run twice, and once with another seed."""
    out = tmp_path_factory.mktemp("runs")
    for name, seed in (("a", 0), ("again", 0), ("seed1", 1)):
        train_lib.train_and_evaluate(_config(tiny_corpus, tiny_cache_dir, seed=seed), out / name, progress=False)
    return {name: out / name for name in ("a", "again", "seed1")}


@pytest.mark.slow
def test_a_run_records_its_stage_hashes_in_config_json(two_runs, tiny_corpus, tiny_cache_dir):
    saved = json.loads((two_runs["a"] / rundir.CONFIG).read_text())[rundir.PROVENANCE_KEY]
    stages = saved[rundir.STAGES_KEY]
    assert list(stages) == ["corpus", "features", "init_params", "test_predictions"]
    assert stages["corpus"]["ravdess"] == {"files": 312, "sha256": _corpus_hash(tiny_corpus)}
    (cache_file,) = [p for p in Path(tiny_cache_dir).glob("*.h5") if TINY_FEATURES.key() in p.name]
    assert stages["features"]["ravdess"] == content.digest(cache_file)
    assert set(stages["init_params"]) == set(stages["test_predictions"]) == {"run"}
    metrics = rundir.read_metrics(two_runs["a"])
    assert stages["test_predictions"]["run"] == provenance.hash_json(metrics["test_predictions"])
    assert saved["host"]["cores"] >= 1 and saved["host"]["cpu_count"] >= 1


@pytest.mark.slow
def test_compare_finds_no_difference_between_equal_runs_and_the_seed_at_init_params(two_runs, capsys):
    assert compare_lib.main([str(two_runs["a"]), str(two_runs["again"])]) == 0
    assert "no recorded stage differs" in capsys.readouterr().out
    rows = {r.name: r for r in compare_lib.compare(two_runs["a"], two_runs["seed1"])}
    assert rows["corpus"].same and rows["features"].same and not rows["settings"].same
    assert rows["init_params"].same is False and rows["training"].same is False
    assert compare_lib.first_difference(list(rows.values())).name == "init_params"
    assert compare_lib.main([str(two_runs["a"]), str(two_runs["seed1"])]) == 1
    out = capsys.readouterr().out
    assert "first stage that differs: init_params" in out and "train.seed: 0 vs 1" in out


@pytest.mark.slow
def test_compare_names_the_first_epoch_whose_numbers_differ(two_runs, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(two_runs["a"], other)
    rows = [json.loads(line) for line in (other / rundir.HISTORY).read_text().splitlines()]
    rows[0]["train_loss"] += 1e-9  # as another CPU's summation order would leave it
    (other / rundir.HISTORY).write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = compare_lib.compare(two_runs["a"], other)
    first = compare_lib.first_difference(result)
    assert first.name == "training" and first.detail.startswith("run: epoch 1: train_loss ")


@pytest.mark.slow
def test_a_resumed_run_keeps_its_stage_hashes_and_they_are_no_setting(tiny_corpus, tiny_cache_dir, tmp_path):
    cfg = _config(tiny_corpus, tiny_cache_dir)
    train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=False)
    path = tmp_path / "run" / rundir.CONFIG
    before = json.loads(path.read_text())[rundir.PROVENANCE_KEY][rundir.STAGES_KEY]
    longer = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=2))
    with pytest.raises(ValueError, match="other settings"):  # a setting still counts...
        train_lib.train_and_evaluate(longer, tmp_path / "run", resume=True, progress=False)
    saved = json.loads(path.read_text())
    saved[rundir.PROVENANCE_KEY][rundir.STAGES_KEY]["corpus"]["ravdess"]["sha256"] = "0" * 64
    rundir.check_same_settings(saved, cfg.to_dict(), {}, tmp_path / "run")  # ...the stage hashes do not
    train_lib.train_and_evaluate(cfg, tmp_path / "run", resume=True, progress=False)
    assert json.loads(path.read_text())[rundir.PROVENANCE_KEY][rundir.STAGES_KEY] == before


def test_stage_hashes_of_a_fold_go_to_the_run_at_the_top(tmp_path):
    rundir.write_json(tmp_path / rundir.CONFIG, {"seed": 0, rundir.PROVENANCE_KEY: {"git_commit": "x"}})
    fold = rundir.fold_dir(tmp_path, 2)
    fold.mkdir()
    assert rundir.run_root(fold) == tmp_path and rundir.run_root(tmp_path) == tmp_path
    rundir.add_stages(tmp_path, {"init_params": {"fold_2": "abc"}})
    rundir.add_stages(tmp_path, {"init_params": {"fold_2": "other", "fold_3": "def"}})  # the first one stays
    saved = json.loads((tmp_path / rundir.CONFIG).read_text())
    assert saved[rundir.PROVENANCE_KEY] == {"git_commit": "x", "stages": {"init_params": {"fold_2": "abc",
                                                                                         "fold_3": "def"}}}
