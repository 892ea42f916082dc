"""A run's stage hashes in config.json, kept on resume and no setting, and two runs compared stage by
stage (ser_jax.provenance.compare), naming the first stage where they part.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from ser_jax import config as config_lib
from ser_jax import optim, provenance, rundir, splits
from ser_jax.cache import content
from ser_jax.provenance import compare as compare_lib
from ser_jax.testing.tiny import TINY_FEATURES, TINY_MODEL
from ser_jax.train import loop as train_lib

from .helpers import _corpus_hash

# The module's two trained runs (two_runs) are built once: its tests all go to one xdist worker.
pytestmark = pytest.mark.xdist_group("provenance_runs")

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
