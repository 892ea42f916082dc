"""The training loop: compiled steps, one split trained with early stopping, a whole protocol.

Reads like the protocol it implements: load the cached features, split them, standardise with
training statistics, train with one jitted step on device-resident data, stop early on the
validation set, restore the best epoch, and only then look at the test set (except under the
``seed_leaky`` protocol, whose every output says LEAKY). Files are ser_jax.train.records' and
ser_jax.rundir's business; where the data lives is ser_jax.train.data's; flags are the command's.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ser_jax import config as config_lib
from ser_jax import faults, parallel, rundir
from ser_jax import models as models_lib
from ser_jax import optim as optim_lib
from ser_jax import report as report_lib
from ser_jax import splits as splits_lib
from ser_jax.config import ExperimentConfig
from ser_jax.inference_meta import InferenceMeta
from ser_jax.preprocess import Preprocessor
from ser_jax.train import data as data_lib
from ser_jax.train.adapt import self_train, validation_evidence
from ser_jax.train.data import Arrays, OnHost, feed, padded_batches
from ser_jax.train.records import SplitRecords
# The compiled steps live in steps.py; named here too, as the loop's public surface.
from ser_jax.train.steps import (TrainState, _loss_and_acc, _per_group, _predictions, create_train_state, eval_step,
                                 predict_logits, scored_logits, train_step)

__all__ = ["RunResult", "TrainState", "TrainingDiverged", "create_train_state", "eval_step", "fit_split",
           "predict_logits", "scored_logits", "self_train", "train_and_evaluate", "train_step"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or inf, or stayed far above chance; the best checkpoint so far is kept."""


@dataclasses.dataclass(frozen=True)
class RunResult:
    run_dir: str
    metrics: dict  # what metrics.json holds
    leaky: bool


# --------------------------------------------------------------------------------------------
# One split: train with early stopping, restore the best epoch, evaluate.


# A training loss this many times chance level (ln of the class count) for this many epochs in a
# row is divergence, not learning (a loss that is NaN or inf is divergence at once).
DIVERGED_FACTOR = 10.0
DIVERGED_EPOCHS = 3


def _check_divergence(loss: float, epoch: int, history: list[dict], chance: float, name: str, where: Path,
                      best_epoch: int) -> None:
    """Raises TrainingDiverged, saying which checkpoint is kept, when the loss is gone."""
    recent = [r["train_loss"] for r in history[-(DIVERGED_EPOCHS - 1):]] + [loss]
    exploded = len(recent) == DIVERGED_EPOCHS and all(v > DIVERGED_FACTOR * chance for v in recent)
    if math.isfinite(loss) and not exploded:
        return
    what = (f"training loss became {loss} at epoch {epoch + 1}" if not math.isfinite(loss) else
            f"training loss stayed above {DIVERGED_FACTOR:g}x chance level ({DIVERGED_FACTOR * chance:.2f}) "
            f"for {DIVERGED_EPOCHS} epochs ({loss:.4g} at epoch {epoch + 1})")
    kept = (f"the best checkpoint (epoch {best_epoch + 1}) is kept in {where / rundir.CHECKPOINTS}" if best_epoch >= 0
            else "no checkpoint was kept (it diverged before any epoch finished)")
    raise TrainingDiverged(f"{name}: {what}; {kept}; lower --learning_rate or set --clip_norm")


def _host(tree: Any) -> Any:
    return jax.tree_util.tree_map(np.asarray, jax.device_get(tree))


@dataclasses.dataclass
class _Progress:
    """Where a split's training stands: what the "last" checkpoint records besides the state."""

    start_epoch: int = 0
    best_epoch: int = -1
    best_acc: float = -np.inf
    wait: int = 0
    seconds_before: float = 0.0
    stopped: str = "max_epochs"
    history: list = dataclasses.field(default_factory=list)


