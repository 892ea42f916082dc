"""Test-time adaptation: the chosen model adapted to the unlabelled test clips (transductive).

Like the test speakers' own statistics under --speaker_norm, it uses the test clips but never their
labels; every output of a run that used it says TRANSDUCTIVE.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ser_jax import optim as optim_lib
from ser_jax import parallel
from ser_jax import splits as splits_lib
from ser_jax.config import ExperimentConfig
from ser_jax.train.data import Arrays, OnHost, feed, padded_batches
from ser_jax.train.steps import TrainState, _loss_and_acc, predict_logits, scored_logits, train_step


def self_train(state: TrainState, cfg: ExperimentConfig, data: Arrays | OnHost, y: np.ndarray,
               label_names: Sequence[str], split: splits_lib.Split, shard: Any, row_weights: np.ndarray | None,
               progress: bool) -> tuple[TrainState, dict]:
    """Test-time self-training: ``--self_train`` rounds, each labelling the test clips whose prediction
    is at least ``--self_train_threshold`` sure by that prediction and fine-tuning on them and the
    training clips for ``--self_train_epochs`` epochs (a fresh Adam at a tenth of the learning rate,
    constant). The labels of test clips are replaced by predictions before anything trains, so the
    true ones are never seen. Returns the adapted state and what it did (metrics.json "transductive")."""
    tc = cfg.train
    optim_cfg = dataclasses.replace(cfg.optim, learning_rate=cfg.optim.learning_rate / 10, schedule="constant",
                                    warmup_steps=0)
    tx = optim_lib.make_optimizer(optim_cfg, None, getattr(cfg.model_config, "pretrained_lr", 1.0))
    # Copies: train_step donates its state, and the caller's (the chosen epoch's) stays usable.
    state = TrainState.create(apply_fn=state.apply_fn, params=jax.tree.map(jnp.copy, state.params), tx=tx,
                              batch_stats=jax.tree.map(jnp.copy, state.batch_stats))
    state = state.replace(step=jnp.zeros((), jnp.int32))
    picked_per_round, agree = [], []
    for r in range(tc.self_train):
        logits = scored_logits(predict_logits(state, data, split.test, tc.eval_batch_size, shard), label_names,
                               split.scored_emotions)
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        sure = probs.max(-1) >= tc.self_train_threshold
        picked_per_round.append(int(sure.sum()))
        if not sure.any():
            break
        pseudo = y.copy()
        pseudo[split.test] = probs.argmax(-1)  # every test label replaced, whether trained on or not
        agree.append(float(np.mean(pseudo[split.test][sure] == y[split.test][sure])))  # reported, never used
        if isinstance(data, Arrays):
            adapted = data._replace(y=jnp.asarray(pseudo))
            if shard is not None:
                adapted = parallel.replicate(adapted, parallel.replicated(shard.mesh))
        else:
            adapted = data._replace(y=pseudo.astype(np.int32))
        rows = np.concatenate([split.train, split.test[sure]])
        weights = None
        if row_weights is not None:  # test clips weigh as the average training clip
            weights = row_weights.copy()
            weights[split.test[sure]] = 1.0
        for epoch in range(tc.self_train_epochs):
            perm = np.random.default_rng([tc.seed, 1000 + r, epoch]).permutation(rows)
            batches = padded_batches(perm, tc.batch_size)
            if weights is not None:
                batches = [(i, w * weights[i]) for i, w in batches]
            key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(tc.seed), 2), r * 1000 + epoch)
            for b, (batch, idx, w) in enumerate(feed(adapted, batches, shard)):
                state, _ = train_step(state, batch, idx, w, jax.random.fold_in(key, b), None, augment=cfg.augment,
                                      shard=shard)
    if progress:
        print(f"{split.name}: TRANSDUCTIVE self-training on {', '.join(map(str, picked_per_round))} confident test "
              f"clips per round", flush=True)
    return state, {"method": "self_train", "rounds": tc.self_train, "threshold": tc.self_train_threshold,
                   "epochs": tc.self_train_epochs, "test_clips_used": picked_per_round,
                   "pseudo_label_accuracy": agree}


def validation_evidence(state: TrainState, cfg: ExperimentConfig, data: Arrays | OnHost, y: np.ndarray,
                        label_names: Sequence[str], split: splits_lib.Split, shard: Any,
                        row_weights: np.ndarray | None, val_corpus: np.ndarray | None) -> float | None:
    """Validation accuracy of the same adaptation aimed at the validation clips instead of the test
    clips: what --self_train is chosen on (beside the run's validation accuracy without it)."""
    if not len(split.val):
        return None
    target = dataclasses.replace(split, test=split.val, scored_emotions=())
    adapted, _ = self_train(state, cfg, data, y, label_names, target, shard, row_weights, progress=False)
    logits = predict_logits(adapted, data, split.val, cfg.train.eval_batch_size, shard)
    return _loss_and_acc(logits, y[split.val], val_corpus)[1]


