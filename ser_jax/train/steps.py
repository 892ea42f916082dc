"""The compiled steps: pure functions of (state, data, batch rows), each compiled once per run.

``train_step`` and ``eval_step`` are what ``loop.fit_split`` and ``adapt.self_train`` call; the
helpers turn logits into what metrics.json keeps and score a test set the way its protocol says.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state

from ser_jax import augment as augment_lib
from ser_jax import models as models_lib
from ser_jax import optim as optim_lib
from ser_jax import parallel
from ser_jax import report as report_lib
from ser_jax import splits as splits_lib
from ser_jax.train.data import Arrays, OnHost, feed, padded_batches


class TrainState(train_state.TrainState):
    batch_stats: Any = None


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
    tx = optim_lib.make_optimizer(optim_cfg, total_steps, getattr(model_cfg, "pretrained_lr", 1.0))
    return model, jax.jit(functools.partial(model.init, train=False)), tx


def create_train_state(
    rng: jax.Array, model_cfg: Any, optim_cfg: optim_lib.OptimConfig,
    num_frames: int, num_features: int, total_steps: int, model_name: str = models_lib.DEFAULT,
    pretrained: Callable[[Any], Any] | None = None,
) -> TrainState:
    """Parameters, BatchNorm statistics and optimiser state of model ``model_name`` (its Config);
    ``pretrained`` puts pretrained weights into the fresh variables (ser_jax.models.initialize)."""
    model, init, tx = _program(model_name, model_cfg, optim_cfg, total_steps)
    x = jnp.zeros((1, num_frames, num_features), jnp.float32)
    variables = init({"params": rng, "dropout": rng}, x, jnp.full((1,), num_frames, jnp.int32))
    if pretrained is not None:
        variables = pretrained(variables)
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


def _loss_and_acc(logits: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> tuple[float, float]:
    """Loss and accuracy; with ``groups`` (the validation clips' corpora, several of them) the accuracy
    is the mean of each corpus's, so the choice of epoch is not one big corpus's alone."""
    loss = float(optax.softmax_cross_entropy_with_integer_labels(jnp.asarray(logits), jnp.asarray(y)).mean())
    right = np.argmax(logits, -1) == y
    if groups is None or len(set(groups.tolist())) < 2:
        return loss, float(np.mean(right))
    return loss, float(np.mean([right[groups == g].mean() for g in sorted(set(groups.tolist()))]))



def scored_logits(logits: np.ndarray, label_names: Sequence[str], scored: Sequence[str]) -> np.ndarray:
    """Logits with the classes outside ``scored`` at -inf (their probability 0), so a prediction is
    chosen among the scored emotions only (cross-corpus: those the test corpus has); all if empty."""
    if not len(scored) or not len(logits):
        return logits
    keep = np.isin(np.asarray(label_names), list(scored))
    return np.where(keep[None, :], logits, -np.inf).astype(logits.dtype)


def _per_group(key: str, y_true: np.ndarray, y_pred: np.ndarray, column: np.ndarray | None, split: splits_lib.Split,
               label_names: Sequence[str]) -> dict:
    """Several corpora (or vocal channels) tested: each alone too (metrics.json ``key``)."""
    if column is None or len(set(column[split.test].tolist()) - {""}) <= 1:
        return {}
    out = {}
    for name in sorted(set(column[split.test].tolist()) - {""}):
        mask = column[split.test] == name
        m = report_lib.compute_metrics(y_true[mask], y_pred[mask], label_names)
        out[str(name)] = {k: m[k] for k in (*report_lib.SCALAR_METRICS, "n")}
    return {key: out}


