"""fast: the seed's rows from one shared STFT, with tonnetz from the STFT chroma.

The seed's costly tonnetz (harmonic separation + CQT chroma, ~90% of the seed's time) becomes
tonnetz of the STFT chroma (of its harmonic part with ``fast_hpss``); every other row equals the
seed's. Its zero-crossing rate and tuning estimate are librosa's, bit for bit, computed faster.
"""

from __future__ import annotations

import functools

import numpy as np

from ser_jax import audio
from ser_jax.features.config import MFCC_MELS, FeatureConfig, invalid
from ser_jax.features.recipes import _handcrafted
from ser_jax.features.recipes._handcrafted import N_CHROMA

librosa = audio.librosa  # loaded on first use (see audio.lazy_import)

ENCODER = False
FIXED: dict[str, int] = {}
FIELDS = ("fast_hpss",)  # FeatureConfig fields only this recipe reads
STORAGE_DTYPE = np.float32
group_sizes = _handcrafted.group_sizes  # the seed's groups, frames of the STFT
min_samples = _handcrafted.min_samples
num_frames = _handcrafted.num_frames


def check(cfg: FeatureConfig) -> dict[str, bool]:
    """fast_hpss: True or False."""
    if not isinstance(cfg.fast_hpss, (bool, np.bool_)):
        raise invalid("fast_hpss", "True or False", cfg.fast_hpss)
    return {"fast_hpss": bool(cfg.fast_hpss)}


