"""What the synthetic corpus holds: the RAVDESS design (which files, named how) and what files share.

RAVDESS is a full factorial design: per actor, every emotion of a channel at both intensities
(neutral at normal only), two statements, two repetitions; song lacks disgust and surprise.
:func:`plan` lists those files as :class:`FileSpec` s, checking every argument with a one-line
:class:`BadArgument` that names it (the command's flag of the same name).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ser_jax.corpora.ravdess import CHANNELS, EMOTIONS, SONG_EMOTIONS, STANDARD_FOLDERS, format_name

CHANNEL_FOLDERS = {"speech": STANDARD_FOLDERS[0], "song": STANDARD_FOLDERS[1]}
CHANNEL_CODE = {v: k for k, v in CHANNELS.items()}
MIN_SECONDS, MAX_SECONDS = 2.5, 5.5


@dataclasses.dataclass(frozen=True)
class SynthConfig:
    """What every file shares: the seed, the audio format, how many files are stereo."""

    seed: int = 0
    sample_rate: int = 48000
    stereo_fraction: float = 0.05  # the real corpus has a few stereo speech files
    noise_dbfs: float = -80.0  # background noise floor (RAVDESS silences are nearly digital zero)


@dataclasses.dataclass(frozen=True)
class FileSpec:
    """The RAVDESS fields of one file to synthesise."""

    channel: str
    emotion_code: int
    intensity: int
    statement: int
    repetition: int
    actor: int

    @property
    def name(self) -> str:
        return format_name(
            channel=self.channel,
            emotion_code=self.emotion_code,
            intensity=self.intensity,
            statement=self.statement,
            repetition=self.repetition,
            actor=self.actor,
        )

    @property
    def relpath(self) -> Path:
        return Path(CHANNEL_FOLDERS[self.channel]) / f"Actor_{self.actor:02d}" / self.name


def plan(
    *,
    actors: int = 8,
    first_actor: int = 1,
    channels: Sequence[str] = ("speech", "song"),
    emotions: Iterable[int | str] | None = None,
    statements: Sequence[int] = (1, 2),
    repetitions: Sequence[int] = (1, 2),
) -> list[FileSpec]:
    """Every file the corpus will hold, in RAVDESS order, following its design rules.

    Speech has 8 emotions, song 6 (no disgust, no surprised); neutral has only normal
    intensity. With all options: 60 speech + 44 song files per actor.
    """
    check(actors >= 1, "actors", actors, "must be at least 1")
    check(1 <= first_actor and first_actor + actors - 1 <= 99, "first_actor", first_actor,
           f"actors {first_actor}..{first_actor + actors - 1} must lie within 1..99 (a two-digit field)")
    channels = tuple(channels)
    check(bool(channels) and set(channels) <= set(CHANNEL_FOLDERS), "channels", channels,
           "must be a non-empty subset of speech, song")
    codes = sorted(EMOTIONS) if emotions is None else sorted({_emotion_code(e) for e in emotions})
    check(bool(codes), "emotions", emotions, "must name at least one emotion")
    for name, values in (("statements", statements), ("repetitions", repetitions)):
        check(bool(values) and set(values) <= {1, 2}, name, values, "must be a non-empty subset of 1, 2")
    specs = []
    for channel in ("speech", "song"):
        if channel not in channels:
            continue
        for actor in range(first_actor, first_actor + actors):
            for e in codes:
                if channel == "song" and e not in SONG_EMOTIONS:
                    continue
                for intensity in (1,) if e == 1 else (1, 2):
                    for s in sorted(set(statements)):
                        for r in sorted(set(repetitions)):
                            specs.append(FileSpec(channel, e, intensity, s, r, actor))
    return specs


def _emotion_code(e: int | str) -> int:
    names = {v: k for k, v in EMOTIONS.items()}
    if isinstance(e, str) and e.strip().lower() in names:
        return names[e.strip().lower()]
    if isinstance(e, str) and e.strip().isdigit():
        e = int(e)
    if isinstance(e, (int, np.integer)) and int(e) in EMOTIONS:
        return int(e)
    known = ", ".join(EMOTIONS.values())
    raise BadArgument(f"emotions={e!r}: unknown emotion; expected one of {known} or codes 1-8")


class BadArgument(ValueError):
    """A bad argument to plan/synthesize; its message starts with the argument (= flag) name."""


def check(ok: bool, name: str, value: object, what: str) -> None:
    if not ok:
        raise BadArgument(f"{name}={value!r}: {what}")
