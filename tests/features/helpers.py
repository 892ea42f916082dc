"""Shared by the feature tests (tests/features/): the seed and fast defaults, a sung-like test clip,
and the original notebook's feature function written out independently of ser_jax.
"""

from __future__ import annotations

import warnings

import librosa
import numpy as np

from ser_jax import features as F

SEED = F.FeatureConfig()


FAST = F.FeatureConfig(recipe="fast")


def tones(sr: int = 44100, seconds: float = 1.5, channels: int = 2, seed: int = 0) -> np.ndarray:
    """A sung-like test clip: three notes with five harmonics, fades, and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    f0 = np.select([t < seconds / 3, t < 2 * seconds / 3], [220.0, 261.63], 329.63)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    env = np.minimum(1, 10 * t) * np.minimum(1, 10 * (seconds - t))
    chans = [0.3 * env * tone + 0.01 * rng.standard_normal(len(t)) for _ in range(channels)]
    return np.stack(chans, axis=1).astype(np.float32)


def naive_reference(path, sr=22050, seconds=3.0, n_fft=2048, hop=512, n_mfcc=40, n_mels=40,
                    mel_db=False) -> np.ndarray:
    """The FACTS.md notebook function, written out independently of ser_jax (knobs added)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa's own chatter (short CQT input, audioread import)
        return _naive_reference(path, sr, seconds, n_fft, hop, n_mfcc, n_mels, mel_db)


def _naive_reference(path, sr, seconds, n_fft, hop, n_mfcc, n_mels, mel_db) -> np.ndarray:
    y, sr = librosa.load(path, sr=sr)
    target = int(round(seconds * sr))
    y = np.pad(y, (0, target - len(y))) if len(y) < target else y[:target]
    kw = dict(n_fft=n_fft, hop_length=hop)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, **kw)
    delta = librosa.feature.delta(mfcc)
    delta2 = librosa.feature.delta(mfcc, order=2)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, **kw)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=n_mels, **kw)
    if mel_db:
        mel = librosa.power_to_db(mel)
    contrast = librosa.feature.spectral_contrast(y=y, sr=sr, **kw)
    tonnetz = librosa.feature.tonnetz(y=librosa.effects.harmonic(y, **kw), sr=sr, hop_length=hop)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop)
    rms = librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop)
    return np.vstack([mfcc, delta, delta2, chroma, mel, contrast, tonnetz, zcr, rms]).T


def assert_float32_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    scale = np.abs(expected).max(axis=0, keepdims=True) + 1e-12  # per row (feature)
    np.testing.assert_allclose(actual / scale, expected / scale, rtol=0, atol=2e-6)
