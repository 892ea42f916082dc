"""whisper: the hidden states of a pretrained Whisper encoder (ser_jax.encoders), one group per state.

Groups h0 ... h6 for base (the embedding, then each block's output), 50 frames a second at 16 kHz
(Whisper's own front end fixes sample_rate, n_fft and hop_length). Two stages: the log-mel runs where
the audio is loaded (a feature worker, without JAX: ``prepare``), the encoder in the process that
collects the workers' results (``finish``), so that clips are encoded in batches. A cache keeps every
frame of each state, one frame per clip (``encoder_pool=mean``, or ``meanstd`` side by side), or the
mean of every k frames (``encoder_stride``).
"""

from __future__ import annotations

import numpy as np

from typing import Any

from ser_jax import encoders
from ser_jax.encoders import _whisper_frontend as whisper_frontend
from ser_jax.features import layout
from ser_jax.features.config import ENCODER_POOLS, FeatureConfig, invalid, is_int

ENCODER = True
FIXED = {"sample_rate": whisper_frontend.SAMPLE_RATE, "n_fft": whisper_frontend.N_FFT,
         "hop_length": whisper_frontend.SAMPLES_PER_STATE}
STORAGE_DTYPE = np.float16  # the outputs of float16 weights: half the disk and memory
FIELDS = ("encoder", "encoder_sha256", "encoder_pool", "encoder_stride")  # read by the encoder recipes only
_MAX_STRIDE = 1500  # 30 s of states: Whisper's whole window


def check(cfg: FeatureConfig) -> dict[str, Any]:
    """The encoder exists (its SHA-256, filled in, is the one recorded if any), a known pooling, and a
    stride > 1 only for frames."""
    try:
        sha256 = encoders.describe(cfg.encoder)[0]
    except encoders.EncoderError as e:
        raise ValueError(str(e)) from None
    if cfg.encoder_sha256 and cfg.encoder_sha256 != sha256:
        raise ValueError(f"encoder {cfg.encoder!r} has SHA-256 {sha256[:12]}..., not the recorded "
                         f"{cfg.encoder_sha256[:12]}...: these are other weights than the ones recorded")
    if cfg.encoder_pool not in ENCODER_POOLS:
        raise invalid("encoder_pool", " or ".join(repr(p) for p in ENCODER_POOLS), cfg.encoder_pool)
    stride = cfg.encoder_stride
    if not is_int(stride) or not 1 <= stride <= _MAX_STRIDE:
        raise invalid("encoder_stride", f"an integer in [1, {_MAX_STRIDE}]", stride)
    if stride != 1 and cfg.encoder_pool != "frames":
        raise invalid("encoder_stride", "1 unless an encoder recipe keeps frames (--encoder_pool=frames)", stride)
    return {"encoder_sha256": sha256, "encoder_stride": int(stride)}


def group_sizes(cfg: FeatureConfig) -> dict[str, int]:
    """Every hidden state, as wide as the encoder (twice that for ``meanstd``)."""
    d = encoders.describe(cfg.encoder)
    width = 2 * d.width if cfg.encoder_pool == "meanstd" else d.width
    return {g: width for g in encoders.hidden_state_groups(d.layers)}


def min_samples(cfg: FeatureConfig) -> int:
    """0.1 s."""
    return cfg.sample_rate // 10


def num_frames(num_samples: int, cfg: FeatureConfig) -> int:
    """One state every 320 samples (150 for 3 s), every ``encoder_stride``-th of them; one if pooled."""
    if cfg.encoder_pool != "frames":
        return 1
    return -(-whisper_frontend.num_states(layout.clip_samples(num_samples, cfg)) // cfg.encoder_stride)


def prepare(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Whisper's log-mel of the clip (in a feature worker), the input of ``finish``."""
    y = np.nan_to_num(np.asarray(y, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return whisper_frontend.log_mel(layout.fit_length(y, cfg), encoders.describe(cfg.encoder).n_mels)


def finish(prepared: list[np.ndarray], cfg: FeatureConfig) -> list[np.ndarray]:
    """The chosen hidden states of each clip from its log-mel, encoded in batches (this process runs JAX)."""
    from ser_jax.encoders import _whisper as whisper_encoder

    states = [int(g[1:]) for g in cfg.groups]
    return whisper_encoder.encode(prepared, cfg.encoder, cfg.encoder_sha256, states, pool=cfg.encoder_pool,
                                  stride=cfg.encoder_stride)
