"""Training a run (ser_jax.train.loop): one compilation per step, a self-explaining run directory, early
stopping, augmentation, resuming to the same result, NaN and divergence, one writer per run directory,
leaky protocols flagged, speaker-independent folds aggregated.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ser_jax import augment, checkpoint, optim, rundir, splits
from ser_jax.testing.tiny import TINY_MODEL
from ser_jax.train import data as train_data
from ser_jax.train import loop as train_lib

from .helpers import tiny_config


def test_a_run_compiles_each_step_once_and_writes_a_self_explaining_directory(tiny_corpus, tiny_cache_dir, tmp_path):
    train_lib.train_step.clear_cache()
    train_lib.eval_step.clear_cache()
    cfg = tiny_config(tiny_corpus, tiny_cache_dir, epochs=3)
    result = train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=False)
    # 3 epochs of batches with a short last one, validation and test passes: one compilation each.
    assert train_lib.train_step._cache_size() == 1
    assert train_lib.eval_step._cache_size() == 1
    # A second run of the same settings in this process (a sweep over seeds) reuses both compiled steps.
    again = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=1, epochs=3))
    train_lib.train_and_evaluate(again, tmp_path / "again", progress=False)
    assert train_lib.train_step._cache_size() == 1 and train_lib.eval_step._cache_size() == 1

    run = tmp_path / "run"
    for name in ("config.json", "metrics.json", "metrics.jsonl", "report.txt", "confusion_matrix.png",
                 "training_curves.png"):
        assert (run / name).is_file(), name
    assert list(run.glob("events.out.tfevents.*"))
    assert checkpoint.RunCheckpoints(run).has("best") and checkpoint.RunCheckpoints(run).has("last")
    m = json.loads((run / "metrics.json").read_text())
    assert m == json.loads(json.dumps(result.metrics, default=float))
    assert m["epochs_run"] == 3 and len(m["history"]) == 3
    assert {"accuracy", "macro_f1", "uar", "weighted_f1", "per_class", "confusion_matrix", "train_seconds",
            "best_epoch", "config"} <= set(m)
    assert m["n_train"] + m["n_val"] + m["n_test"] == 312
    assert sum(map(sum, m["confusion_matrix"])) == m["n_test"]
    assert m["config"]["model_config"]["lstm_units"] == TINY_MODEL.lstm_units
    assert "angry" in (run / "report.txt").read_text() and "macro avg" in (run / "report.txt").read_text()
    assert not m["leaky"] and "LEAKY" not in (run / "report.txt").read_text()


def test_early_stopping_restores_the_best_validation_epoch(tiny_corpus, tiny_cache_dir, tmp_path):
    cfg = tiny_config(tiny_corpus, tiny_cache_dir, epochs=40, patience=2)
    m = train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=False).metrics
    val = [h["val_accuracy"] for h in m["history"]]
    assert m["best_epoch"] == int(np.argmax(val)) + 1
    assert m["epochs_run"] == m["best_epoch"] + 2 < 40 and m["stopped_by"] == "early_stopping"

    # The test predictions are those of the best checkpoint, not of the last epoch.
    tree, meta = checkpoint.load_best(tmp_path / "run")
    assert meta["epoch"] == m["best_epoch"] and meta["val_accuracy"] == max(val)
    fs = train_data.load_features(cfg, progress=False)
    x = (fs.features - tree["norm"]["mean"]) / tree["norm"]["std"]
    x = np.where((np.arange(x.shape[1]) < fs.lengths[:, None])[..., None], x, 0).astype(np.float32)
    state = train_lib.create_train_state(jax.random.PRNGKey(0), dataclasses.replace(TINY_MODEL, num_classes=8),
                                         cfg.optim, x.shape[1], x.shape[2], 1)
    state = state.replace(params=tree["params"], batch_stats=tree["batch_stats"])
    rows = np.asarray([fs.paths.index(p) for p in m["test_predictions"]["paths"]])
    data = train_data.Arrays(jnp.asarray(x), jnp.asarray(fs.lengths), jnp.zeros(len(x), jnp.int32))
    pred = train_lib.predict_logits(state, data, rows, 64).argmax(-1)
    np.testing.assert_array_equal(pred, m["test_predictions"]["y_pred"])
    # The validation predictions kept for ensembles are the chosen epoch's, on clips the test never sees.
    val_preds = m["val_predictions"]
    assert len(val_preds["paths"]) == m["n_val"] and not set(val_preds["paths"]) & set(m["test_predictions"]["paths"])
    assert np.mean(np.equal(val_preds["y_pred"], val_preds["y_true"])) == m["best_val_accuracy"] == max(val)
    np.testing.assert_array_equal(np.argmax(val_preds["probabilities"], -1), val_preds["y_pred"])


@pytest.mark.parametrize("aug", [augment.AugmentConfig(time_masks=2, time_mask_width=4, feature_masks=1),
                                 augment.AugmentConfig(mixup=0.4)], ids=["masks", "mixup"])
def test_augmentation_changes_training_but_keeps_one_compilation_and_determinism(
        tiny_corpus, tiny_cache_dir, tmp_path, aug):
    plain = train_lib.train_and_evaluate(tiny_config(tiny_corpus, tiny_cache_dir, epochs=1), tmp_path / "plain",
                                         progress=False).metrics
    train_lib.train_step.clear_cache()
    cfg = dataclasses.replace(tiny_config(tiny_corpus, tiny_cache_dir, epochs=1), augment=aug)
    a = train_lib.train_and_evaluate(cfg, tmp_path / "a", progress=False).metrics
    assert train_lib.train_step._cache_size() == 1
    b = train_lib.train_and_evaluate(cfg, tmp_path / "b", progress=False).metrics
    assert a["history"] == b["history"]
    assert a["history"][0]["train_loss"] != plain["history"][0]["train_loss"]
    assert a["config"]["augment"] == dataclasses.asdict(aug)


class _Interrupt:
    """Wraps train_step: raises KeyboardInterrupt on call `stop_at`, or makes the loss NaN from `nan_from`."""

    def __init__(self, step_fn, stop_at=None, nan_from=None):
        self.step_fn, self.stop_at, self.nan_from, self.calls = step_fn, stop_at, nan_from, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        state, m = self.step_fn(*args, **kwargs)
        if self.nan_from is not None and self.calls >= self.nan_from:
            m = {**m, "loss_sum": m["loss_sum"] * jnp.nan}
        return state, m


def test_resume_after_an_interruption_equals_an_uninterrupted_run(tiny_corpus, tiny_cache_dir, tmp_path, monkeypatch):
    cfg = tiny_config(tiny_corpus, tiny_cache_dir, epochs=5)
    full = train_lib.train_and_evaluate(cfg, tmp_path / "full", progress=False).metrics

    steps_per_epoch = math.ceil(full["n_train"] / cfg.train.batch_size)
    monkeypatch.setattr(train_lib, "train_step", _Interrupt(train_lib.train_step, stop_at=2 * steps_per_epoch + 3))
    with pytest.raises(KeyboardInterrupt):
        train_lib.train_and_evaluate(cfg, tmp_path / "cut", progress=False)
    monkeypatch.undo()
    assert not (tmp_path / "cut" / "metrics.json").exists()
    with pytest.raises(FileExistsError, match="--resume"):
        train_lib.train_and_evaluate(cfg, tmp_path / "cut", progress=False)

    resumed = train_lib.train_and_evaluate(cfg, tmp_path / "cut", resume=True, progress=False).metrics
    assert resumed["history"] == full["history"]
    assert resumed["test_predictions"] == full["test_predictions"]
    assert len((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()) == 5


def test_a_nan_loss_stops_with_a_clear_message_and_keeps_the_best_checkpoint(
        tiny_corpus, tiny_cache_dir, tmp_path, monkeypatch):
    cfg = tiny_config(tiny_corpus, tiny_cache_dir, epochs=6)
    n_train = len(splits.make_splits(cfg.split, train_data.load_features(cfg, progress=False).meta)[0].train)
    steps_per_epoch = math.ceil(n_train / cfg.train.batch_size)
    monkeypatch.setattr(train_lib, "train_step", _Interrupt(train_lib.train_step, nan_from=2 * steps_per_epoch + 1))
    with pytest.raises(train_lib.TrainingDiverged, match=r"became nan at epoch 3; the best checkpoint \(epoch (\d)\) "
                                                         r"is kept") as info:
        train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=False)
    kept = int(info.value.args[0].split("best checkpoint (epoch ")[1][0])
    ckpts = checkpoint.RunCheckpoints(tmp_path / "run")
    tree, meta = ckpts.restore("best")
    assert meta["epoch"] == kept and kept in (1, 2)
    assert all(np.isfinite(leaf).all() for leaf in jax.tree_util.tree_leaves(tree["params"]))
    assert ckpts.restore("last")[1]["epoch"] == 1  # 0-based: the second epoch, the last finite one


def test_a_loss_far_above_chance_for_several_epochs_is_divergence(tiny_corpus, tiny_cache_dir, tmp_path):
    cfg = tiny_config(tiny_corpus, tiny_cache_dir, epochs=8)
    cfg = dataclasses.replace(cfg, optim=optim.OptimConfig(learning_rate=1e4))
    with pytest.raises(train_lib.TrainingDiverged, match=r"above 10x chance level .* for 3 epochs|became (nan|inf)"):
        train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_a_batch_larger_than_the_training_set_is_refused_before_training(tiny_corpus, tiny_cache_dir, tmp_path):
    cfg = tiny_config(tiny_corpus, tiny_cache_dir, batch_size=100000)
    with pytest.raises(ValueError,
                       match=r"--batch_size=100000 is larger than the training set \(\d+ clips in holdout\)"):
        train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_second_writer_of_a_run_directory_is_refused_naming_the_holder(tiny_corpus, tiny_cache_dir, tmp_path):
    from ser_jax import lockfile

    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], "
                               "os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'4242'); "
                               "print('held', flush=True); time.sleep(60)", str(run / rundir.LOCK)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for kw in ({"overwrite": True}, {"resume": True}):
            with pytest.raises(rundir.RunLockedError, match=r"another training \(pid 4242\)"):
                train_lib.train_and_evaluate(tiny_config(tiny_corpus, tiny_cache_dir), run, progress=False, **kw)
    finally:
        holder.kill()
        holder.wait()
    # The holder died without unlocking: its lock is not stale, the next writer simply takes it.
    with lockfile.exclusive(run / rundir.LOCK, RuntimeError):
        pass


def test_leaky_protocol_says_so_everywhere(tiny_corpus, tiny_cache_dir, tmp_path):
    cfg = tiny_config(tiny_corpus, tiny_cache_dir, epochs=2, split=splits.SplitConfig(protocol="seed_leaky"))
    result = train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=False)
    assert result.leaky and result.metrics["leaky"]
    assert (tmp_path / "run" / "report.txt").read_text().startswith("LEAKY")
    assert result.metrics["n_val"] == result.metrics["n_test"]


def test_speaker_independent_folds_are_aggregated(tiny_corpus, tiny_cache_dir, tmp_path):
    split = splits.SplitConfig(protocol="speaker_kfold", folds=3, val_speakers=1)
    cfg = tiny_config(tiny_corpus, tiny_cache_dir, epochs=2, split=split)
    m = train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=False).metrics
    assert m["n_folds"] == 3
    folds = [json.loads((tmp_path / "run" / f"fold_{k}" / "metrics.json").read_text()) for k in range(3)]
    assert sum(f["n_test"] for f in folds) == 312  # every clip is tested exactly once
    assert m["accuracy"]["mean"] == pytest.approx(np.mean([f["accuracy"] for f in folds]))
    np.testing.assert_array_equal(m["confusion_matrix"], np.sum([f["confusion_matrix"] for f in folds], 0))
    assert (tmp_path / "run" / "confusion_matrix.png").is_file()
    assert (tmp_path / "run" / "training_curves.png").is_file()  # every fold's curves at the top
    # TensorBoard: every fold and the k-fold run itself are HParams sessions with their test metrics.
    top = _events(tmp_path / "run")
    assert top.Scalars("hparams/test_accuracy")[-1].value == pytest.approx(m["accuracy"]["mean"])
    assert "split.protocol" in _hparams(top)
    fold = _events(tmp_path / "run" / "fold_1")
    assert fold.Scalars("test/uar")[-1].value == pytest.approx(folds[1]["uar"])
    assert {f"test_f1/{n}" for n in folds[1]["per_class"]} <= set(fold.Tags()["scalars"])
    assert _hparams(fold)["model_config.lstm_units"] == TINY_MODEL.lstm_units
    # Speech and song are scored apart too, wherever results are: each fold, the aggregate, the
    # report and TensorBoard.
    for f in folds:
        assert set(f["per_channel"]) == {"speech", "song"}
        assert sum(c["n"] for c in f["per_channel"].values()) == f["n_test"]
        song = [i for i, p in enumerate(f["test_predictions"]["paths"]) if "Song" in p]
        assert f["per_channel"]["song"]["n"] == len(song)
        assert f["per_channel"]["song"]["accuracy"] == pytest.approx(np.mean(
            np.asarray(f["test_predictions"]["y_true"])[song] == np.asarray(f["test_predictions"]["y_pred"])[song]))
    assert m["per_channel"]["song"]["accuracy"]["mean"] == pytest.approx(
        np.mean([f["per_channel"]["song"]["accuracy"] for f in folds]))
    assert "song alone: accuracy" in (tmp_path / "run" / "report.txt").read_text()
    assert fold.Scalars("test_per_channel/song/accuracy")[-1].value == pytest.approx(
        folds[1]["per_channel"]["song"]["accuracy"])


def _events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return acc


def _hparams(acc) -> dict:
    """The hyperparameters of the run's HParams session, read back as TensorBoard's plugin reads them."""
    from tensorboard.plugins.hparams import metadata

    content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
    info = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    return {k: v.number_value if v.HasField("number_value") else v.string_value if v.HasField("string_value")
            else v.bool_value for k, v in info.hparams.items()}


def test_resume_continues_with_the_runs_own_settings_and_says_when_there_is_nothing(
        tiny_corpus, tiny_cache_dir, tmp_path, capsys):
    cfg = tiny_config(tiny_corpus, tiny_cache_dir, epochs=1)
    train_lib.train_and_evaluate(cfg, tmp_path / "new", resume=True, progress=True)
    assert "nothing to resume" in capsys.readouterr().out
    saved = json.loads((tmp_path / "new" / "config.json").read_text())
    assert saved["provenance"]["versions"]["jax"] == jax.__version__ and saved["provenance"]["command"]
    # The devices and processes it trained on (count and kind), never a setting compared on --resume.
    assert saved["devices_used"] == {"count": 1, "platform": "cpu", "kind": jax.devices()[0].device_kind,
                                     "processes": 1}
    other = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=2, seed=5))
    with pytest.raises(ValueError, match=r"--resume: .* was started with other settings \(train\.epochs: 1 then, 2 "
                                         r"now; train\.seed: 0 then, 5 now\)"):
        train_lib.train_and_evaluate(other, tmp_path / "new", resume=True, progress=False)
    # Where the features are cached is not a setting of the run.
    moved = dataclasses.replace(cfg, cache_dir=str(tiny_cache_dir) + "/.", workers=1)
    train_lib.train_and_evaluate(moved, tmp_path / "new", resume=True, progress=False)
    # Nor is how the corpus folder is spelled: relative or absolute, it is the same data.
    relative = dataclasses.replace(cfg, data_dir=os.path.relpath(tiny_corpus))
    train_lib.train_and_evaluate(relative, tmp_path / "new", resume=True, progress=False)
    # A run started before a setting existed ran at its default: it resumes; a non-default is refused.
    # A run of an earlier version, its settings under their old names, resumes.
    old = {k: v for k, v in saved.items() if k not in ("model", "model_config", "feature_groups", "copies")}
    old.update(model_name=saved["model"], model=saved["model_config"], groups=saved["feature_groups"],
               speed_perturb=[], vtlp=[], noise_snr=None,
               split={**{k: v for k, v in saved["split"].items() if k != "split_seed"},
                      "random_state": saved["split"]["split_seed"]})
    (tmp_path / "new" / "config.json").write_text(json.dumps(old))
    train_lib.train_and_evaluate(cfg, tmp_path / "new", resume=True, progress=False)
    saved = json.loads((tmp_path / "new" / "config.json").read_text())
    del saved["copies"]
    (tmp_path / "new" / "config.json").write_text(json.dumps(saved))
    train_lib.train_and_evaluate(cfg, tmp_path / "new", resume=True, progress=False)
    with pytest.raises(ValueError, match=r"copies: \[\] then, \['vtlp:1\.1'\] now"):
        train_lib.train_and_evaluate(dataclasses.replace(cfg, copies=("vtlp:1.1",)), tmp_path / "new", resume=True,
                                     progress=False)
