"""seed: the original notebook's features exactly, 187 rows per frame (see FACTS.md).

The notebook's per-feature librosa calls, each computing its own spectrogram, so its numbers are the
ones the original model was trained on. Groups: mfcc, delta, delta2, chroma, mel, contrast, tonnetz,
zcr, rms (and the optional openSMILE groups egemaps, compare).
"""

from __future__ import annotations

import os

import numpy as np

from ser_jax import audio
from ser_jax.features.config import FeatureConfig
from ser_jax.features.recipes import _handcrafted

librosa = audio.librosa  # loaded on first use (see audio.lazy_import)

ENCODER = False
FIXED: dict[str, int] = {}
STORAGE_DTYPE = np.float32
group_sizes = _handcrafted.group_sizes  # the handcrafted groups, frames of the STFT
min_samples = _handcrafted.min_samples
num_frames = _handcrafted.num_frames


def prepare(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The (T, F) features of mono audio y (see _handcrafted.extract)."""
    return _handcrafted.extract(y, cfg, _rows)


def _rows(y: np.ndarray, cfg: FeatureConfig) -> dict[str, np.ndarray]:
    """The notebook's per-feature librosa calls, each computing its own spectrogram."""
    sr, stft = cfg.sample_rate, dict(n_fft=cfg.n_fft, hop_length=cfg.hop_length)
    rows: dict[str, np.ndarray] = {}
    if _handcrafted.needs(cfg, "mfcc", "delta", "delta2"):
        _handcrafted.deltas(librosa.feature.mfcc(y=y, sr=sr, n_mfcc=cfg.n_mfcc, **stft), rows, cfg)
    if _handcrafted.needs(cfg, "chroma"):
        rows["chroma"] = librosa.feature.chroma_stft(y=y, sr=sr, **stft)
    if _handcrafted.needs(cfg, "mel"):
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=cfg.n_mels, **stft)
        rows["mel"] = librosa.power_to_db(mel) if cfg.mel_db else mel
    if _handcrafted.needs(cfg, "contrast"):
        rows["contrast"] = librosa.feature.spectral_contrast(y=y, sr=sr, **stft)
    if _handcrafted.needs(cfg, "tonnetz"):
        harmonic = librosa.effects.harmonic(y, **stft)
        rows["tonnetz"] = librosa.feature.tonnetz(y=harmonic, sr=sr, hop_length=cfg.hop_length)
    _handcrafted.time_domain(y, rows, cfg, librosa.feature.zero_crossing_rate)
    return rows


# ------------------------------------------------------------------------------------------------
# The original


def seed_reference(path: str | os.PathLike) -> np.ndarray:
    """The seed notebook's feature function as it was (FACTS.md): the baseline for benchmarks.

    No config, no error handling, no warning control: the per-feature librosa calls on the
    first 3 s at 22050 Hz, stacked to (130, 187).
    """
    y, sr = librosa.load(path, sr=22050)
    target = 3 * sr
    if len(y) < target:
        y = np.pad(y, (0, target - len(y)))
    else:
        y = y[:target]
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=40)
    delta = librosa.feature.delta(mfcc)
    delta2 = librosa.feature.delta(mfcc, order=2)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=40)
    contrast = librosa.feature.spectral_contrast(y=y, sr=sr)
    tonnetz = librosa.feature.tonnetz(y=librosa.effects.harmonic(y), sr=sr)
    zcr = librosa.feature.zero_crossing_rate(y)
    rms = librosa.feature.rms(y=y)
    feats = np.vstack([mfcc, delta, delta2, chroma, mel, contrast, tonnetz, zcr, rms]).T
    return librosa.util.fix_length(feats, size=130, axis=0)
