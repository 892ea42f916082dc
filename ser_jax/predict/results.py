"""What a prediction returns: frozen dataclasses, so a notebook gets values, not printed text.

``Prediction``: one file's emotion. ``Timeline``: a long recording's emotion over time, as
``Segment`` s of its speech (raw and smoothed). ``PredictionError``: an input that could not be used,
with a one-line reason.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Prediction:
    """The predicted emotion of one file and the probability of every class of the label map."""

    path: str
    emotion: str
    probabilities: dict[str, float]
    seconds: float  # the file's length (a fixed-duration model saw its first ``duration`` seconds)
    note: str = ""  # e.g. that a speaker-normalised model saw this clip's speaker in this clip alone


@dataclasses.dataclass(frozen=True)
class PredictionError:
    """A file that could not be predicted, with a one-line reason."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclasses.dataclass(frozen=True)
class Segment:
    """One stretch of a recording the model judged: its times, emotion and class probabilities,
    and the smoothed track's values at this segment (the mean over the smoothing window)."""

    start: float  # seconds from the recording's start
    end: float
    emotion: str
    probabilities: dict[str, float]
    smoothed_emotion: str
    smoothed: dict[str, float]


@dataclasses.dataclass(frozen=True)
class Timeline:
    """A recording's emotions over time: its speech, and the segments cut from it, in time order."""

    path: str
    seconds: float  # the recording's length
    speech: tuple[tuple[float, float], ...]  # (start, end) seconds of each stretch of speech found
    segments: tuple[Segment, ...]
    label_names: tuple[str, ...]
    note: str = ""  # e.g. that the recording's speaker statistics are thin

    @property
    def speech_seconds(self) -> float:
        return float(sum(b - a for a, b in self.speech))

    def probabilities(self, smoothed: bool = False) -> np.ndarray:
        """(segments, classes) probabilities, in label order (the smoothed track's with smoothed=True)."""
        rows = [s.smoothed if smoothed else s.probabilities for s in self.segments]
        return np.asarray([[r[n] for n in self.label_names] for r in rows], np.float32).reshape(-1,
                                                                                                 len(self.label_names))


def prediction(path: str, probs: np.ndarray, label_names: Sequence[str], seconds: float, note: str = ""
               ) -> Prediction:
    """A Prediction from one file's class probabilities (averaged over an ensemble's models)."""
    return Prediction(path=path, emotion=label_names[int(np.argmax(probs))],
                      probabilities=as_dict(probs, label_names), seconds=float(seconds), note=note)


def as_dict(probs: np.ndarray, label_names: Sequence[str]) -> dict[str, float]:
    return {name: float(p) for name, p in zip(label_names, probs)}