def fit_split(cfg: ExperimentConfig, data: Arrays | OnHost, y: np.ndarray, label_names: Sequence[str],
              split: splits_lib.Split, run_dir: Path, *, paths: Sequence[str], norm: dict, preprocessor: Preprocessor,
              corpus: np.ndarray | None = None, channel: np.ndarray | None = None,
              row_weights: np.ndarray | None = None, extra: dict | None = None,
              resume: bool = False, progress: bool = True, mesh: Any = None) -> dict:
    """Trains on split.train, stops early on split.val, evaluates the best epoch on split.test
    (``mesh``: the run's devices, parallel.make_mesh; made here when not given). ``row_weights``
    (N,): each training clip's loss weight (data.corpus_weights); ``extra``: more for metrics.json;
    ``preprocessor`` and ``norm``: how the inputs were prepared (data.for_split), kept with the checkpoint."""
    from tqdm.auto import tqdm

    tc = cfg.train
    num_frames, num_features = int(data.x.shape[1]), int(data.x.shape[2])
    model_cfg = dataclasses.replace(cfg.model_config, num_classes=len(label_names))
    steps_per_epoch = math.ceil(len(split.train) / tc.batch_size)
    base_rng = jax.random.PRNGKey(tc.seed)
    class_w = (jnp.asarray(data_lib.class_weight_vector(y, split.train, len(label_names)))
               if tc.class_weights else None)
    records = SplitRecords(run_dir, primary=parallel.is_primary())
    resuming = resume and records.checkpoints.has("last")
    # Pretrained weights only for a new start: a resumed split restores its own (no weights read twice).
    pretrained = None if resuming else functools.partial(
        models_lib.initialize, cfg.model, model_cfg, norm=norm, encoder=cfg.features.encoder,
        encoder_sha256=cfg.features.encoder_sha256)
    state = create_train_state(jax.random.fold_in(base_rng, 0), model_cfg, cfg.optim, num_frames, num_features,
                               total_steps=steps_per_epoch * tc.epochs, model_name=cfg.model, pretrained=pretrained)
    records.started(cfg, state, resuming)  # provenance: input and initial-parameter hashes in config.json
    mesh = parallel.make_mesh(cfg.devices) if mesh is None else mesh
    shard, everywhere = parallel.batch_sharding(mesh), parallel.replicated(mesh)
    state = parallel.replicate(state, everywhere)
    data = parallel.replicate(data, everywhere) if isinstance(data, Arrays) else data
    class_w = parallel.replicate(class_w, everywhere)
    inference_meta = InferenceMeta(
        label_names=tuple(label_names), preprocessor=preprocessor, model_name=cfg.model, model_config=model_cfg,
        protocol=cfg.split.protocol, leaky=split.leaky,
        corpora=tuple(sorted(set(np.asarray(corpus).tolist()))) if corpus is not None else ())
    p = _Progress()
    best = {"params": _host(state.params), "batch_stats": _host(state.batch_stats)}

    def best_meta() -> dict:
        return dataclasses.replace(inference_meta, epoch=p.best_epoch + 1, val_accuracy=float(p.best_acc)).to_dict()

    if resuming:
        state, best, p = _restore(records, state, norm, best_meta)
        if progress:
            print(f"resuming {run_dir} after epoch {p.start_epoch}", flush=True)
    records.begin(p.start_epoch, cfg.to_dict(), split)
    t0 = time.perf_counter()
    chance = math.log(len(label_names)) if len(label_names) > 1 else 1.0
    val_corpus = None if corpus is None else np.asarray(corpus)[split.val].astype(str)
    epochs = range(p.start_epoch, tc.epochs) if p.stopped != "early_stopping" else range(0)
    bar = tqdm(epochs, desc=split.name, unit="epoch", disable=not progress,
               dynamic_ncols=True, initial=p.start_epoch, total=tc.epochs)
    try:
        for epoch in bar:
            perm = np.random.default_rng([tc.seed, epoch]).permutation(split.train)
            epoch_rng = jax.random.fold_in(jax.random.fold_in(base_rng, 1), epoch)
            sums = []
            batches = padded_batches(perm, tc.batch_size)
            if row_weights is not None:  # corpus balance: the padding's weight stays 0
                batches = [(i, w * row_weights[i]) for i, w in batches]
            for b, (batch, idx, w) in enumerate(feed(data, batches, shard)):
                key = jax.random.fold_in(epoch_rng, b)
                key = parallel.replicate(key, everywhere) if parallel.multi_process() else key
                state, m = train_step(state, batch, idx, w, key, class_w, augment=cfg.augment, shard=shard)
                sums.append(m)
            sums = jax.device_get(sums)
            count = sum(float(m["count"]) for m in sums)
            train_loss = sum(float(m["loss_sum"]) for m in sums) / count
            train_acc = sum(float(m["correct"]) for m in sums) / count
            _check_divergence(train_loss, epoch, p.history, chance, split.name, run_dir, p.best_epoch)
            val_logits = predict_logits(state, data, split.val, tc.eval_batch_size, shard)
            val_loss, val_acc = _loss_and_acc(val_logits, y[split.val], val_corpus)
            val_f1 = report_lib.compute_metrics(y[split.val], val_logits.argmax(-1), label_names)["macro_f1"]
            lr = float(optim_lib.learning_rate_at(cfg.optim, int(state.step), steps_per_epoch * tc.epochs))
            row = {"epoch": epoch + 1, "train_loss": train_loss, "train_accuracy": train_acc, "val_loss": val_loss,
                   "val_accuracy": val_acc, "val_macro_f1": val_f1, "learning_rate": lr}
            p.history.append(row)
            records.epoch(row)
            improved = val_acc > p.best_acc
            if improved:
                p.best_acc, p.best_epoch, p.wait = val_acc, epoch, 0
                best = {"params": _host(state.params), "batch_stats": _host(state.batch_stats)}
            else:
                p.wait += 1
            if tc.patience and p.wait >= tc.patience:
                p.stopped = "early_stopping"
            # One epoch, one record: "last" holds everything (the best parameters and the stopping
            # decision included) and is written first; "best" follows and is re-synced on --resume.
            records.checkpoints.save(
                "last", epoch + 1, {"params": state.params, "batch_stats": state.batch_stats,
                                    "opt_state": state.opt_state, "step": state.step, "best": best},
                {"epoch": epoch, "best_epoch": p.best_epoch, "best_acc": p.best_acc, "wait": p.wait,
                 "history": p.history, "train_seconds": p.seconds_before + time.perf_counter() - t0,
                 "stopped_by": p.stopped if p.stopped == "early_stopping" else None})
            faults.point("between_checkpoint_saves")
            if improved:
                records.checkpoints.save("best", epoch + 1, {**best, "norm": norm}, best_meta())
            faults.point("after_epoch")
            bar.set_postfix(loss=f"{train_loss:.3f}", acc=f"{train_acc:.3f}", val_acc=f"{val_acc:.3f}",
                            best=f"{p.best_acc:.3f}@{p.best_epoch + 1}")
            if p.stopped == "early_stopping":
                break
    finally:
        bar.close()
        records.close_checkpoints()
    seconds = p.seconds_before + time.perf_counter() - t0

    faults.point("before_test_evaluation")
    # Only now, with the epoch chosen on validation data, is the test set looked at.
    # Device arrays placed as during training: no recompilation of eval_step.
    best = jax.device_put(best) if everywhere is None else parallel.replicate(best, everywhere)
    state = state.replace(params=best["params"], batch_stats=best["batch_stats"])
    adapted = {}
    if tc.self_train and len(split.test):  # transductive: the unlabelled test clips adapt the chosen model
        on_val = validation_evidence(state, cfg, data, y, label_names, split, shard, row_weights, val_corpus)
        state, adapted = self_train(state, cfg, data, y, label_names, split, shard, row_weights, progress)
        adapted = {**adapted, "val_accuracy_adapted": on_val}  # the same adaptation aimed at the validation clips
    test_logits = scored_logits(predict_logits(state, data, split.test, tc.eval_batch_size, shard), label_names,
                                split.scored_emotions)
    # Kept so that runs of several seeds can be scored as an ensemble later (experiments, tables):
    # on the validation clips too, where an ensemble can be chosen like any other configuration.
    val_logits = predict_logits(state, data, split.val, tc.eval_batch_size, shard)
    y_pred, y_true = test_logits.argmax(-1), y[split.test]
    extra = {
        "split": split.name, "split_description": split.description, "channels": cfg.split.channels,
        "n_train": int(len(split.train)), "n_val": int(len(split.val)), "n_test": int(len(split.test)),
        "epochs_run": len(p.history), "best_epoch": p.best_epoch + 1, "stopped_by": p.stopped,
        "best_val_accuracy": float(p.best_acc), "train_seconds": seconds, "history": p.history,
        **_per_group("per_corpus", y_true, y_pred, corpus, split, label_names),
        **_per_group("per_channel", y_true, y_pred, channel, split, label_names),
        **({"scored_emotions": list(split.scored_emotions)} if split.scored_emotions else {}),
        **({"transductive": adapted} if adapted else {}),
        **({"skipped_folds": list(split.skipped_folds)} if split.skipped_folds else {}),
        **(extra or {}),
        "test_predictions": _predictions(test_logits, split.test, y, paths),
        "val_predictions": _predictions(val_logits, split.val, y, paths),
        "config": cfg.to_dict(),
    }
    return records.report(y_true, y_pred, label_names, leaky=split.leaky, protocol=cfg.split.protocol,
                          title=f"{split.name} test", extra=extra, config=cfg.to_dict(), epochs=len(p.history))


