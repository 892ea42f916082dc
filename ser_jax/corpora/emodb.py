"""EmoDB (Berlin Database of Emotional Speech): ``03a01Fa.wav`` (Burkhardt et al. 2005).

Four fields run together: speaker (2 digits), text code (a letter and 2 digits, e.g. ``a01``,
``b10``), emotion letter (German initials: W Wut, L Langeweile, E Ekel, A Angst, F Freude,
T Trauer, N neutral) and version letter (``a``, ``b``...). The files usually lie in ``wav/``, but
are read from anywhere below the root. Speakers 03 10 11 12 15 are male, 08 09 13 14 16 female.
"""

from __future__ import annotations

import os
from pathlib import Path

from ser_jax import corpora

NAME = "emodb"
DESCRIPTION = "SSTTTEV.wav: speaker, text, emotion letter, version, e.g. 03a01Fa.wav"
# Its own columns, beyond corpus/speaker/emotion/gender. ``channel`` is always speech.
COLUMNS = {"channel": str, "text": str, "version": str}

EMOTIONS = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad",
            "N": "neutral"}
MALE = frozenset({"03", "10", "11", "12", "15"})
FEMALE = frozenset({"08", "09", "13", "14", "16"})


def parse(path: str | os.PathLike, root: str | os.PathLike | None = None) -> corpora.Record:
    """The labels of an EmoDB file name; ValueError naming the file and the bad field."""
    path = str(path)
    stem = Path(path).name.split(".")[0]
    if len(stem) != 7:
        raise ValueError(f"{path}: not an EmoDB name: expected 7 characters SSTTTEV (e.g. 03a01Fa), "
                         f"found {len(stem)}")
    speaker, text, emotion, version = stem[:2], stem[2:5], stem[5], stem[6]
    if not (speaker.isascii() and speaker.isdigit()):
        raise ValueError(f"{path}: EmoDB field 'speaker' must be two digits, got '{speaker}'")
    if not (text[0].isascii() and text[0].islower() and text[1:].isascii() and text[1:].isdigit()):
        raise ValueError(f"{path}: EmoDB field 'text' must be a lower-case letter and two digits "
                         f"(e.g. a01), got '{text}'")
    if emotion not in EMOTIONS:
        raise ValueError(f"{path}: EmoDB field 'emotion' is '{emotion}', expected one of "
                         + ", ".join(f"{c} ({e})" for c, e in EMOTIONS.items()))
    if not (version.isascii() and version.islower()):
        raise ValueError(f"{path}: EmoDB field 'version' must be a lower-case letter, got '{version}'")
    gender = "male" if speaker in MALE else "female" if speaker in FEMALE else ""
    return corpora.Record(
        path=path, corpus=NAME, speaker=f"{NAME}:{speaker}", emotion=EMOTIONS[emotion], gender=gender,
        extra=(("channel", "speech"), ("text", text), ("version", version)),
    )


def format_name(*, speaker: int, text: str, emotion: str, version: str = "a", ext: str = ".wav") -> str:
    """The inverse of parse: the EmoDB file name for a speaker number, text code and canonical emotion."""
    letter = {v: k for k, v in EMOTIONS.items()}[emotion]
    return f"{speaker:02d}{text}{letter}{version}{ext}"


# A synthetic example, for tests (ser_jax.testing.corpora writes it): speakers in the order synthetic
# speaker 0, 1, ... takes them (alternating genders), texts in the order of a speaker's takes.
_EXAMPLE_SPEAKERS = ("03", "08", "10", "09", "11", "13", "12", "14", "15", "16")
_EXAMPLE_TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")
EXAMPLE_LIMITS = (len(_EXAMPLE_SPEAKERS), 26 * len(_EXAMPLE_TEXTS))  # speakers, files per speaker and emotion


def example(speaker: int, emotion: str, take: int, variant: bool = False) -> corpora.Example:
    """File ``take`` of synthetic speaker ``speaker`` in a canonical emotion, laid out as EmoDB's:
    ``wav/03a01Wa.wav``."""
    spk = _EXAMPLE_SPEAKERS[speaker]
    name = format_name(speaker=int(spk), text=_EXAMPLE_TEXTS[take % len(_EXAMPLE_TEXTS)], emotion=emotion,
                       version=chr(ord("a") + take // len(_EXAMPLE_TEXTS)))
    return corpora.Example(f"wav/{name}", spk, "male" if spk in MALE else "female")
