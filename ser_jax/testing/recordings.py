"""Long recordings made of clips joined with pauses, and where each clip lies in them.

The timeline's tests, ``benchmarks/timeline.py`` and the ravdess-dev experiment
(``tools/timeline_experiment.py``) need recordings whose truth is known: each clip's emotion and
position. ``join`` writes one clip at a time (memory: one clip), resampling with soxr (no numba, so
a process that has loaded JAX may call it) when a clip's rate differs from the recording's.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import numpy as np
import soundfile as sf


@dataclasses.dataclass(frozen=True)
class Placed:
    """A clip inside a joined recording: its source and its first and last sample there."""

    source: str
    start: int
    stop: int
    sample_rate: int

    @property
    def seconds(self) -> tuple[float, float]:
        return self.start / self.sample_rate, self.stop / self.sample_rate


def join(clips: Sequence[str | os.PathLike], pauses: Sequence[float], out: str | os.PathLike, sample_rate: int,
         subtype: str = "PCM_16", lead: float = 0.0) -> list[Placed]:
    """Write the clips one after another, ``pauses[i]`` seconds of digital silence after clip i (and
    ``lead`` seconds before the first), as one mono file; the clips' places in it."""
    import soxr

    if len(pauses) != len(clips):
        raise ValueError(f"{len(clips)} clips but {len(pauses)} pauses")
    placed = []
    with sf.SoundFile(os.fspath(out), "w", samplerate=sample_rate, channels=1, subtype=subtype) as f:
        position = int(round(lead * sample_rate))
        f.write(np.zeros(position, np.float32))
        for clip, pause in zip(clips, pauses):
            y, sr = sf.read(os.fspath(clip), dtype="float32", always_2d=True)
            y = y.mean(axis=1)
            if sr != sample_rate:
                y = soxr.resample(y, sr, sample_rate, quality="HQ").astype(np.float32)
            f.write(y)
            placed.append(Placed(os.fspath(clip), position, position + len(y), sample_rate))
            gap = int(round(pause * sample_rate))
            f.write(np.zeros(gap, np.float32))
            position += len(y) + gap
    return placed


def speech_extent(path: str | os.PathLike, threshold_db: float = -50.0) -> tuple[float, float]:
    """(first, last) seconds of a clip where the signal's magnitude exceeds ``threshold_db`` dBFS: the
    clip's speech, independently of the energy frames the timeline uses."""
    y, sr = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    loud = np.flatnonzero(np.abs(y.mean(axis=1)) > 10 ** (threshold_db / 20))
    if not len(loud):
        return 0.0, 0.0
    return loud[0] / sr, (loud[-1] + 1) / sr