def _restore(records: SplitRecords, state: TrainState, norm: dict, best_meta: Callable[[], dict]
             ) -> tuple[TrainState, dict, _Progress]:
    """State, best parameters and progress from the "last" checkpoint of an interrupted split."""
    target = {"params": state.params, "batch_stats": state.batch_stats, "opt_state": state.opt_state,
              "step": state.step, "best": {"params": _host(state.params), "batch_stats": _host(state.batch_stats)}}
    restored, meta = records.checkpoints.restore("last", target)
    state = state.replace(params=restored["params"], batch_stats=restored["batch_stats"],
                          opt_state=restored["opt_state"], step=restored["step"])
    p = _Progress(meta["epoch"] + 1, meta["best_epoch"], meta["best_acc"], meta["wait"],
                  float(meta.get("train_seconds", 0.0)), meta.get("stopped_by") or "max_epochs", meta["history"])
    best = _host(restored["best"])
    records.resumed(p.history)
    if p.best_epoch >= 0 and records.checkpoints.step("best") != p.best_epoch + 1:  # killed between the two saves
        records.checkpoints.save("best", p.best_epoch + 1, {**best, "norm": norm}, best_meta())
    return state, best, p


# --------------------------------------------------------------------------------------------
# A whole experiment: all splits of the protocol, aggregated.


