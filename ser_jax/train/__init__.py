"""Training and evaluation: ``python -m ser_jax.train --flagfile=experiments/<name>.flags``.

The loop reads like the protocol it implements: load the cached features, split them, standardise
with training statistics, train with one jitted step on device-resident data, stop early on the
validation set, restore the best epoch, and only then look at the test set (except under the
``seed_leaky`` protocol, whose every output says LEAKY).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state

from ser_jax import augment as augment_lib
from ser_jax import cache as cache_lib
from ser_jax import checkpoint as ckpt_lib
from ser_jax import corpora, faults, lockfile, parallel, rundir, summaries
from ser_jax import models as models_lib
from ser_jax import normalize as normalize_lib
from ser_jax import optim as optim_lib
from ser_jax import perturb as perturb_lib
from ser_jax import report as report_lib
from ser_jax import splits as splits_lib
from ser_jax import stream as stream_lib
from ser_jax.config import ExperimentConfig, TrainConfig  # noqa: F401  (part of train's interface)
from ser_jax.inference_meta import InferenceMeta


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or inf, or stayed far above chance; the best checkpoint so far is kept."""


class RunLockedError(OSError):
    """Another process is writing the run directory."""


LOCK_NAME = rundir.LOCK  # in the run directory, held (flock) by the process training into it


@dataclasses.dataclass(frozen=True)
class RunResult:
    run_dir: str
    metrics: dict  # what metrics.json holds
    leaky: bool


class TrainState(train_state.TrainState):
    batch_stats: Any = None


class Arrays(NamedTuple):
    """The whole (filtered) data set, resident on device; steps gather their batch by index."""

    x: jax.Array  # (N, T, F) float32
    lengths: jax.Array  # (N,) int32
    y: jax.Array  # (N,) int32


class OnHost(NamedTuple):
    """The data set when it stays on the host: on disk (--stream; x is a stream.Rows), or in memory with
    several processes (each sends only its share of a batch). Each batch is read, scaled and sent."""

    x: stream_lib.Rows | np.ndarray  # (N, T, F), standardised (Rows: as it is read)
    lengths: np.ndarray  # (N,) int32
    y: np.ndarray  # (N,) int32


def feed(data: Arrays | OnHost, batches: Sequence[tuple[np.ndarray, np.ndarray]], shard: Any = None
         ) -> Iterator[tuple[Arrays, jax.Array | None, jax.Array]]:
    """(data, rows, weights) for each batch: the device-resident set and the batch's rows, or, when the
    data is on disk, the batch itself (rows None), read by a background thread while the device works."""
    if isinstance(data, Arrays):
        for idx, w in batches:
            yield data, jnp.asarray(idx), jnp.asarray(w)
        return

    def read():
        for idx, w in batches:
            mine = parallel.local_share(len(idx))  # all of it, unless there are several processes
            batch = Arrays(np.asarray(data.x[idx[mine]]), data.lengths[idx[mine]], data.y[idx[mine]])
            yield parallel.put_batch(batch, shard), None, parallel.put_batch(w[mine], shard)

    yield from stream_lib.prefetch(read(), size=2)


# --------------------------------------------------------------------------------------------
# Steps: pure functions of (state, data, batch indices), compiled once.


@functools.lru_cache(maxsize=16)
def _program(model_name: str, model_cfg: Any, optim_cfg: optim_lib.OptimConfig, total_steps: int
             ) -> tuple[nn.Module, Callable, optax.GradientTransformation]:
    """The model, its compiled initialiser and the optimiser of one configuration, made once per process.

    The state's apply_fn and tx are part of what train_step and eval_step are compiled for: the same
    objects let a second run with the same settings in one process (a sweep, the tests) reuse the
    compiled steps instead of tracing and lowering them again (and keeping one more executable each).
    The initialiser is compiled as one program (bit-identical to op-by-op initialisation, tested): op
    by op, each of its ~130 small operations is lowered and compiled on its own (2-7 s per start).
    """
    model = models_lib.build(model_name, model_cfg)
    return model, jax.jit(functools.partial(model.init, train=False)), optim_lib.make_optimizer(optim_cfg, total_steps)


def create_train_state(
    rng: jax.Array, model_cfg: Any, optim_cfg: optim_lib.OptimConfig,
    num_frames: int, num_features: int, total_steps: int, model_name: str = models_lib.DEFAULT,
) -> TrainState:
    """Parameters, BatchNorm statistics and optimiser state of model ``model_name`` (its Config)."""
    model, init, tx = _program(model_name, model_cfg, optim_cfg, total_steps)
    x = jnp.zeros((1, num_frames, num_features), jnp.float32)
    variables = init({"params": rng, "dropout": rng}, x, jnp.full((1,), num_frames, jnp.int32))
    state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=tx,
                              batch_stats=variables.get("batch_stats", {}))
    # A Python int step would be weakly typed and make the second call of train_step recompile.
    return state.replace(step=jnp.zeros((), jnp.int32))


