"""SAVEE (Surrey Audio-Visual Expressed Emotion): ``DC_a01.wav`` or ``DC/a01.wav`` (Haq & Jackson 2009).

A speaker (two capital letters: DC, JE, JK, KL), an emotion code (a angry, d disgust, f fear,
h happy, n neutral, sa sad, su surprise) and a two-digit sentence number. Flat files carry the
speaker in the name (``DC_a01.wav``); in the distribution's ``AudioData/DC/a01.wav`` layout the
speaker is the folder. All four speakers are male. Every speaker has an ``a01``, so two files are
the same recording only when speaker and name both match.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from ser_jax import corpora

NAME = "savee"
DESCRIPTION = "SP_eNN.wav or SP/eNN.wav: speaker, emotion code (a d f h n sa su), number, e.g. DC_a01.wav"
# Its own columns, beyond corpus/speaker/emotion/gender. ``channel`` is always speech.
COLUMNS = {"channel": str, "sentence": int}

EMOTIONS = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral", "sa": "sad",
            "su": "surprised"}
MALE = frozenset({"DC", "JE", "JK", "KL"})

_SPEAKER = re.compile(r"[A-Z]{2}")
_CODE = re.compile(r"([a-z]+)([0-9]+)")


def parse(path: str | os.PathLike, root: str | os.PathLike | None = None) -> corpora.Record:
    """The labels of a SAVEE file name; ValueError naming the file and the bad field."""
    path = str(path)
    stem = Path(path).name.split(".")[0]
    parts = stem.split("_")
    if len(parts) == 2:
        speaker, code = parts
        if not _SPEAKER.fullmatch(speaker):
            raise ValueError(f"{path}: SAVEE field 'speaker' must be two capital letters, got '{speaker}'")
    elif len(parts) == 1:
        speaker, code = Path(path).parent.name, stem
        if not _SPEAKER.fullmatch(speaker):
            raise ValueError(f"{path}: SAVEE field 'speaker': a file named like a01.wav must lie in a "
                             f"folder named by the speaker's two capital letters (e.g. DC/a01.wav), "
                             f"not in '{speaker}'")
    else:
        raise ValueError(f"{path}: not a SAVEE name: expected SP_eNN (e.g. DC_a01) or SP/eNN (e.g. DC/a01), "
                         f"found {len(parts)} underscore-separated fields")
    m = _CODE.fullmatch(code)
    if m is None:
        raise ValueError(f"{path}: not a SAVEE name: expected an emotion code and a two-digit number "
                         f"(e.g. a01, sa12), got '{code}'")
    emotion, number = m.groups()
    if emotion not in EMOTIONS:
        raise ValueError(f"{path}: SAVEE field 'emotion' is '{emotion}', expected one of "
                         + ", ".join(f"{c} ({e})" for c, e in EMOTIONS.items()))
    if len(number) != 2 or number == "00":
        raise ValueError(f"{path}: SAVEE field 'sentence' must be two digits 01-99, got '{number}'")
    return corpora.Record(
        path=path, corpus=NAME, speaker=f"{NAME}:{speaker}", emotion=EMOTIONS[emotion],
        gender="male" if speaker in MALE else "",
        extra=(("channel", "speech"), ("sentence", int(number))),
    )


def recording_key(rec: corpora.Record) -> str:
    """What makes two files the same recording: the speaker and the emotion code with its number."""
    return rec.speaker + "/" + rec.stem.split("_")[-1]


def discover(root: str | os.PathLike) -> corpora.Corpus:
    """The tree below root; DC_a01.wav and DC/a01.wav are the same recording, JE/a01.wav another."""
    return corpora.scan(root, sys.modules[__name__], key=recording_key)


def format_name(*, speaker: str, emotion: str, sentence: int, folder: bool = False, ext: str = ".wav") -> str:
    """The inverse of parse: ``DC_a01.wav``, or ``DC/a01.wav`` (a relative path) when folder is set."""
    code = {v: k for k, v in EMOTIONS.items()}[emotion]
    return f"{speaker}/{code}{sentence:02d}{ext}" if folder else f"{speaker}_{code}{sentence:02d}{ext}"


# A synthetic example, for tests (ser_jax.testing.corpora writes it): the four speakers, then XA, XB, ...
_EXAMPLE_SPEAKERS = ("DC", "JE", "JK", "KL")
EXAMPLE_LIMITS = (len(_EXAMPLE_SPEAKERS) + 26, 99)  # speakers, files per speaker and emotion
EXAMPLE_VARIANTS = (False, True)  # True: speaker folders (DC/a01.wav) instead of flat names


def example(speaker: int, emotion: str, take: int, variant: bool = False) -> corpora.Example:
    """File ``take`` of synthetic speaker ``speaker`` in a canonical emotion: ``DC_a01.wav`` (``variant``:
    ``DC/a01.wav``)."""
    n = len(_EXAMPLE_SPEAKERS)
    spk = _EXAMPLE_SPEAKERS[speaker] if speaker < n else "X" + chr(ord("A") + speaker - n)
    name = format_name(speaker=spk, emotion=emotion, sentence=take + 1, folder=variant)
    return corpora.Example(name, spk, "male" if spk in MALE else "")
