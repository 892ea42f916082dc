"""whisper_egemaps: Whisper's pooled hidden states and openSMILE's 88 eGeMAPSv02 functionals, side by side.

Fusion of a frozen pretrained encoder with the standard hand-crafted set of emotion recognition
(issue 26): groups h0 ... h6 exactly as the ``whisper`` recipe pools them over the clip
(``--encoder_pool=mean`` or ``meanstd``: a clip-level descriptor has no frames), then ``egemaps88``,
the clip's eGeMAPS functionals (pitch, jitter, shimmer, loudness, formants, spectral balance and
rates, as openSMILE computes them). The superb head mixes the states as for ``whisper`` and reads
the descriptors beside the pooled states (``--superb.extra=88``).
"""

from __future__ import annotations

import numpy as np

from typing import Any

from ser_jax import encoders
from ser_jax.features import layout
from ser_jax.features.config import FeatureConfig
from ser_jax.features.recipes import _opensmile, whisper

ENCODER = True
FIXED = whisper.FIXED
STORAGE_DTYPE = np.float32  # the descriptors span orders of magnitude float16 would round
GROUP = "egemaps88"
WIDTH = _opensmile.N_EGEMAPS_FUNCTIONALS
FIELDS = whisper.FIELDS

min_samples = whisper.min_samples


def check(cfg: FeatureConfig) -> dict[str, Any]:
    """The whisper recipe's checks, and a pooled cache (a clip-level descriptor has no frames)."""
    checked = whisper.check(cfg)
    if cfg.encoder_pool == "frames":
        raise ValueError("the whisper_egemaps recipe describes whole clips: give --encoder_pool=mean or meanstd")
    return checked


def group_sizes(cfg: FeatureConfig) -> dict[str, int]:
    return {**whisper.group_sizes(cfg), GROUP: WIDTH}


def num_frames(num_samples: int, cfg: FeatureConfig) -> int:
    return 1


def prepare(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The clip's functionals, then Whisper's log-mel flattened: one array, as a feature worker returns.
    Both describe the same samples (the clip as ``--duration`` crops or pads it)."""
    clip = layout.fit_length(np.nan_to_num(np.asarray(y, np.float32), nan=0.0, posinf=0.0, neginf=0.0), cfg)
    return np.concatenate([_opensmile.functionals(clip, cfg.sample_rate), whisper.prepare(clip, cfg).ravel()])


def finish(prepared: list[np.ndarray], cfg: FeatureConfig) -> list[np.ndarray]:
    """Each clip's chosen pooled states (encoded in batches) and then, if chosen, its functionals."""
    from ser_jax.encoders import _whisper as whisper_encoder

    n_mels = encoders.describe(cfg.encoder).n_mels
    states = [int(g[1:]) for g in cfg.groups if g != GROUP]
    parts = [[] for _ in prepared]
    if states:
        mels = [p[WIDTH:].reshape(-1, n_mels) for p in prepared]
        encoded = whisper_encoder.encode(mels, cfg.encoder, cfg.encoder_sha256, states, pool=cfg.encoder_pool,
                                         stride=cfg.encoder_stride)
        parts = [[np.asarray(e, np.float32)] for e in encoded]
    if GROUP in cfg.groups:
        parts = [part + [p[None, :WIDTH].astype(np.float32)] for part, p in zip(parts, prepared)]
    return [np.concatenate(part, axis=1) for part in parts]
