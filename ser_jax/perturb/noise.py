"""noise: white noise at an SNR drawn per file from a range, seeded by the file name (so a copy is the
same on every machine and run)."""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

FIELD = "noise_snr"  # (lowest, highest) dB; None = no noise
UNCHANGED = None
RANGE = (-20.0, 80.0)  # dB
ORDER = 2  # last: on the clip as the other perturbations left it
EXAMPLE = "noise:10:30"
HELP = "white noise at an SNR in dB drawn per file from LOW:HIGH (or one value)"


def parse_snr_range(value: Any, name: str = "noise_snr") -> tuple[float, float]:
    """'10:20', '15', (10, 20) or 15 -> (lowest, highest) SNR in dB, checked."""
    try:
        if isinstance(value, str):
            parts = [float(v) for v in value.split(":")]
        elif isinstance(value, (tuple, list)):
            parts = [float(v) for v in value]
        else:
            parts = [float(value)]
    except (TypeError, ValueError):
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if (len(parts) != 2 or not all(math.isfinite(v) and RANGE[0] <= v <= RANGE[1] for v in parts)
            or parts[0] > parts[1]):
        raise ValueError(f"{name} must be an SNR in dB or a range LOW:HIGH within [{RANGE[0]:g}, "
                         f"{RANGE[1]:g}], got {value!r}")
    return parts[0], parts[1]


def parse(text: str) -> tuple[float, float]:
    return parse_snr_range(text, "the SNR")


def check(value: Any) -> tuple[float, float] | None:
    """The FeatureConfig field: None (no noise) or a checked (lowest, highest) range."""
    return None if value is None else parse_snr_range(value, "FeatureConfig.noise_snr")


def spell(value: tuple[float, float]) -> str:
    return f"{value[0]:g}:{value[1]:g}"


def tag(value: tuple[float, float]) -> str:
    return f"noise{value[0]:g}-{value[1]:g}dB"


def apply(clip: np.ndarray, own: int, value: tuple[float, float], sample_rate: int, seed_text: str) -> np.ndarray:
    """The clip plus white noise at an SNR drawn from ``value``.

    The SNR is relative to the power of the clip's own first ``own`` samples (not the zero padding),
    and the draw is seeded by ``seed_text`` (the file name). A silent clip stays silent.
    """
    rng = np.random.default_rng(zlib.crc32(seed_text.encode()))
    snr = rng.uniform(*value)
    out = np.asarray(clip, np.float32).astype(np.float64)
    power = float(np.mean(out[:own] ** 2)) if own else 0.0
    out += rng.standard_normal(len(out)) * math.sqrt(power / 10.0 ** (snr / 10.0))
    return np.ascontiguousarray(out, dtype=np.float32)
