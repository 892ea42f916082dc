"""Shared by the cache tests (tests/cache/, tests/test_workers.py, tests/e2e/test_precompute_command.py):
a small fast-recipe config and a small RAVDESS-named corpus of tones, built into a cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ser_jax import corpora, features
from ser_jax.cache import build as cache_build
from ser_jax.corpora import ravdess

# Small and fast, but the same code path as the defaults.
CFG = features.FeatureConfig(recipe="fast", sample_rate=16000, duration=0.5, n_fft=256, hop_length=128,
                             n_mfcc=13, n_mels=16)


SR = 16000


def tone(seed: int, seconds: float = 0.6, sr: int = SR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 40 * seed % 200
    return (0.3 * np.sin(2 * np.pi * f0 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def make_corpus(root: Path, n: int = 6) -> list[Path]:
    paths = []
    for i in range(n):
        actor, emotion = 1 + i % 2, 1 + (i // 2) % 8  # unique names up to n = 64
        name = ravdess.format_name(channel="speech", emotion_code=emotion, intensity=1, statement=1 + (i // 16) % 2,
                                  repetition=1 + (i // 32) % 2, actor=actor)
        p = root / "Audio_Speech_Actors_01-24" / f"Actor_{actor:02d}" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, tone(i), SR)
        paths.append(p)
    return paths


def build(root: Path, cache_dir: Path, cfg=CFG, **kw) -> cache_build.BuildSummary:
    return cache_build.build(corpora.read(root), cfg, cache_dir, workers=1, progress=False, **kw)
