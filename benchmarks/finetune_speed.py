"""Fine-tuning Whisper's top blocks: a step over cached states of the block below (``--model=whisper_top``)
against the same step from log-mels (the frozen blocks below run in every step), same clips, same run.

Both steps train the same whisper_top model (the last N blocks of Whisper base, its final layer norm
and superb's head) with Adam on the same batches; they differ only in where the input state comes
from: the cache (ser_jax's way) or the front end and the frozen lower blocks, run anew each step.

    .venv/bin/python benchmarks/finetune_speed.py --data_dir=../shared/data/ravdess-dev [--blocks=1]

Needs the whisper extra (make venv installs it). Each step is compiled and run once before timing.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import app, flags

from ser_jax import corpora, encoders, features, models
from ser_jax.encoders import _whisper as whisper
from ser_jax.encoders import _whisper_frontend as whisper_frontend
from ser_jax.models import whisper_top

flags.DEFINE_string("data_dir", None, "Corpus root.", required=True)
flags.DEFINE_integer("clips", 64, "Clips (every k-th file of the corpus), trained on in batches.")
flags.DEFINE_integer("batch_size", 16, "Clips per step.")
flags.DEFINE_integer("blocks", 1, "Top blocks fine-tuned.")
flags.DEFINE_integer("repeats", 3, "Passes over the clips timed (after one untimed pass).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    utts = corpora.read(FLAGS.data_dir).records
    utts = utts[:: max(1, len(utts) // FLAGS.clips)][: FLAGS.clips]
    cfg = features.FeatureConfig(recipe="whisper", duration=None)
    desc = encoders.describe(cfg.encoder)
    params = whisper.params_of(encoders.load(cfg.encoder, desc.sha256))
    mels = [whisper_frontend.log_mel(features.load_clip(u.path, cfg), desc.n_mels) for u in utts]
    t_mel = -(-max(len(m) for m in mels) // 100) * 100
    mel = np.zeros((len(mels), t_mel, desc.n_mels), np.float32)
    for i, m in enumerate(mels):
        mel[i, : len(m)] = m
    mel_len = np.asarray([len(m) for m in mels], np.int32)
    heads, below = whisper.model_dims(cfg.encoder, desc.sha256).heads, desc.layers - FLAGS.blocks
    states = np.asarray(whisper.hidden_states(params, jnp.asarray(mel), jnp.asarray(mel_len), heads, below)[below])
    lengths = (mel_len + 1) // 2
    valid = np.arange(states.shape[1])[None, :] < lengths[:, None]
    mean, std = states[valid].mean(0), states[valid].std(0)
    cached = np.where(valid[..., None], (states - mean) / std, 0.0).astype(np.float32)  # what the cache feeds
    y = np.arange(len(mels)) % 8

    model_cfg = whisper_top.Config(blocks=FLAGS.blocks, heads=desc.heads, ffn=desc.ffn)  # as the encoder has them
    model = models.build("whisper_top", model_cfg)
    variables = model.init(jax.random.key(0), jnp.asarray(cached[:1]), jnp.asarray(lengths[:1]), train=False)
    variables = models.initialize("whisper_top", model_cfg, variables, norm={"mean": mean, "std": std},
                                  encoder=cfg.encoder, encoder_sha256=desc.sha256)
    tx = optax.adam(1e-3)

    def loss(p, x, n, labels, key):
        logits = model.apply({"params": p}, x, n, train=True, rngs={"dropout": key})
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    def update(p, opt, x, n, labels, key):
        g = jax.grad(loss)(p, x, n, labels, key)
        u, opt = tx.update(g, opt, p)
        return optax.apply_updates(p, u), opt

    @jax.jit
    def from_cache(p, opt, x, n, labels, key):
        return update(p, opt, x, n, labels, key)

    @jax.jit
    def from_mel(p, opt, m, m_len, labels, key):
        h = jax.lax.stop_gradient(whisper.hidden_states(params, m, m_len, heads, below)[below])
        n = (m_len + 1) // 2
        x = jnp.where((jnp.arange(h.shape[1])[None, :] < n[:, None])[..., None], (h - mean) / std, 0.0)
        return update(p, opt, x, n, labels, key)

    b = FLAGS.batch_size
    batches = [slice(s, s + b) for s in range(0, len(mels) - b + 1, b)]

    def run(step, inputs):
        p, opt = variables["params"], tx.init(variables["params"])
        for s in batches:  # compiles, untimed
            p, opt = step(p, opt, *(a[s] for a in inputs), jnp.asarray(y[s]), jax.random.key(0))
        jax.block_until_ready(p)
        t0 = time.perf_counter()
        for _ in range(FLAGS.repeats):
            for s in batches:
                p, opt = step(p, opt, *(a[s] for a in inputs), jnp.asarray(y[s]), jax.random.key(0))
        jax.block_until_ready(p)
        return (time.perf_counter() - t0) / (FLAGS.repeats * len(batches) * b)

    per_clip_cache = run(from_cache, (jnp.asarray(cached), jnp.asarray(lengths)))
    per_clip_mel = run(from_mel, (jnp.asarray(mel), jnp.asarray(mel_len)))
    print(f"{len(mels)} clips of {t_mel / 100:.1f} s (padded) from {FLAGS.data_dir}; {os.cpu_count()} cores; "
          f"{cfg.encoder}, top {FLAGS.blocks} of {desc.layers} blocks fine-tuned, batches of {b}")
    print("\n| training step input | clips/s | vs from log-mel |\n|---|---:|---:|")
    for name, s in [("log-mel (front end + frozen blocks every step)", per_clip_mel),
                    (f"cached state h{below} (ser_jax)", per_clip_cache)]:
        print(f"| {name} | {1 / s:.1f} | {per_clip_mel / s:.2f}x |")


if __name__ == "__main__":
    app.run(main)