def prepare(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The (T, F) features of mono audio y (see _handcrafted.extract)."""
    return _handcrafted.extract(y, cfg, _rows)


def _rows(y: np.ndarray, cfg: FeatureConfig) -> dict[str, np.ndarray]:
    """The seed's rows from one shared STFT; tonnetz from its chroma instead of a CQT.

    Each step is the librosa function the seed calls, handed the shared spectrogram, so all
    rows but tonnetz equal the seed's (same STFT, same filterbanks, same tuning estimate).
    """
    sr, n_fft = cfg.sample_rate, cfg.n_fft
    rows: dict[str, np.ndarray] = {}
    spectral = ("mfcc", "delta", "delta2", "chroma", "mel", "contrast", "tonnetz")
    if _handcrafted.needs(cfg, *spectral):
        mag = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=cfg.hop_length))
        power = mag**2  # what librosa's _spectrogram(power=2) computes
        if _handcrafted.needs(cfg, "mfcc", "delta", "delta2"):
            mel128 = np.einsum("...ft,mf->...mt", power, _mel_basis(sr, n_fft, MFCC_MELS), optimize=True)
            mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel128), n_mfcc=cfg.n_mfcc)
            _handcrafted.deltas(mfcc, rows, cfg)
        if _handcrafted.needs(cfg, "mel"):
            mel = np.einsum("...ft,mf->...mt", power, _mel_basis(sr, n_fft, cfg.n_mels), optimize=True)
            rows["mel"] = librosa.power_to_db(mel) if cfg.mel_db else mel
        if _handcrafted.needs(cfg, "chroma", "tonnetz"):
            tuning = _estimate_tuning(power, sr, n_fft)
            fb = _chroma_basis(sr, n_fft, float(tuning))
            chroma = _chroma(power, fb) if _handcrafted.needs(cfg, "chroma") or not cfg.fast_hpss else None
            if chroma is not None:
                rows["chroma"] = chroma
            if _handcrafted.needs(cfg, "tonnetz"):
                if cfg.fast_hpss:
                    harmonic, _ = librosa.decompose.hpss(mag)
                    chroma = _chroma(harmonic**2, fb)
                rows["tonnetz"] = librosa.feature.tonnetz(chroma=chroma)
        if _handcrafted.needs(cfg, "contrast"):
            rows["contrast"] = librosa.feature.spectral_contrast(S=mag, sr=sr, n_fft=n_fft)
    _handcrafted.time_domain(y, rows, cfg, _zero_crossing_rate)
    return rows


def _zero_crossing_rate(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """librosa.feature.zero_crossing_rate(y) (centered, defaults), bit for bit, ~4x faster.

    librosa marks crossings frame by frame on a framed copy of the signal (frame_length values
    per frame); here each crossing is marked once and counted per frame with a cumulative sum.
    As in librosa: edge padding, |x| <= 1e-10 counts as +0, and the first sample of a frame
    never counts (pad=False). A test checks equality with librosa itself.
    """
    padded = np.pad(y.astype(np.float32, copy=False), frame_length // 2, mode="edge")
    negative = np.signbit(np.where(np.abs(padded) <= np.float32(1e-10), np.float32(0), padded))
    crossed = np.zeros(len(padded), dtype=np.int64)  # crossed[k]: crossings between 0 and k
    np.cumsum(negative[1:] != negative[:-1], out=crossed[1:])
    starts = np.arange(1 + (len(padded) - frame_length) // hop_length) * hop_length
    counts = crossed[starts + frame_length - 1] - crossed[starts]
    return (counts / frame_length)[np.newaxis, :]


@functools.lru_cache(maxsize=32)
def _mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    with audio.quiet():  # many bands on a small n_fft leave some empty: librosa warns, rows are zero
        fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
    fb.setflags(write=False)
    return fb


@functools.lru_cache(maxsize=512)
def _chroma_basis(sr: int, n_fft: int, tuning: float) -> np.ndarray:
    # tuning is a multiple of 0.01 in [-0.5, 0.5) (estimate_tuning's histogram), so few entries.
    fb = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=N_CHROMA)
    fb.setflags(write=False)
    return fb


@functools.lru_cache(maxsize=32)
def _tuning_band(sr: int, n_fft: int) -> tuple[int, int]:
    """FFT bins piptrack may report a pitch in (150 Hz <= f < 4 kHz): all interior bins."""
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    inside = np.flatnonzero((150.0 <= freqs) & (freqs < min(4000.0, sr / 2)))
    return int(inside[0]), int(inside[-1]) + 1


def _estimate_tuning(power: np.ndarray, sr: int, n_fft: int) -> float:
    """librosa.estimate_tuning(S=power, sr=sr, bins_per_octave=12), bit for bit, ~3x faster.

    piptrack's gradient, parabolic shift and local-maximum test are all 3-bin stencils, and
    only bins in [150 Hz, 4 kHz) can hold a pitch, so it is enough to evaluate them on that
    band (plus one neighbour each side) instead of the whole spectrogram. The arithmetic,
    dtypes included, copies librosa 0.11's piptrack and its numba stencils; a test checks
    equality with librosa itself.
    """
    lo, hi = _tuning_band(sr, n_fft)
    s = np.abs(power)
    ref = 0.1 * np.max(s, axis=-2, keepdims=True)  # piptrack's threshold * max over all bins
    x = s[lo - 1 : hi + 1]  # the band with one neighbour on each side
    below, mid, above = x[:-2], x[1:-1], x[2:]
    grad = (above - below) / 2.0  # np.gradient, interior
    a = (above + below).astype(np.float64) - 2 * mid.astype(np.float64)  # numba's float64 promotion
    b = (above - below).astype(np.float64) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(b) >= np.abs(a), 0.0, -b / a).astype(np.float32)
    dskew = 0.5 * grad * shift
    xt = x * (x > ref)  # localmax of the thresholded spectrum
    peak = (xt[1:-1] > xt[:-2]) & (xt[1:-1] >= xt[2:])
    f_idx, t_idx = np.nonzero(peak)
    pitch = ((f_idx + lo + shift[f_idx, t_idx]) * float(sr) / n_fft).astype(np.float32)
    mag = (mid[f_idx, t_idx] + dskew[f_idx, t_idx]).astype(np.float32)
    keep = pitch > 0
    threshold = np.median(mag[keep]) if keep.any() else 0.0
    return float(librosa.pitch_tuning(pitch[(mag >= threshold) & keep], resolution=0.01,
                                      bins_per_octave=N_CHROMA))


def _chroma(power: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """chroma_stft's last two steps, on a precomputed power spectrogram and filterbank."""
    raw = np.einsum("cf,...ft->...ct", fb, power, optimize=True)
    return librosa.util.normalize(raw, norm=np.inf, axis=-2)

