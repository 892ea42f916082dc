"""Audio files in, a recipe's input out: robust loading, the perturbations applied while loading, and
the features of whole files.

``load_audio`` reads any file libsndfile can (channel mean, soxr resampling, as the seed's
``librosa.load``), with every failure a one-line :class:`AudioError`, and applies a training copy's
perturbations as it loads (speed in the resampling, VTLP, noise). ``compute`` gives one file's
features; ``window_features`` is predict's task for a feature worker (a whole file, in windows).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import math
import os
import sys
import warnings
import zlib
from typing import Any, Iterator

import numpy as np
import soundfile as sf

from ser_jax import features, recipes

VTLP_F_HI = 4800.0  # Hz: below about this the spectrum is scaled by the factor (their F_hi)
_VTLP_N_FFT = 1024  # the warp's own STFT (46 ms at 22.05 kHz), independent of the features' n_fft


def lazy_import(name: str) -> Any:
    """The module, executed on first attribute use. Importing librosa compiles (or loads) its numba
    gufuncs; a process that has loaded JAX must never do that (see ser_jax.workers), and such
    processes import the feature modules for their configs and shapes only."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


librosa = lazy_import("librosa")  # loaded on first use: see lazy_import


class AudioError(ValueError):
    """A file cannot be used as audio; the message is a one-line reason (no path, no traceback)."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silences librosa's expected warnings (short input, silent tuning) for one clip."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _one_line(e: BaseException) -> str:
    if isinstance(e, sf.LibsndfileError):
        text = e.error_string
    else:
        text = str(e) or type(e).__name__
    lines = [s.strip() for s in text.splitlines() if s.strip()]
    return lines[0] if lines else type(e).__name__


def load_audio(path: str | os.PathLike, cfg: features.FeatureConfig) -> np.ndarray:
    """Mono float32 at cfg.sample_rate, cropped/zero-padded per cfg.duration.

    The same as the seed's ``librosa.load(path, sr=...)`` (channel mean, soxr_hq resampling)
    but libsndfile only (no audioread fallback) and with every failure turned into AudioError.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioError("cannot read: no such file")
    if not os.path.isfile(path):
        raise AudioError("cannot read: not a regular file")
    if os.path.getsize(path) == 0:
        raise AudioError("cannot decode: empty file (0 bytes)")
    try:
        with sf.SoundFile(path) as f:
            native_sr = f.samplerate
            data = f.read(dtype="float32", always_2d=False)
    except Exception as e:  # libsndfile raises several types; callers need one reason, not a traceback
        raise AudioError(f"cannot decode: {_one_line(e)}") from e
    y = data.T  # (channels, n) as librosa lays it out
    if y.shape[-1] == 0:
        raise AudioError("empty audio (0 samples)")
    if not np.all(np.isfinite(y)):
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    try:
        with quiet():
            y = librosa.to_mono(y)
            # Speed perturbation in the same resampling step: read at speed x the native rate.
            y = librosa.resample(y, orig_sr=native_sr * cfg.speed if cfg.speed != 1.0 else native_sr,
                                 target_sr=cfg.sample_rate, res_type="soxr_hq")
    except Exception as e:
        raise AudioError(f"cannot resample from {native_sr} Hz: {_one_line(e)}") from e
    if len(y) == 0:
        raise AudioError("empty audio (0 samples after resampling)")
    if cfg.vtlp != 1.0:  # only the samples the crop keeps (the warp is the costly part)
        y = vtlp_warp(y[:recipes.clip_samples(len(y), cfg)], cfg.sample_rate, cfg.vtlp)
    if cfg.noise_snr is not None:
        return add_noise(y, cfg, seed_text=os.path.basename(path))
    return np.ascontiguousarray(recipes.fit_length(y, cfg), dtype=np.float32)


def vtlp_frequencies(freqs: np.ndarray, alpha: float, sr: float, f_hi: float = VTLP_F_HI) -> np.ndarray:
    """Where vocal-tract-length perturbation moves each frequency (Jaitly & Hinton 2013).

    f -> alpha * f up to a boundary near f_hi, then a straight line that keeps the Nyquist
    frequency in place, so the warped spectrum neither loses its top nor runs past it.
    """
    nyquist = sr / 2
    top = f_hi * min(alpha, 1.0)  # where the boundary lands
    boundary = top / alpha
    upper = nyquist - (nyquist - top) / (nyquist - boundary) * (nyquist - freqs)
    return np.where(freqs <= boundary, alpha * freqs, upper)


