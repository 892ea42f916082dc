"""RAVDESS: ``MM-VV-EE-II-SS-RR-AA.wav`` (Livingstone & Russo 2018), speech and song.

Seven two-digit fields: modality, vocal channel, emotion, intensity, statement, repetition,
actor. Read from ``Audio_Speech_Actors_01-24/Actor_XX/`` and ``Audio_Song_Actors_01-24/Actor_XX/``
when those folders exist, otherwise from anywhere below the root. Actors 01-24, odd = male.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ser_jax import corpora

NAME = "ravdess"
DESCRIPTION = "MM-VV-EE-II-SS-RR-AA.wav, e.g. 03-01-05-02-01-02-07.wav"
# Its own columns, beyond corpus/speaker/emotion/gender. ``actor`` and ``emotion_code`` keep the
# corpus' integer codes; ``channel`` (speech/song) is what --channels and the seed's strata read.
COLUMNS = {"modality": int, "channel": str, "emotion_code": int, "intensity": int, "statement": int,
           "repetition": int, "actor": int}

MODALITIES = {1: "full-AV", 2: "video-only", 3: "audio-only"}
CHANNELS = {1: "speech", 2: "song"}
EMOTIONS = {1: "neutral", 2: "calm", 3: "happy", 4: "sad", 5: "angry", 6: "fearful", 7: "disgust", 8: "surprised"}
INTENSITIES = {1: "normal", 2: "strong"}
STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
REPETITIONS = {1: "1st", 2: "2nd"}
SONG_EMOTIONS = frozenset({1, 2, 3, 4, 5, 6})  # song has no disgust and no surprised
STANDARD_FOLDERS = ("Audio_Speech_Actors_01-24", "Audio_Song_Actors_01-24")

_FIELDS = ("modality", "vocal channel", "emotion", "intensity", "statement", "repetition", "actor")


def parse(path: str | os.PathLike, root: str | os.PathLike | None = None) -> corpora.Record:
    """The labels of a RAVDESS file name; ValueError naming the file and the bad field."""
    path = str(path)
    stem = Path(path).name.split(".")[0]
    parts = stem.split("-")
    if len(parts) != len(_FIELDS):
        raise ValueError(f"{path}: not a RAVDESS name: expected 7 dash-separated fields "
                         f"MM-VV-EE-II-SS-RR-AA, found {len(parts)}")
    codes = []
    for field, part in zip(_FIELDS, parts):
        if len(part) != 2 or not part.isdigit():
            raise ValueError(f"{path}: RAVDESS field '{field}' must be two digits, got '{part}'")
        codes.append(int(part))
    modality, channel, emotion, intensity, statement, repetition, actor = codes
    for field, code, table in (
        ("modality", modality, MODALITIES),
        ("vocal channel", channel, CHANNELS),
        ("emotion", emotion, EMOTIONS),
        ("intensity", intensity, INTENSITIES),
        ("statement", statement, STATEMENTS),
        ("repetition", repetition, REPETITIONS),
    ):
        if code not in table:
            raise ValueError(f"{path}: RAVDESS field '{field}' is {code:02d}, expected one of "
                             f"{', '.join(f'{c:02d}' for c in sorted(table))}")
    if not 1 <= actor <= 99:
        raise ValueError(f"{path}: RAVDESS field 'actor' is {actor:02d}, expected 01-99")
    if CHANNELS[channel] == "song" and emotion not in SONG_EMOTIONS:
        raise ValueError(f"{path}: RAVDESS field 'emotion' is {emotion:02d} ({EMOTIONS[emotion]}), "
                         "which song recordings do not have")
    if emotion == 1 and intensity == 2:
        raise ValueError(f"{path}: RAVDESS field 'intensity' is 02 (strong), which neutral does not have")
    return corpora.Record(
        path=path, corpus=NAME, speaker=f"{NAME}:{actor:02d}", emotion=EMOTIONS[emotion],
        gender="male" if actor % 2 else "female",
        extra=(("modality", modality), ("channel", CHANNELS[channel]), ("emotion_code", emotion),
               ("intensity", intensity), ("statement", statement), ("repetition", repetition), ("actor", actor)),
    )


def discover(root: str | os.PathLike) -> corpora.Corpus:
    """The standard two folders if present (anything else under the root is ignored), else the tree."""
    module = sys.modules[__name__]
    root_path = corpora._existing_dir(root, module)
    standard = [root_path / f for f in STANDARD_FOLDERS if (root_path / f).is_dir()]
    return corpora.scan(root_path, module, tops=standard or None)


def format_name(*, channel: str, emotion_code: int, intensity: int, statement: int, repetition: int, actor: int,
                modality: int = 3, ext: str = ".wav") -> str:
    """The inverse of parse: the RAVDESS file name for these fields."""
    channel_code = {v: k for k, v in CHANNELS.items()}[channel]
    fields = (modality, channel_code, emotion_code, intensity, statement, repetition, actor)
    return "-".join(f"{f:02d}" for f in fields) + ext


# A synthetic example, for tests (ser_jax.testing.corpora writes it): speech in actor folders.
EXAMPLE_LIMITS = (24, 4)  # actors; files per actor and emotion (2 statements x 2 repetitions)


def example(speaker: int, emotion: str, take: int, variant: bool = False) -> corpora.Example:
    """File ``take`` of synthetic speaker ``speaker`` (actor speaker + 1: odd male, even female) in a
    canonical emotion: ``Actor_01/03-01-05-01-01-01-01.wav``."""
    actor = speaker + 1
    code = {v: k for k, v in EMOTIONS.items()}[emotion]
    name = format_name(channel="speech", emotion_code=code, intensity=1, statement=1 + take % 2,
                       repetition=1 + take // 2, actor=actor)
    return corpora.Example(f"Actor_{actor:02d}/{name}", f"{actor:02d}", "male" if actor % 2 else "female")
