"""TESS (Toronto Emotional Speech Set): ``OAF_back_angry.wav`` (Dupuis & Pichora-Fuller 2010).

Three underscore-separated fields: speaker (OAF older or YAF younger talker), the target word of
"Say the word ...", and emotion (angry, disgust, fear, happy, neutral, ps = pleasant surprise,
sad), all case-insensitive. The files usually lie in folders such as ``OAF_angry/`` or
``YAF_pleasant_surprised/``, but the folders do not matter: the file name carries every label.
Both talkers are female.
"""

from __future__ import annotations

import os
from pathlib import Path

from ser_jax import corpora

NAME = "tess"
DESCRIPTION = "SPK_word_emotion.wav: OAF or YAF, the word, the emotion, e.g. OAF_back_angry.wav"
# Its own columns, beyond corpus/speaker/emotion/gender. ``channel`` is always speech.
COLUMNS = {"channel": str, "word": str}

SPEAKERS = ("OAF", "YAF")
EMOTIONS = {"angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy", "neutral": "neutral",
            "ps": "surprised", "sad": "sad"}

_FIELDS = ("speaker", "word", "emotion")


def parse(path: str | os.PathLike, root: str | os.PathLike | None = None) -> corpora.Record:
    """The labels of a TESS file name; ValueError naming the file and the bad field."""
    path = str(path)
    stem = Path(path).name.split(".")[0]
    parts = stem.split("_")
    if len(parts) != len(_FIELDS):
        raise ValueError(f"{path}: not a TESS name: expected 3 underscore-separated fields "
                         f"SPK_word_emotion, found {len(parts)}")
    speaker, word, emotion = parts
    if speaker.upper() not in SPEAKERS:
        raise ValueError(f"{path}: TESS field 'speaker' is '{speaker}', expected one of "
                         + ", ".join(SPEAKERS))
    if not (word.isascii() and word.isalpha()):
        raise ValueError(f"{path}: TESS field 'word' must be letters, got '{word}'")
    if emotion.lower() not in EMOTIONS:
        raise ValueError(f"{path}: TESS field 'emotion' is '{emotion}', expected one of "
                         + ", ".join(EMOTIONS))
    return corpora.Record(
        path=path, corpus=NAME, speaker=f"{NAME}:{speaker.upper()}", emotion=EMOTIONS[emotion.lower()],
        gender="female", extra=(("channel", "speech"), ("word", word.lower())),
    )


def format_name(*, speaker: str, word: str, emotion: str, ext: str = ".wav") -> str:
    """The inverse of parse: the TESS file name for a speaker, word and canonical emotion."""
    code = {v: k for k, v in EMOTIONS.items()}[emotion]
    return f"{speaker}_{word}_{code}{ext}"


# A synthetic example, for tests (ser_jax.testing.corpora writes it). TESS' emotion folders (the
# distribution spells them inconsistently; these are some of its spellings) and a speaker's words.
_EXAMPLE_FOLDERS = {"angry": "angry", "disgust": "disgust", "fearful": "fear", "happy": "happy",
                    "neutral": "neutral", "surprised": "pleasant_surprised", "sad": "sad"}
_EXAMPLE_WORDS = ("back", "bar", "base", "bath", "bean", "beg", "bite", "boat", "bone", "book", "burn", "cab",
                  "calm", "came", "chain", "chair", "chalk", "chat", "cheek", "chief")
EXAMPLE_LIMITS = (len(SPEAKERS), len(_EXAMPLE_WORDS))  # speakers, files per speaker and emotion
EXAMPLE_VARIANTS = (False, True)  # True: every file flat in the root, without the emotion folders


def example(speaker: int, emotion: str, take: int, variant: bool = False) -> corpora.Example:
    """File ``take`` of synthetic speaker ``speaker`` in a canonical emotion: ``OAF_angry/OAF_back_angry.wav``
    (``variant``: ``OAF_back_angry.wav``, flat)."""
    spk = SPEAKERS[speaker]
    name = format_name(speaker=spk, word=_EXAMPLE_WORDS[take], emotion=emotion)
    return corpora.Example(name if variant else f"{spk}_{_EXAMPLE_FOLDERS[emotion]}/{name}", spk, "female")