def _defaults() -> dict:
    """Top-level settings at their defaults (a setting added since a run started ran at its default)."""
    return {f.name: f.default for f in dataclasses.fields(ExperimentConfig)
            if f.default is not dataclasses.MISSING and not dataclasses.is_dataclass(f.default)}


def train_and_evaluate(cfg: ExperimentConfig, run_dir: str | os.PathLike, *, resume: bool = False,
                       overwrite: bool = False, progress: bool = True) -> RunResult:
    """Every split of the protocol trained and tested in ``run_dir`` (a fold each), then aggregated."""
    run_dir, primary = Path(run_dir), parallel.is_primary()
    progress = progress and primary
    with rundir.claimed(run_dir, hold=primary):  # process 0 of a multi-process run holds it for all
        rundir.check_start(run_dir, cfg.to_dict(), _defaults(), resume=resume, overwrite=overwrite,
                           progress=progress, upgrade=config_lib.upgrade)
        parallel.barrier("run directory checked")  # every process decided before process 0 changes it
        mesh = parallel.make_mesh(cfg.devices)  # before any work: a bad --devices or batch size fails at once
        used = parallel.describe(mesh)
        if primary:
            rundir.start(run_dir, {**cfg.to_dict(), rundir.DEVICES_KEY: used}, resume=resume)
        parallel.barrier("run directory ready")
        if progress:
            print(f"devices: {parallel.format_devices(used)}", flush=True)
        prepared = data_lib.prepare(cfg, progress)
        _check_batch_sizes(cfg, mesh, prepared.splits)
        per_split = []
        for split in prepared.splits:
            many = split.fold is not None and len(prepared.splits) > 1
            sub = rundir.fold_dir(run_dir, split.fold) if many else run_dir
            if sub != run_dir and rundir.finished(sub):  # a finished fold of a resumed run
                per_split.append(rundir.read_metrics(sub))
                continue
            data, norm, preprocessor = data_lib.for_split(prepared, split, cfg)
            fs = prepared.features
            speakers = data_lib.speaker_statistics(fs, split, cfg.train)
            if progress and (note := data_lib.speaker_note(speakers)):
                print(note, flush=True)
            metrics = fit_split(cfg, data, prepared.y, prepared.label_names, split, sub, paths=fs.paths,
                                norm=norm, preprocessor=preprocessor, corpus=fs.meta.get("corpus"),
                                channel=fs.meta.get("channel"),
                                row_weights=data_lib.corpus_weights(fs, split.train, cfg.train.corpus_balance),
                                extra={"speaker_statistics": speakers} if speakers else None, resume=resume,
                                progress=progress, mesh=mesh)
            if progress and len(prepared.splits) > 1:
                print(report_lib.format_summary(metrics, leaky=split.leaky, protocol=split.name), flush=True)
            per_split.append(metrics)
            del data
        metrics = per_split[0] if len(per_split) == 1 or not primary else _aggregate(cfg, run_dir, per_split)
    return RunResult(str(run_dir), metrics, leaky=any(s.leaky for s in prepared.splits))


