"""The optional openSMILE groups of the handcrafted recipes, read at the recipe's frames. Not a recipe.

Computed only when asked for (not in the default groups, so default cache keys never change):
egemaps = the 25 low-level descriptors of openSMILE's eGeMAPSv02 set (pitch, jitter, shimmer,
formants, HNR, loudness, spectral balance); compare = the 65 of its ComParE_2016 set (energy, 26
auditory bands, MFCC 1-14, spectral shape, F0, voicing, jitter, shimmer, HNR). Which groups exist and
which openSMILE set each reads is the config's vocabulary (config.OPENSMILE_GROUPS).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ser_jax.audio import AudioError
from ser_jax.features.config import OPENSMILE_GROUPS

N_EGEMAPS = 25
N_COMPARE = 65
N_EGEMAPS_FUNCTIONALS = 88


@functools.lru_cache(maxsize=len(OPENSMILE_GROUPS))
def _smile(group: str) -> Any:
    try:
        import opensmile
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise AudioError(f"the {group} feature group needs the opensmile package: pip install opensmile") from e
    return opensmile.Smile(feature_set=opensmile.FeatureSet[OPENSMILE_GROUPS[group]],
                           feature_level=opensmile.FeatureLevel.LowLevelDescriptors)


def lld(y: np.ndarray, sr: int, num_frames_out: int, hop_length: int, group: str = "egemaps") -> np.ndarray:
    """(rows, T) openSMILE low-level descriptors of y (the group's feature set) at this recipe's frames.

    openSMILE computes them every 10 ms (20-60 ms windows); each descriptor is linearly interpolated
    at our centred frames (k * hop / sr seconds) so the group lines up with the others. Voicing-only
    descriptors (F0, jitter, formants...) are 0 where openSMILE finds no voice, as it reports them.
    """
    df = _smile(group).process_signal(np.asarray(y, np.float32), sr)
    start = df.index.get_level_values("start").total_seconds().to_numpy()
    end = df.index.get_level_values("end").total_seconds().to_numpy()
    values = np.nan_to_num(df.to_numpy(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    ours = np.arange(num_frames_out) * hop_length / sr
    if len(values) == 0:
        return np.zeros((df.shape[1], num_frames_out), np.float32)
    centres = (start + end) / 2
    return np.stack([np.interp(ours, centres, values[:, j]) for j in range(values.shape[1])]).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _functionals_smile() -> Any:
    import opensmile

    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                           feature_level=opensmile.FeatureLevel.Functionals)


def functionals(y: np.ndarray, sr: int) -> np.ndarray:
    """(88,) float32: openSMILE's eGeMAPSv02 functionals of the whole clip (a value it cannot compute: 0)."""
    df = _functionals_smile().process_signal(np.asarray(y, np.float32), sr)
    values = np.nan_to_num(df.to_numpy(np.float64).reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
    if values.shape != (N_EGEMAPS_FUNCTIONALS,):
        raise AudioError(f"openSMILE gave {values.shape} eGeMAPS functionals, expected {N_EGEMAPS_FUNCTIONALS}")
    return values.astype(np.float32)

