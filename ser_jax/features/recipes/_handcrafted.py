"""What the handcrafted recipes (seed, fast) share: their groups and sizes, STFT framing, the MFCC
deltas and time-domain rows, and the frame every clip goes through (crop, one BLAS thread, the
optional openSMILE groups, stacking in row order). Not a recipe itself.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator

import numpy as np

from ser_jax import audio
from ser_jax.features import layout
from ser_jax.features.config import OPENSMILE_GROUPS, FeatureConfig
from ser_jax.features.recipes import _opensmile

librosa = audio.librosa  # loaded on first use (see audio.lazy_import)

# librosa.feature.delta's default window; "interp" mode needs at least this many frames.
DELTA_WIDTH = 9
N_CHROMA = 12
N_CONTRAST = 7  # spectral_contrast's default 6 bands + 1
N_TONNETZ = 6

Rows = dict[str, np.ndarray]  # group name -> (rows, frames)


def group_sizes(cfg: FeatureConfig) -> dict[str, int]:
    """Rows per feature group, in the seed's row order (config.GROUP_ORDER)."""
    return {"mfcc": cfg.n_mfcc, "delta": cfg.n_mfcc, "delta2": cfg.n_mfcc, "chroma": N_CHROMA,
            "mel": cfg.n_mels, "contrast": N_CONTRAST, "tonnetz": N_TONNETZ, "zcr": 1, "rms": 1,
            "egemaps": _opensmile.N_EGEMAPS, "compare": _opensmile.N_COMPARE}


def min_samples(cfg: FeatureConfig) -> int:
    """One whole window and enough frames for deltas."""
    return max(cfg.n_fft, (DELTA_WIDTH - 1) * cfg.hop_length)


def num_frames(num_samples: int, cfg: FeatureConfig) -> int:
    """1 + n // hop with centered frames (130 for 3 s at 22050/512)."""
    return 1 + layout.clip_samples(num_samples, cfg) // cfg.hop_length


def extract(y: np.ndarray, cfg: FeatureConfig, spectral: Callable[[np.ndarray, FeatureConfig], Rows]) -> np.ndarray:
    """(T, F) float32 features of mono audio y at cfg.sample_rate; T = num_frames(len(y), cfg).

    ``spectral`` is the recipe's own part: the rows of its librosa groups. y is cropped/padded per
    cfg first (a no-op on load_audio's output). Groups come in ALL_GROUPS order (see
    features.feature_layout); values are always finite.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"extract expects mono audio of shape (n,), got shape {y.shape}")
    y = np.nan_to_num(y.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    y = np.ascontiguousarray(layout.fit_length(y, cfg))
    with audio.quiet(), _one_blas_thread():
        rows = spectral(y, cfg)
    t = num_frames(len(y), cfg)
    for group in OPENSMILE_GROUPS:
        if needs(cfg, group):
            rows[group] = _opensmile.lld(y, cfg.sample_rate, t, cfg.hop_length, group)
    sizes = group_sizes(cfg)
    blocks = []
    for g in cfg.groups:
        block = librosa.util.fix_length(np.asarray(rows[g], dtype=np.float32), size=t, axis=-1)
        assert block.shape == (sizes[g], t), (g, block.shape)
        blocks.append(block)
    out = np.concatenate(blocks, axis=0).T
    if not np.all(np.isfinite(out)):  # defensive; no known input produces this
        out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return np.ascontiguousarray(out)


def needs(cfg: FeatureConfig, *groups: str) -> bool:
    return any(g in cfg.groups for g in groups)


def deltas(mfcc: np.ndarray, rows: Rows, cfg: FeatureConfig) -> None:
    rows["mfcc"] = mfcc
    if needs(cfg, "delta"):
        rows["delta"] = librosa.feature.delta(mfcc, width=DELTA_WIDTH)
    if needs(cfg, "delta2"):
        rows["delta2"] = librosa.feature.delta(mfcc, width=DELTA_WIDTH, order=2)


def time_domain(y: np.ndarray, rows: Rows, cfg: FeatureConfig, zero_crossing_rate: Callable[..., np.ndarray]
                ) -> None:
    frames = dict(frame_length=cfg.n_fft, hop_length=cfg.hop_length)
    if needs(cfg, "zcr"):
        rows["zcr"] = zero_crossing_rate(y, **frames)
    if needs(cfg, "rms"):
        rows["rms"] = librosa.feature.rms(y=y, **frames)


@functools.lru_cache(maxsize=1)
def _threadpools() -> Any:
    try:
        import scipy.linalg  # noqa: F401  (loads scipy's BLAS too, so the controller sees it)
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl.ThreadpoolController()


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """BLAS on one thread for one clip.

    The matrices here are small (a 1025 x 130 spectrogram), so BLAS threads gain ~0.2 ms per
    clip, while idle-spinning BLAS threads in several feature processes on a busy machine
    measured 2-10x slower. Process-level parallelism is the caller's job.
    """
    controller = _threadpools()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield

