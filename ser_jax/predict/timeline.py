"""Emotions over time in long recordings: speech found, cut into segments, each judged as a clip.

For each recording: its energy track is read block by block (ser_jax.predict.speech), its stretches
of speech cut into the segments the model takes (ser_jax.predict.segments), and every segment's
features computed in the feature workers from those samples alone, by the function the cache was
built with: a segment's probabilities are those of a file holding the same samples (a test checks
it). The audio is never kept; a global-statistics model keeps only each segment's probabilities,
and a speaker-normalised one each segment's features until the recording is done, because it
standardises a recording's segments by the recording's own statistics (one recording = one speaker,
unless ``speaker_groups`` says otherwise), as training did with a speaker's clips; below the model's
``speaker_min_clips`` segments it falls back to the training statistics, and the timeline's note
says the statistics are thin.

The smoothed track: at each segment, the mean probabilities of the segments whose centres lie within
``smooth`` seconds (centred), so a one-segment flicker does not change the emotion shown.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ser_jax import audio
from ser_jax.predict import segments as segments_lib
from ser_jax.predict import speech
from ser_jax.predict.results import PredictionError, Segment, Timeline, as_dict

CHUNK = 64  # segments computed at once (features of a chunk, then the next: memory stays bounded)


@dataclasses.dataclass(frozen=True)
class TimelineConfig:
    """How a recording is cut and its track smoothed. ``top_db``, ``context`` and ``min_pause`` were
    chosen on the validation actors of ravdess-dev's speaker folds with ``whisper_unseen``
    (docs/results.md)."""

    top_db: float = 50.0  # dB: a frame is speech when within this many dB of the recording's loudest frame
    floor_db: float = -60.0  # dBFS: and only when louder than this (a recording of room tone has no speech)
    min_pause: float = 1.0  # seconds: quieter gaps shorter than this stay inside a stretch of speech
    min_speech: float = 0.2  # seconds: shorter stretches of sound (clicks) are not speech
    context: float = 1.0  # seconds of audio kept before and after each stretch of speech (training clips have silence)
    hop: float | None = None  # seconds between the windows of a fixed-duration model (empty: half its duration)
    max_segment: float = 6.0  # seconds: full-length models: longer stretches are split at their quietest moments
    smooth: float = 5.0  # seconds: the smoothed track averages the segments centred within this window (0: off)
    block_seconds: float = 30.0  # seconds of audio read at once (memory does not grow with the recording)

    def __post_init__(self) -> None:
        for name in ("top_db", "max_segment", "block_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TimelineConfig.{name} must be positive, got {getattr(self, name)}")
        for name in ("min_pause", "min_speech", "context", "smooth"):
            if getattr(self, name) < 0:
                raise ValueError(f"TimelineConfig.{name} must be 0 or more, got {getattr(self, name)}")
        if self.hop is not None and not self.hop > 0:
            raise ValueError(f"TimelineConfig.hop must be positive (or empty for half the duration), got {self.hop}")


@dataclasses.dataclass(frozen=True)
class Planned:
    """A recording read and cut: its energy track, stretches of speech and segments (samples)."""

    recording: speech.Recording
    stretches: list[tuple[int, int]]
    spans: list[tuple[int, int]]


def plan(path: str, config: TimelineConfig, duration: float | None) -> Planned:
    """A recording's speech and segments for a model of this ``duration``; audio.AudioError if unreadable."""
    rec = speech.read(path, config.block_seconds)
    stretches = speech.regions(rec, config.top_db, config.floor_db, config.min_pause, config.min_speech)
    spans = segments_lib.cut(stretches, rec, duration, config.hop, config.max_segment, config.context)
    return Planned(rec, stretches, spans)


def smooth(starts: np.ndarray, ends: np.ndarray, probs: np.ndarray, window: float) -> np.ndarray:
    """At each segment, the mean of ``probs`` over the segments whose centres lie within window / 2."""
    if window <= 0 or len(probs) == 0:
        return probs.copy()
    centres = (np.asarray(starts) + np.asarray(ends)) / 2
    order = np.argsort(centres, kind="stable")
    sorted_c = centres[order]
    cums = np.concatenate([np.zeros((1, probs.shape[1])), np.cumsum(probs[order], axis=0, dtype=np.float64)])
    lo = np.searchsorted(sorted_c, centres - window / 2, side="left")
    hi = np.searchsorted(sorted_c, centres + window / 2, side="right")
    return ((cums[hi] - cums[lo]) / (hi - lo)[:, None]).astype(np.float32)


def iter_timelines(model: Any, paths: Iterable[str | os.PathLike], config: TimelineConfig,
                   progress: Callable[[float], None] | None = None) -> Iterator[Timeline | PredictionError]:
    """A Timeline (or PredictionError) per recording, in order. ``model``: a Predictor or Ensemble.

    Each recording is finished before the next is read, unless speakers span recordings (a
    speaker-normalised model with ``speaker_groups`` files or folder): then all are read first.
    """
    together = model.reads_all_first and (model.speaker_groups or "recording") != "recording"
    pending: list[tuple[str, Planned | str]] = []
    for p in paths:
        path = os.fspath(p)
        try:
            pending.append((path, plan(path, config, model.segment_duration)))
        except audio.AudioError as e:
            pending.append((path, str(e).splitlines()[0]))
        if not together:
            yield from _judge(model, pending, config, progress)
            pending = []
    if pending:
        yield from _judge(model, pending, config, progress)


def _judge(model: Any, pending: Sequence[tuple[str, Planned | str]], config: TimelineConfig,
           progress: Callable[[float], None] | None) -> Iterator[Timeline | PredictionError]:
    """The timelines of recordings planned together (their speakers' statistics are shared).

    A model that scales by global statistics judges each chunk of segments as it is computed, so
    only probabilities are kept; a speaker-normalised one needs every segment's features first.
    """
    planned = {k: p for k, (_, p) in enumerate(pending) if not isinstance(p, str)}
    flat = [(k, span) for k, p in planned.items() for span in p.spans]
    errors = {k: p for k, (_, p) in enumerate(pending) if isinstance(p, str)}
    total = np.zeros((len(flat), len(model.label_names)), np.float64)
    notes: dict[int, str] = {}

    def add(recipe: Sequence[Any], rows: list[int], features: list[np.ndarray]) -> None:
        for m in recipe:
            keys = [m.speaker_of(planned[flat[i][0]].recording.path, "recording") for i in rows]
            scaled, clip_notes = m.preprocessor.scale_clips(features, keys, (m.mean, m.std), unit="segment")
            total[rows] += m.probabilities(scaled)
            for i, note in zip(rows, clip_notes):
                if note:
                    notes.setdefault(flat[i][0], note)

    for r, recipe in enumerate(model.recipes):
        kept_rows: list[int] = []
        kept: list[np.ndarray] = []
        for rows, features in _segment_features(recipe[0], planned, flat, errors, progress if r == 0 else None):
            if model.reads_all_first:
                kept_rows += rows
                kept += features
            elif rows:
                add(recipe, rows, features)
        ok = [j for j, i in enumerate(kept_rows) if flat[i][0] not in errors]
        if ok:
            add(recipe, [kept_rows[j] for j in ok], [kept[j] for j in ok])
    probs = (total / len(model.members)).astype(np.float32)
    for k, (path, item) in enumerate(pending):
        if k in errors:
            yield PredictionError(path, errors[k])
            continue
        rows = [i for i, (kk, _) in enumerate(flat) if kk == k]
        yield _timeline(item, probs[rows], model.label_names, config, notes.get(k, ""))


def _segment_features(member: Any, planned: dict[int, Planned], flat: list[tuple[int, tuple[int, int]]],
                      errors: dict[int, str], progress: Callable[[float], None] | None
                      ) -> Iterator[tuple[list[int], list[np.ndarray]]]:
    """(rows of ``flat``, their unscaled features) by ``member``'s recipe, CHUNK segments at a time; a
    recording whose segment cannot be read goes to ``errors``. ``progress`` gets the seconds done."""
    done = {k: 0 for k in planned}  # samples of each recording reported to progress
    for c in range(0, len(flat), CHUNK):
        chunk = [i for i in range(c, min(c + CHUNK, len(flat))) if flat[i][0] not in errors]
        items = member.raw_inputs_of([planned[flat[i][0]].recording.path for i in chunk], [flat[i][1] for i in chunk])
        rows, features = [], []
        for i, item in zip(chunk, items):
            k = flat[i][0]
            if isinstance(item, str):
                errors.setdefault(k, f"segment at {flat[i][1][0] / planned[k].recording.sample_rate:.2f} s: {item}")
            else:
                rows.append(i)
                features.append(item[0])
        yield [i for i in rows if flat[i][0] not in errors], [f for i, f in zip(rows, features)
                                                              if flat[i][0] not in errors]
        if progress is not None and chunk:
            k = flat[chunk[-1]][0]
            progress((flat[chunk[-1]][1][1] - done[k]) / planned[k].recording.sample_rate)
            done[k] = flat[chunk[-1]][1][1]
    if progress is not None:
        for k, p in planned.items():
            progress((p.recording.num_samples - done[k]) / p.recording.sample_rate)


def _timeline(p: Planned, probs: np.ndarray, label_names: Sequence[str], config: TimelineConfig,
              note: str) -> Timeline:
    rec = p.recording
    sr = rec.sample_rate
    starts = np.asarray([a / sr for a, _ in p.spans])
    ends = np.asarray([b / sr for _, b in p.spans])
    smoothed = smooth(starts, ends, probs, config.smooth)
    segs = tuple(Segment(float(s), float(e), label_names[int(np.argmax(pr))], as_dict(pr, label_names),
                         label_names[int(np.argmax(sm))], as_dict(sm, label_names))
                 for s, e, pr, sm in zip(starts, ends, probs, smoothed))
    if not p.spans:
        note = "no speech found (every frame below the threshold: see --top_db and --floor_db)"
    return Timeline(rec.path, rec.seconds, tuple((a / sr, b / sr) for a, b in p.stretches), segs, tuple(label_names),
                    note)