def _check_batch_sizes(cfg: ExperimentConfig, mesh: Any, splits: Sequence[splits_lib.Split]) -> None:
    parallel.check_batch_size(cfg.train.batch_size, mesh)
    parallel.check_batch_size(cfg.train.eval_batch_size, mesh, "--eval_batch_size")
    smallest = min(splits, key=lambda sp: len(sp.train))
    if cfg.train.batch_size > len(smallest.train):
        raise ValueError(f"--batch_size={cfg.train.batch_size} is larger than the training set ({len(smallest.train)} "
                         f"clips in {smallest.name}); use at most {len(smallest.train)}")


def _aggregate(cfg: ExperimentConfig, run_dir: Path, per_split: list[dict]) -> dict:
    """The k-fold run's report: mean and std over folds (and of the chosen epochs' validation accuracy)."""
    from ser_jax import summaries

    val = np.asarray([m["best_val_accuracy"] for m in per_split], np.float64)
    metrics = report_lib.write_aggregate_report(
        run_dir, per_split, leaky=False, protocol=cfg.split.protocol,
        title=f"{cfg.split.protocol} ({cfg.split.channels}): {len(per_split)} folds",
        extra={"best_val_accuracy": {"mean": float(val.mean()), "std": float(val.std(ddof=1)) if len(val) > 1 else 0.0},
               "train_seconds": sum(m["train_seconds"] for m in per_split),
               "epochs_run": [m["epochs_run"] for m in per_split], "config": cfg.to_dict()})
    summaries.write_results(run_dir, cfg.to_dict(), metrics, step=0)  # the k-fold run as one session
    return metrics