def _split_batch(shard: Any, *arrays: jax.Array) -> tuple[jax.Array, ...]:
    """The batch's arrays split over the devices (parallel.batch_sharding); unchanged on one device."""
    return arrays if shard is None else tuple(jax.lax.with_sharding_constraint(a, shard) for a in arrays)


def _rows(data: Arrays, idx: jax.Array | None) -> Arrays:
    """The batch: rows idx of the device-resident set, or data itself when it is the batch (idx None)."""
    return data if idx is None else Arrays(data.x[idx], data.lengths[idx], data.y[idx])


def _everywhere(shard: Any, tree: Any) -> Any:
    """``tree`` replicated on the batch's mesh, so every process can read it (unchanged on one device)."""
    if shard is None:
        return tree
    return jax.lax.with_sharding_constraint(tree, parallel.replicated(shard.mesh))


@functools.partial(jax.jit, donate_argnums=(0,), static_argnames=("augment", "shard"))
def train_step(
    state: TrainState, data: Arrays, idx: jax.Array, weights: jax.Array, rng: jax.Array,
    class_w: jax.Array | None = None, augment: augment_lib.AugmentConfig = augment_lib.AugmentConfig(),
    shard: Any = None,
) -> tuple[TrainState, dict]:
    """One optimiser step on the rows idx of data (idx None: data is the batch, read from disk);
    weights are 0 for the padding of a short last batch.

    ``class_w`` (classes,) weighs each clip's loss by its class (1 everywhere: plain mean).
    ``shard``: the batch's sharding over several devices (ser_jax.parallel), or None.
    """
    x, lengths, y, weights = _split_batch(shard, *_rows(data, idx), weights)
    # Its own stream, so turning masks on leaves the dropout masks of a seed unchanged.
    x = augment_lib.mask(jax.random.fold_in(rng, 1), x, lengths, augment)
    if augment.mixup > 0:
        x, lengths, partner, lam = augment_lib.mixup(jax.random.fold_in(rng, 2), x, lengths, augment.mixup)

    def loss_fn(params):
        logits, updates = state.apply_fn(
            {"params": params, "batch_stats": state.batch_stats}, x, lengths, train=True,
            rngs={"dropout": rng}, mutable=["batch_stats"],
        )
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        if augment.mixup > 0:
            ce = lam * ce + (1.0 - lam) * optax.softmax_cross_entropy_with_integer_labels(logits, y[partner])
        w = weights if class_w is None else weights * class_w[y]
        return jnp.sum(ce * w) / jnp.sum(w), (logits, updates)

    (loss, (logits, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads)
    state = state.replace(batch_stats=updates.get("batch_stats", state.batch_stats))
    count = jnp.sum(weights)
    correct = jnp.sum((jnp.argmax(logits, -1) == y) * weights)
    return _everywhere(shard, (state, {"loss_sum": loss * count, "correct": correct, "count": count}))


@functools.partial(jax.jit, static_argnames=("shard",))
def eval_step(state: TrainState, data: Arrays, idx: jax.Array | None, shard: Any = None) -> jax.Array:
    batch = _rows(data, idx)
    x, lengths = _split_batch(shard, batch.x, batch.lengths)
    logits = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, x, lengths, train=False)
    return _everywhere(shard, logits)