def vtlp_warp(y: np.ndarray, sr: int, alpha: float) -> np.ndarray:
    """y with its spectrum warped along vtlp_frequencies, resynthesised at the same length.

    The magnitude spectrogram is resampled along frequency (each output frequency reads the input
    at its inverse warp) and turned back into audio by Griffin-Lim (librosa, 32 iterations from
    zero phase: deterministic, so a copy is the same on every run). Warping the audio rather than
    each feature's filterbank lets every group (mel, MFCC, chroma, contrast, tonnetz) see the
    same warped voice; moving complex STFT values between bins instead cancels much of the
    energy (their phases no longer fit), which is why the phase is rebuilt.
    """
    y = np.asarray(y, np.float32)
    n_fft, hop = _VTLP_N_FFT, _VTLP_N_FFT // 4
    if len(y) < n_fft:  # too short for the warp's STFT: pad, warp, cut back
        return vtlp_warp(np.pad(y, (0, n_fft - len(y))), sr, alpha)[:len(y)]
    mag = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    source = np.interp(freqs, vtlp_frequencies(freqs, alpha, sr), freqs) * n_fft / sr  # in bins
    lo = np.minimum(np.floor(source).astype(np.int64), len(freqs) - 2)
    w = (source - lo)[:, None]
    warped = (1 - w) * mag[lo] + w * mag[lo + 1]
    out = librosa.griffinlim(warped, n_iter=32, hop_length=hop, n_fft=n_fft, length=len(y), init=None)
    return np.ascontiguousarray(out, dtype=np.float32)


def add_noise(y: np.ndarray, cfg: features.FeatureConfig, seed_text: str) -> np.ndarray:
    """y cropped/padded per cfg plus white noise at an SNR drawn from cfg.noise_snr.

    The SNR is relative to the power of the clip's own samples (not the zero padding), and the
    draw is seeded by ``seed_text`` (the file name), so the same file gets the same noise on
    every machine and run. A silent clip stays silent.
    """
    rng = np.random.default_rng(zlib.crc32(seed_text.encode()))
    snr = rng.uniform(*cfg.noise_snr)
    n_own = min(len(y), recipes.clip_samples(len(y), cfg))
    out = recipes.fit_length(np.asarray(y, np.float32), cfg).astype(np.float64)
    power = float(np.mean(out[:n_own] ** 2)) if n_own else 0.0
    out += rng.standard_normal(len(out)) * math.sqrt(power / 10.0 ** (snr / 10.0))
    return np.ascontiguousarray(out, dtype=np.float32)


def compute(path: str | os.PathLike, cfg: features.FeatureConfig) -> np.ndarray:
    """load_audio + the recipe (prepare, finish): the (T, F) features of one file, or AudioError."""
    return recipes.finish([recipes.prepare(load_audio(path, cfg), cfg)], cfg)[0]


def window_starts(num_samples: int, window: int) -> list[int]:
    """First samples of the windows a clip of num_samples is cut into for prediction.

    One window at 0 when the clip fits; otherwise windows every window // 2 samples, plus one
    ending at the clip's end if the regular ones stop short of it.
    """
    if window < 1:
        raise ValueError(f"window must be at least one sample, got {window}")
    if num_samples <= window:
        return [0]
    hop = max(1, window // 2)
    starts = list(range(0, num_samples - window + 1, hop))
    if starts[-1] + window < num_samples:
        starts.append(num_samples - window)
    return starts


def window_features(path: str, cfg_dict: dict, window: int | None) -> list[np.ndarray] | str:
    """What the recipe's ``prepare`` gives for each window of a whole file (one window when ``window``
    is None), or the one-line reason it cannot be read. Predict's work, run in a feature worker (ser_jax.workers)."""
    cfg = features.FeatureConfig.from_dict(cfg_dict)
    try:
        y = load_audio(path, dataclasses.replace(cfg, duration=None))  # whole clip at the model's rate
        clips = [y] if window is None else [y[s : s + window] for s in window_starts(len(y), window)]
        return [np.ascontiguousarray(recipes.prepare(clip, cfg)) for clip in clips]
    except AudioError as e:
        return str(e).splitlines()[0]

