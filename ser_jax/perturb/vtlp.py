"""vtlp: vocal-tract-length perturbation (Jaitly & Hinton 2013), the spectrum below about 4.8 kHz
scaled by the factor, formants and harmonics alike, tempo kept.

The audio is warped (not each feature's filterbank), so every feature group sees the same warped voice.
"""

from __future__ import annotations

import numpy as np

from ser_jax import audio
from ser_jax.perturb import _factor

FIELD = "vtlp"
UNCHANGED = 1.0
RANGE = (0.8, 1.2)  # Jaitly & Hinton (2013) drew warp factors from 0.9-1.1
ORDER = 1  # on the loaded clip, before noise
EXAMPLE = "vtlp:1.1"
HELP = "vocal-tract-length perturbation: the spectrum below about 4.8 kHz warped by the factor, tempo kept"
F_HI = 4800.0  # Hz: below about this the spectrum is scaled by the factor (their F_hi)
_N_FFT = 1024  # the warp's own STFT (46 ms at 22.05 kHz), independent of the features' n_fft

parse = _factor.parser(RANGE)
check = _factor.checker(FIELD, RANGE)
spell = _factor.spell
tag = _factor.tagger("vtlp")


def apply(clip: np.ndarray, own: int, value: float, sample_rate: int, seed_text: str) -> np.ndarray:
    """The clip with its own first ``own`` samples warped (the warp is the costly part; the zero padding
    after them stays zero)."""
    return np.concatenate([warp(clip[:own], sample_rate, value), clip[own:]])


def frequencies(freqs: np.ndarray, alpha: float, sr: float, f_hi: float = F_HI) -> np.ndarray:
    """Where vocal-tract-length perturbation moves each frequency.

    f -> alpha * f up to a boundary near f_hi, then a straight line that keeps the Nyquist
    frequency in place, so the warped spectrum neither loses its top nor runs past it.
    """
    nyquist = sr / 2
    top = f_hi * min(alpha, 1.0)  # where the boundary lands
    boundary = top / alpha
    upper = nyquist - (nyquist - top) / (nyquist - boundary) * (nyquist - freqs)
    return np.where(freqs <= boundary, alpha * freqs, upper)


def warp(y: np.ndarray, sr: int, alpha: float) -> np.ndarray:
    """y with its spectrum warped along ``frequencies``, resynthesised at the same length.

    The magnitude spectrogram is resampled along frequency (each output frequency reads the input
    at its inverse warp) and turned back into audio by Griffin-Lim (librosa, 32 iterations from
    zero phase: deterministic, so a copy is the same on every run). Moving complex STFT values
    between bins instead cancels much of the energy (their phases no longer fit), which is why
    the phase is rebuilt.
    """
    librosa = audio.librosa
    y = np.asarray(y, np.float32)
    n_fft, hop = _N_FFT, _N_FFT // 4
    if len(y) < n_fft:  # too short for the warp's STFT: pad, warp, cut back
        return warp(np.pad(y, (0, n_fft - len(y))), sr, alpha)[:len(y)]
    mag = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    source = np.interp(freqs, frequencies(freqs, alpha, sr), freqs) * n_fft / sr  # in bins
    lo = np.minimum(np.floor(source).astype(np.int64), len(freqs) - 2)
    w = (source - lo)[:, None]
    warped = (1 - w) * mag[lo] + w * mag[lo + 1]
    out = librosa.griffinlim(warped, n_iter=32, hop_length=hop, n_fft=n_fft, length=len(y), init=None)
    return np.ascontiguousarray(out, dtype=np.float32)