def padded_batches(rows: np.ndarray, batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Batches of equal size (so one compiled step serves all); the short last one is padded
    by repeating its first row with weight 0."""
    out = []
    for start in range(0, len(rows), batch_size):
        idx = rows[start : start + batch_size]
        w = np.ones(batch_size, np.float32)
        if len(idx) < batch_size:
            w[len(idx):] = 0.0
            idx = np.concatenate([idx, np.full(batch_size - len(idx), idx[0])])
        out.append((idx.astype(np.int32), w))
    return out


def predict_logits(state: TrainState, data: Arrays | OnHost, rows: np.ndarray, batch_size: int, shard: Any = None
                   ) -> np.ndarray:
    outs = []
    batches = padded_batches(rows, batch_size)
    for (batch, idx, _), (_, w) in zip(feed(data, batches, shard), batches, strict=True):
        logits = np.asarray(eval_step(state, batch, idx, shard=shard))
        outs.append(logits[w > 0])
    return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)


def _predictions(logits: np.ndarray, rows: np.ndarray, y: np.ndarray, paths: Sequence[str]) -> dict:
    """What metrics.json keeps of one evaluation: clips, labels, predictions and class probabilities."""
    if not len(rows):
        return {"paths": [], "y_true": [], "y_pred": [], "probabilities": []}
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = probs / probs.sum(axis=-1, keepdims=True)
    return {"paths": [paths[i] for i in rows], "y_true": y[rows].tolist(), "y_pred": logits.argmax(-1).tolist(),
            "probabilities": np.round(probs, 6).tolist()}


def _loss_and_acc(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    loss = float(optax.softmax_cross_entropy_with_integer_labels(jnp.asarray(logits), jnp.asarray(y)).mean())
    return loss, float(np.mean(np.argmax(logits, -1) == y))


# --------------------------------------------------------------------------------------------
# One split: train with early stopping, restore the best epoch, evaluate.


# A training loss this many times chance level (ln of the class count) for this many epochs in a
# row is divergence, not learning (a loss that is NaN or inf is divergence at once).
DIVERGED_FACTOR = 10.0
DIVERGED_EPOCHS = 3


def _check_divergence(loss: float, epoch: int, history: list[dict], chance: float, name: str, run_dir: Path,
                      best_epoch: int) -> None:
    """Raises TrainingDiverged, saying which checkpoint is kept, when the loss is gone."""
    recent = [r["train_loss"] for r in history[-(DIVERGED_EPOCHS - 1):]] + [loss]
    exploded = len(recent) == DIVERGED_EPOCHS and all(v > DIVERGED_FACTOR * chance for v in recent)
    if math.isfinite(loss) and not exploded:
        return
    what = (f"training loss became {loss} at epoch {epoch + 1}" if not math.isfinite(loss) else
            f"training loss stayed above {DIVERGED_FACTOR:g}x chance level ({DIVERGED_FACTOR * chance:.2f}) "
            f"for {DIVERGED_EPOCHS} epochs ({loss:.4g} at epoch {epoch + 1})")
    kept = (f"the best checkpoint (epoch {best_epoch + 1}) is kept in {run_dir / rundir.CHECKPOINTS}" if best_epoch >= 0
            else "no checkpoint was kept (it diverged before any epoch finished)")
    raise TrainingDiverged(f"{name}: {what}; {kept}; lower --learning_rate or set --clip_norm")


class _NoWriter:
    """What processes other than 0 log to: nothing (process 0 writes the TensorBoard events)."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


def _host(tree: Any) -> Any:
    return jax.tree_util.tree_map(np.asarray, jax.device_get(tree))


def fit_split(
    cfg: ExperimentConfig,
    data: Arrays | OnHost,
    y: np.ndarray,
    label_names: Sequence[str],
    split: splits_lib.Split,
    run_dir: Path,
    *,
    paths: Sequence[str],
    norm: dict,
    corpus: np.ndarray | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """Trains on split.train, stops early on split.val, evaluates the best epoch on split.test."""
    from tensorboardX import SummaryWriter
    from tqdm.auto import tqdm

    tc = cfg.train
    run_dir.mkdir(parents=True, exist_ok=True)
    num_frames, num_features = int(data.x.shape[1]), int(data.x.shape[2])
    model_cfg = dataclasses.replace(cfg.model, num_classes=len(label_names))
    steps_per_epoch = math.ceil(len(split.train) / tc.batch_size)
    base_rng = jax.random.PRNGKey(tc.seed)
    class_w = (jnp.asarray(class_weight_vector(y, split.train, len(label_names))) if tc.class_weights else None)
    state = create_train_state(jax.random.fold_in(base_rng, 0), model_cfg, cfg.optim, num_frames, num_features,
                               total_steps=steps_per_epoch * tc.epochs, model_name=cfg.model_name)
    mesh = parallel.make_mesh(cfg.devices)
    shard, everywhere = parallel.batch_sharding(mesh), parallel.replicated(mesh)
    state = parallel.replicate(state, everywhere)
    data = parallel.replicate(data, everywhere) if isinstance(data, Arrays) else data
    class_w = parallel.replicate(class_w, everywhere)
    primary = parallel.is_primary()  # the one process that writes files (several processes: process 0)
    inference_meta = InferenceMeta(
        label_names=tuple(label_names), feature_config=cfg.features, groups=tuple(cfg.groups),
        model_name=cfg.model_name, model_config=model_cfg, num_frames=num_frames, protocol=cfg.split.protocol,
        leaky=split.leaky, normalization=normalization(tc),
        corpora=tuple(sorted(set(np.asarray(corpus).tolist()))) if corpus is not None else ())
    ckpts = ckpt_lib.RunCheckpoints(run_dir)
    history: list[dict] = []
    start_epoch, best_epoch, best_acc, wait, seconds_before, stopped = 0, -1, -np.inf, 0, 0.0, "max_epochs"
    best = {"params": _host(state.params), "batch_stats": _host(state.batch_stats)}

    def best_meta() -> dict:
        return dataclasses.replace(inference_meta, epoch=best_epoch + 1, val_accuracy=float(best_acc)).to_dict()

    if resume and ckpts.has("last"):
        target = {"params": state.params, "batch_stats": state.batch_stats, "opt_state": state.opt_state,
                  "step": state.step, "best": best}
        restored, meta = ckpts.restore("last", target)
        state = state.replace(params=restored["params"], batch_stats=restored["batch_stats"],
                              opt_state=restored["opt_state"], step=restored["step"])
        best = _host(restored["best"])
        start_epoch, best_epoch, best_acc, wait = meta["epoch"] + 1, meta["best_epoch"], meta["best_acc"], meta["wait"]
        history, seconds_before = meta["history"], float(meta.get("train_seconds", 0.0))
        stopped = meta.get("stopped_by") or stopped
        if primary:
            with open(run_dir / rundir.HISTORY, "w") as f:  # drop epochs logged after the checkpoint
                f.writelines(json.dumps(row) + "\n" for row in history)
        if best_epoch >= 0 and ckpts.step("best") != best_epoch + 1:  # killed between the two saves
            ckpts.save("best", best_epoch + 1, {**best, "norm": norm}, best_meta())
        if progress:
            print(f"resuming {run_dir} after epoch {start_epoch}", flush=True)

    if start_epoch == 0 and primary:  # a fresh start, or --resume before any epoch was checkpointed
        (run_dir / rundir.HISTORY).unlink(missing_ok=True)
    writer = (SummaryWriter(logdir=str(run_dir), purge_step=start_epoch + 1 if start_epoch else None) if primary
              else _NoWriter())
    if start_epoch == 0:
        writer.add_text("config", "```\n" + json.dumps(cfg.to_dict(), indent=2) + "\n```", 0)
        writer.add_text("split", ("LEAKY (early stopping on the test set): " if split.leaky else "")
                        + split.description, 0)
    t0 = time.perf_counter()
    chance = math.log(len(label_names)) if len(label_names) > 1 else 1.0
    epochs = range(start_epoch, tc.epochs) if stopped != "early_stopping" else range(0)
    bar = tqdm(epochs, desc=split.name, unit="epoch", disable=not progress,
               dynamic_ncols=True, initial=start_epoch, total=tc.epochs)
    try:
        for epoch in bar:
            perm = np.random.default_rng([tc.seed, epoch]).permutation(split.train)
            epoch_rng = jax.random.fold_in(jax.random.fold_in(base_rng, 1), epoch)
            sums = []
            for b, (batch, idx, w) in enumerate(feed(data, padded_batches(perm, tc.batch_size), shard)):
                key = jax.random.fold_in(epoch_rng, b)
                key = parallel.replicate(key, everywhere) if parallel.multi_process() else key
                state, m = train_step(state, batch, idx, w, key, class_w, augment=cfg.augment, shard=shard)
                sums.append(m)
            sums = jax.device_get(sums)
            count = sum(float(m["count"]) for m in sums)
            train_loss = sum(float(m["loss_sum"]) for m in sums) / count
            train_acc = sum(float(m["correct"]) for m in sums) / count
            _check_divergence(train_loss, epoch, history, chance, split.name, run_dir, best_epoch)
            val_logits = predict_logits(state, data, split.val, tc.eval_batch_size, shard)
            val_loss, val_acc = _loss_and_acc(val_logits, y[split.val])
            val_f1 = report_lib.compute_metrics(y[split.val], val_logits.argmax(-1), label_names)["macro_f1"]
            lr = float(optim_lib.learning_rate_at(cfg.optim, int(state.step), steps_per_epoch * tc.epochs))
            row = {"epoch": epoch + 1, "train_loss": train_loss, "train_accuracy": train_acc, "val_loss": val_loss,
                   "val_accuracy": val_acc, "val_macro_f1": val_f1, "learning_rate": lr}
            history.append(row)
            for k in ("loss", "accuracy"):
                writer.add_scalar(f"train/{k}", row[f"train_{k}"], epoch + 1)
                writer.add_scalar(f"val/{k}", row[f"val_{k}"], epoch + 1)
            writer.add_scalar("val/macro_f1", val_f1, epoch + 1)
            writer.add_scalar("learning_rate", lr, epoch + 1)
            if primary:
                with open(run_dir / rundir.HISTORY, "a") as f:
                    f.write(json.dumps(row) + "\n")
            improved = val_acc > best_acc
            if improved:
                best_acc, best_epoch, wait = val_acc, epoch, 0
                best = {"params": _host(state.params), "batch_stats": _host(state.batch_stats)}
            else:
                wait += 1
            if tc.patience and wait >= tc.patience:
                stopped = "early_stopping"
            # One epoch, one record: "last" holds everything (the best parameters and the stopping
            # decision included) and is written first; "best" follows and is re-synced on --resume.
            ckpts.save("last", epoch + 1,
                       {"params": state.params, "batch_stats": state.batch_stats, "opt_state": state.opt_state,
                        "step": state.step, "best": best},
                       {"epoch": epoch, "best_epoch": best_epoch, "best_acc": best_acc, "wait": wait,
                        "history": history, "train_seconds": seconds_before + time.perf_counter() - t0,
                        "stopped_by": stopped if stopped == "early_stopping" else None})
            faults.point("between_checkpoint_saves")
            if improved:
                ckpts.save("best", epoch + 1, {**best, "norm": norm}, best_meta())
            faults.point("after_epoch")
            bar.set_postfix(loss=f"{train_loss:.3f}", acc=f"{train_acc:.3f}", val_acc=f"{val_acc:.3f}",
                            best=f"{best_acc:.3f}@{best_epoch + 1}")
            if stopped == "early_stopping":
                break
    finally:
        bar.close()
        ckpts.close()
    seconds = seconds_before + time.perf_counter() - t0

    faults.point("before_test_evaluation")
    # Only now, with the epoch chosen on validation data, is the test set looked at.
    # Device arrays placed as during training: no recompilation of eval_step.
    best = jax.device_put(best) if everywhere is None else parallel.replicate(best, everywhere)
    state = state.replace(params=best["params"], batch_stats=best["batch_stats"])
    test_logits = predict_logits(state, data, split.test, tc.eval_batch_size, shard)
    y_pred = test_logits.argmax(-1)
    y_true = y[split.test]
    # Kept so that runs of several seeds can be scored as an ensemble later (experiments, tables):
    # on the validation clips too, where an ensemble can be chosen like any other configuration.
    val_logits = predict_logits(state, data, split.val, tc.eval_batch_size, shard)
    title = f"{split.name} test"
    per_corpus = {}
    if corpus is not None and len(set(corpus[split.test].tolist())) > 1:  # several corpora tested: each alone too
        for name in sorted(set(corpus[split.test].tolist())):
            mask = corpus[split.test] == name
            m = report_lib.compute_metrics(y_true[mask], y_pred[mask], label_names)
            per_corpus[str(name)] = {k: m[k] for k in (*report_lib.SCALAR_METRICS, "n")}
    metrics = report_lib.write_run_report(
        run_dir if primary else None, y_true, y_pred, label_names, leaky=split.leaky, protocol=cfg.split.protocol,
        title=title,
        extra={
            "split": split.name, "split_description": split.description, "channels": cfg.split.channels,
            "n_train": int(len(split.train)), "n_val": int(len(split.val)), "n_test": int(len(split.test)),
            "epochs_run": len(history), "best_epoch": best_epoch + 1, "stopped_by": stopped,
            "best_val_accuracy": float(best_acc), "train_seconds": seconds, "history": history,
            **({"per_corpus": per_corpus} if per_corpus else {}),
            **({"skipped_folds": list(split.skipped_folds)} if split.skipped_folds else {}),
            "test_predictions": _predictions(test_logits, split.test, y, paths),
            "val_predictions": _predictions(val_logits, split.val, y, paths),
            "config": cfg.to_dict(),
        })
    faults.point("after_metrics_written")
    if not primary:
        return metrics
    image = report_lib.png_image(run_dir / rundir.CONFUSION)  # as write_run_report drew it
    writer.add_image("test/confusion_matrix", image, len(history), dataformats="HWC")
    writer.add_text("test/report", "```\n" + (run_dir / rundir.REPORT).read_text() + "\n```", len(history))
    summaries.write_results(run_dir, cfg.to_dict(), metrics, len(history), writer)
    writer.close()
    return metrics


# --------------------------------------------------------------------------------------------
# A whole experiment: all splits of the protocol, aggregated.


def load_features(cfg: ExperimentConfig, progress: bool = True, lazy: bool = False) -> cache_lib.FeatureSet:
    """The experiment's corpora (each from its own cache), its feature groups and its emotion labels.

    Emotions are merged and filtered here; a dropped row keeps its place with emotion "", which no
    split uses, so row indices (and the seed split) do not move when nothing is dropped. ``lazy``:
    the features stay on disk (see stream.py).
    """
    sets = [cache_lib.ensure(d, cfg.features, cfg.cache_dir, reader=r, workers=cfg.workers, progress=progress,
                             lazy=lazy) for d, r in zip(cfg.data_dir, cfg.corpus)]
    names = [str(s.meta["corpus"][0]) if len(s) else "" for s in sets]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"--data_dir: corpus {repeated[0]} is given twice ({', '.join(cfg.data_dir)}); speakers "
                         "of two copies would be mixed up")
    fs = cache_lib.concat(sets)
    if cfg.groups:
        fs = fs.select_groups(cfg.groups)
    if cfg.emotions or cfg.merge_emotions:
        missing = sorted(set(cfg.emotions) - set(corpora.relabel(fs.meta["emotion"], (), cfg.merge_emotions)))
        if missing:
            raise ValueError(f"--emotions: {', '.join(missing)} not in the data (it has "
                             f"{', '.join(sorted(set(fs.meta['emotion'])))})")
        meta = dict(fs.meta, emotion=corpora.relabel(fs.meta["emotion"], cfg.emotions, cfg.merge_emotions))
        fs = dataclasses.replace(fs, meta=meta)
    return fs


def normalization(tc: TrainConfig) -> str:
    """How a run's inputs are scaled: "speaker", "global" or "none" (stored with its checkpoints)."""
    return "speaker" if tc.speaker_norm else "global" if tc.standardize else "none"


def standardize_rows(fs: cache_lib.FeatureSet, split: splits_lib.Split, tc: TrainConfig) -> tuple[np.ndarray, dict]:
    """Features scaled as the run says (padding stays zero), and the training statistics for the checkpoint.

    Global: statistics of the training rows only. Per speaker: each speaker of the split by its own
    rows' statistics (no labels used, no speaker mixed with another).
    """
    F = fs.features.shape[-1]
    mode = normalization(tc)
    if mode == "none":
        return fs.features, {"mean": np.zeros(F, np.float32), "std": np.ones(F, np.float32)}
    mean, std = normalize_lib.fit_standardizer(fs.features, fs.lengths, split.train)
    norm = {"mean": np.asarray(mean, np.float32), "std": np.asarray(std, np.float32)}
    lazy = stream_lib.is_lazy(fs.features)  # then the same scaling happens batch by batch as rows are read
    if mode == "speaker":
        used = np.unique(np.concatenate([split.train, split.val, split.test]))
        stats = normalize_lib.fit_per_speaker(fs.features, fs.lengths, used, fs.meta["speaker"])
        if lazy:
            group = np.full(len(fs), -1, np.int64)
            index = {name: i for i, name in enumerate(stats)}
            group[used] = [index[str(s)] for s in fs.meta["speaker"][used]]
            return stream_lib.Scaled(fs.features, fs.lengths, group, list(stats.values())), norm
        return normalize_lib.standardize_per_speaker(fs.features, fs.lengths, used, fs.meta["speaker"], stats), norm
    if lazy:
        return stream_lib.Scaled(fs.features, fs.lengths, np.zeros(len(fs), np.int64), [(mean, std)]), norm
    return normalize_lib.standardize(fs.features, mean, std, fs.lengths).astype(np.float32, copy=False), norm


def class_weight_vector(y: np.ndarray, train_rows: np.ndarray, num_classes: int) -> np.ndarray:
    """Per-class loss weights n / (K * n_c) from the training rows (1 for a class they lack)."""
    counts = np.bincount(y[train_rows], minlength=num_classes).astype(np.float64)
    w = np.where(counts > 0, len(train_rows) / (num_classes * np.maximum(counts, 1)), 1.0)
    return w.astype(np.float32)


PROVENANCE_KEY = "provenance"  # in config.json: how the run was made (not a setting; never compared)
# Settings that may differ on --resume: where features are cached and how many processes build them.
RESUMABLE_CHANGES = ("cache_dir", "workers", "devices", "stream")


def provenance() -> dict:
    """The code and command behind a run: git commit (when in a checkout), package versions, argv."""
    import subprocess
    import sys
    from importlib import metadata

    commit = ""
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        if out.returncode == 0:
            commit = out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    versions = {}
    for name in ("ser_jax", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "librosa", "h5py",
                 "scikit-learn", "opensmile"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {"git_commit": commit, "versions": versions, "python": sys.version.split()[0], "command": list(sys.argv)}


def _check_same_settings(saved: dict, cfg: ExperimentConfig, run_dir: Path) -> None:
    """--resume continues a run with its own settings; different ones would make a mixed run."""
    now = json.loads(json.dumps(cfg.to_dict()))
    # A setting added since the run started is absent from its config.json; it ran at the default.
    defaults = {f.name: json.loads(json.dumps(f.default)) for f in dataclasses.fields(ExperimentConfig)
                if f.default is not dataclasses.MISSING and not dataclasses.is_dataclass(f.default)}
    diffs = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if not path and k in (*RESUMABLE_CHANGES, PROVENANCE_KEY):
                    continue
                walk(a.get(k), b.get(k), f"{path}.{k}" if path else k)
        elif a != b:
            diffs.append(f"{path}: {a!r} then, {b!r} now")

    walk({**defaults, **saved}, now, "")
    if diffs:
        raise ValueError(f"--resume: {run_dir} was started with other settings ({'; '.join(diffs[:3])}"
                         f"{'; ...' if len(diffs) > 3 else ''}); resume it with its own flags, or pass --overwrite")


def train_and_evaluate(
    cfg: ExperimentConfig, run_dir: str | os.PathLike, *, resume: bool = False, overwrite: bool = False,
    progress: bool = True,
) -> RunResult:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    def busy(holder: str) -> RunLockedError:
        return RunLockedError(f"{run_dir} is being written by another training (pid {holder}); wait for it to "
                              "finish, or choose another --run_dir")

    if not parallel.is_primary():  # process 0 of a multi-process run holds the lock for all of them
        return _train_and_evaluate(cfg, run_dir, resume=resume, overwrite=overwrite, progress=False)
    with lockfile.exclusive(run_dir / LOCK_NAME, busy):
        return _train_and_evaluate(cfg, run_dir, resume=resume, overwrite=overwrite, progress=progress)


def _train_and_evaluate(cfg: ExperimentConfig, run_dir: Path, *, resume: bool, overwrite: bool,
                        progress: bool) -> RunResult:
    contents = [p for p in run_dir.iterdir() if p.name != LOCK_NAME]
    if resume and not contents:
        if progress:
            print(f"note: nothing to resume in {run_dir}; starting a new run", flush=True)
    elif resume and (run_dir / rundir.CONFIG).exists():
        _check_same_settings(json.loads((run_dir / rundir.CONFIG).read_text()), cfg, run_dir)
    if rundir.finished(run_dir) and not (resume or overwrite):
        raise FileExistsError(f"{run_dir} already holds a finished run; pass --overwrite to replace it "
                              "or choose another --run_dir")
    if contents and not resume and not overwrite:
        raise FileExistsError(f"{run_dir} holds an unfinished run; pass --resume to continue it or "
                              "--overwrite to start again")
    parallel.barrier("run directory checked")  # every process decided before process 0 changes it
    if parallel.is_primary():
        for p in contents if not resume else ():
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        report_lib.write_json(run_dir / rundir.CONFIG, {**cfg.to_dict(), PROVENANCE_KEY: provenance()})
    parallel.barrier("run directory ready")

    def features(lazy: bool, say: bool) -> tuple[cache_lib.FeatureSet, list[tuple[str, cache_lib.FeatureSet]]]:
        """The corpora's features and the perturbed copies' (--speed_perturb, --noise_snr, --vtlp)."""
        plain = dataclasses.replace(cfg, **perturb_lib.OFF)
        return load_features(cfg, say, lazy), [
            (tag, load_features(dataclasses.replace(plain, features=v), say, lazy))
            for tag, v in perturb_lib.requested(cfg)]

    base, copies = features(lazy=cfg.stream != "off", say=progress)  # on disk first: their size decides --stream=auto
    nbytes = base.features.nbytes + sum(c.features.nbytes for _, c in copies)
    streaming = stream_lib.should_stream(cfg.stream, nbytes)
    if cfg.stream == "auto" and streaming and progress:
        print(f"note: the features take {nbytes / 2**30:.1f} GiB, too much to hold in memory; training reads them "
              "from the cache batch by batch (--stream=off to hold them anyway)", flush=True)
    if not streaming and stream_lib.is_lazy(base.features):
        base, copies = features(lazy=False, say=False)  # the caches are built by now
    splits = splits_lib.make_splits(cfg.split, base.meta)
    n_base = len(base)
    fs, origin = perturb_lib.attach(base, copies)
    del base, copies
    for note in splits[0].skipped_folds if progress else ():
        print(f"note: {cfg.split.protocol} {note}; skipped", flush=True)
    used = np.unique(np.concatenate([np.concatenate([s.train, s.val, s.test]) for s in splits]))
    # Alphabetical, as the original's LabelEncoder; stored with every checkpoint.
    label_names = sorted(set(fs.meta["emotion"][used]))
    label_index = {name: i for i, name in enumerate(label_names)}
    y = np.asarray([label_index.get(e, -1) for e in fs.meta["emotion"]], np.int32)
    per_split = []
    splits = [perturb_lib.extend_train(split, origin, n_base) for split in splits]
    mesh = parallel.make_mesh(cfg.devices)  # before any work: a bad --devices or batch size fails at once
    parallel.check_batch_size(cfg.train.batch_size, mesh)
    parallel.check_batch_size(cfg.train.eval_batch_size, mesh, "--eval_batch_size")
    smallest = min(splits, key=lambda sp: len(sp.train))
    if cfg.train.batch_size > len(smallest.train):
        raise ValueError(f"--batch_size={cfg.train.batch_size} is larger than the training set ({len(smallest.train)} "
                         f"clips in {smallest.name}); use at most {len(smallest.train)}")
    for split in splits:
        sub = rundir.fold_dir(run_dir, split.fold) if split.fold is not None and len(splits) > 1 else run_dir
        if sub != run_dir and rundir.finished(sub):  # a finished fold of a resumed run
            per_split.append(json.loads((sub / rundir.METRICS).read_text()))
            continue
        x, norm = standardize_rows(fs, split, cfg.train)
        if streaming or parallel.multi_process():  # several processes: each sends its share of every batch
            data = OnHost(x, fs.lengths.astype(np.int32), np.maximum(y, 0).astype(np.int32))
        else:
            data = Arrays(jnp.asarray(x), jnp.asarray(fs.lengths), jnp.asarray(np.maximum(y, 0)))
        del x
        metrics = fit_split(cfg, data, y, label_names, split, sub, paths=fs.paths, norm=norm,
                            corpus=fs.meta.get("corpus"), resume=resume, progress=progress)
        if progress and len(splits) > 1:
            print(report_lib.format_summary(metrics, leaky=split.leaky, protocol=split.name), flush=True)
        per_split.append(metrics)
        del data
    if len(per_split) == 1 or not parallel.is_primary():
        metrics = per_split[0]
    else:
        val = np.asarray([m["best_val_accuracy"] for m in per_split], np.float64)
        metrics = report_lib.write_aggregate_report(
            run_dir, per_split, leaky=False, protocol=cfg.split.protocol,
            title=f"{cfg.split.protocol} ({cfg.split.channels}): {len(per_split)} folds",
            extra={"best_val_accuracy": {"mean": float(val.mean()),
                                         "std": float(val.std(ddof=1)) if len(val) > 1 else 0.0},
                   "train_seconds": sum(m["train_seconds"] for m in per_split),
                   "epochs_run": [m["epochs_run"] for m in per_split], "config": cfg.to_dict()})
        summaries.write_results(run_dir, cfg.to_dict(), metrics, step=0)  # the k-fold run as one session
    return RunResult(str(run_dir), metrics, leaky=any(s.leaky for s in splits))


def define_flags() -> None:
    from ser_jax import cli

    cli.define_data_flags()
    cli.define_feature_flags()
    cli.define_train_flags()


def main(argv: list[str]) -> int:
    from absl import flags

    from ser_jax import cli, runtime

    if len(argv) > 1:
        raise cli.UsageError(f"unexpected arguments {argv[1:]}; pass everything as --flags")
    FLAGS = flags.FLAGS
    parallel.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)  # before any JAX work
    cfg = cli.experiment_config_from_flags()
    runtime.enable_compilation_cache(runtime.compilation_cache_dir(FLAGS.jax_cache, Path(cfg.cache_dir) / "xla"))
    run_dir = FLAGS.run_dir or os.path.join(
        "runs", f"{cfg.split.protocol}-{cfg.features.recipe}-{time.strftime('%Y%m%d-%H%M%S')}")
    result = train_and_evaluate(cfg, run_dir, resume=FLAGS.resume, overwrite=FLAGS.overwrite)
    if not parallel.is_primary():
        return 0
    print()
    print((Path(result.run_dir) / rundir.REPORT).read_text())
    print(f"run directory: {result.run_dir}  (report.txt, metrics.json, confusion_matrix.png)")
    print(f"TensorBoard:   .venv/bin/tensorboard --logdir {os.path.dirname(os.path.abspath(result.run_dir))}")
    return 0
