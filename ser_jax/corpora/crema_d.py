"""CREMA-D: ``1001_DFA_ANG_XX.wav`` (Cao et al. 2014).

Four underscore-separated fields: actor (4 digits, 1001-1091), sentence (3 capital letters, e.g.
DFA "Don't forget a jacket"), emotion (ANG DIS FEA HAP NEU SAD) and level (LO, MD, HI, or XX
unspecified). The files usually lie flat in ``AudioWAV/``, but are read from anywhere below the
root. Genders come from ``VideoDemographics.csv`` (columns ActorID, Age, Sex, Race, Ethnicity) in
the root or its parent, when there is one; without it every gender is "" (unknown).
"""

from __future__ import annotations

import csv
import functools
import os
import sys
from pathlib import Path

from ser_jax import corpora

NAME = "crema_d"
DESCRIPTION = "AAAA_SSS_EEE_LL.wav: actor, sentence, emotion, level, e.g. 1001_DFA_ANG_XX.wav"
# Its own columns, beyond corpus/speaker/emotion/gender. ``channel`` is always speech.
COLUMNS = {"channel": str, "sentence": str, "level": str, "actor": int}

EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral",
            "SAD": "sad"}
LEVELS = ("LO", "MD", "HI", "XX")
FIRST_ACTOR, LAST_ACTOR = 1001, 1091
DEMOGRAPHICS = "VideoDemographics.csv"
SEXES = {"male": "male", "female": "female"}

_FIELDS = ("actor", "sentence", "emotion", "level")


def parse(path: str | os.PathLike, root: str | os.PathLike | None = None) -> corpora.Record:
    """The labels of a CREMA-D file name; ValueError naming the file and the bad field."""
    path = str(path)
    stem = Path(path).name.split(".")[0]
    parts = stem.split("_")
    if len(parts) != len(_FIELDS):
        raise ValueError(f"{path}: not a CREMA-D name: expected 4 underscore-separated fields "
                         f"AAAA_SSS_EEE_LL, found {len(parts)}")
    actor, sentence, emotion, level = parts
    if len(actor) != 4 or not (actor.isascii() and actor.isdigit()):
        raise ValueError(f"{path}: CREMA-D field 'actor' must be four digits, got '{actor}'")
    if not FIRST_ACTOR <= int(actor) <= LAST_ACTOR:
        raise ValueError(f"{path}: CREMA-D field 'actor' is {actor}, expected {FIRST_ACTOR}-{LAST_ACTOR}")
    if len(sentence) != 3 or not (sentence.isascii() and sentence.isalpha() and sentence.isupper()):
        raise ValueError(f"{path}: CREMA-D field 'sentence' must be three capital letters, got '{sentence}'")
    if emotion not in EMOTIONS:
        raise ValueError(f"{path}: CREMA-D field 'emotion' is '{emotion}', expected one of "
                         + ", ".join(f"{c} ({e})" for c, e in EMOTIONS.items()))
    if level not in LEVELS:
        raise ValueError(f"{path}: CREMA-D field 'level' is '{level}', expected one of {', '.join(LEVELS)}")
    genders = demographics(Path(root) if root is not None else Path(path).parent)
    return corpora.Record(
        path=path, corpus=NAME, speaker=f"{NAME}:{actor}", emotion=EMOTIONS[emotion],
        gender=genders.get(int(actor), ""),
        extra=(("channel", "speech"), ("sentence", sentence), ("level", level), ("actor", int(actor))),
    )


def demographics(root: str | os.PathLike) -> dict[int, str]:
    """ActorID -> "male"/"female" from VideoDemographics.csv in root or its parent; {} if there is none.

    Read once per file version (the table is cached on its path, size and modification time), so
    parsing every file of the corpus reads it once. A table without ActorID and Sex columns, or with
    an ActorID that is not a number, is a ValueError naming it.
    """
    folder = Path(root).expanduser()
    for candidate in (folder / DEMOGRAPHICS, folder.parent / DEMOGRAPHICS):
        try:
            st = candidate.stat()
        except OSError:
            continue
        return _read_demographics(os.path.abspath(candidate), st.st_size, st.st_mtime_ns)
    return {}


@functools.lru_cache(maxsize=16)
def _read_demographics(path: str, size: int, mtime_ns: int) -> dict[int, str]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.DictReader(f)
        fields = [c.strip() for c in rows.fieldnames or []]
        missing = [c for c in ("ActorID", "Sex") if c not in fields]
        if missing:
            raise ValueError(f"{path}: CREMA-D demographics lack column(s) {', '.join(missing)}; "
                             f"expected ActorID, Age, Sex, Race, Ethnicity")
        rows.fieldnames = fields
        out: dict[int, str] = {}
        for row in rows:
            actor = (row["ActorID"] or "").strip()
            if not actor.isdigit():
                raise ValueError(f"{path}: line {rows.line_num}: ActorID '{actor}' is not a number")
            out[int(actor)] = SEXES.get((row["Sex"] or "").strip().lower(), "")
    return out


def discover(root: str | os.PathLike) -> corpora.Corpus:
    """The tree below root; a malformed VideoDemographics.csv is one error up front, not one per file."""
    module = sys.modules[__name__]
    root_path = corpora._existing_dir(root, module)
    demographics(root_path)
    return corpora.scan(root_path, module)


def format_name(*, actor: int, sentence: str, emotion: str, level: str = "XX", ext: str = ".wav") -> str:
    """The inverse of parse: the CREMA-D file name for an actor, sentence, canonical emotion and level."""
    code = {v: k for k, v in EMOTIONS.items()}[emotion]
    return f"{actor:04d}_{sentence}_{code}_{level}{ext}"


# A synthetic example, for tests (ser_jax.testing.corpora writes it): a speaker's takes go through the
# sentences, then the levels.
_EXAMPLE_SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
_EXAMPLE_LEVELS = ("XX", "HI", "MD", "LO")
EXAMPLE_LIMITS = (LAST_ACTOR - FIRST_ACTOR + 1, len(_EXAMPLE_SENTENCES) * len(_EXAMPLE_LEVELS))


def example(speaker: int, emotion: str, take: int, variant: bool = False) -> corpora.Example:
    """File ``take`` of synthetic speaker ``speaker`` (actor 1001 + speaker; male for even speakers, as
    :func:`example_tables` says) in a canonical emotion, flat in ``AudioWAV/``; level HI is a strong voice."""
    actor = FIRST_ACTOR + speaker
    level = _EXAMPLE_LEVELS[take // len(_EXAMPLE_SENTENCES)]
    name = format_name(actor=actor, sentence=_EXAMPLE_SENTENCES[take % len(_EXAMPLE_SENTENCES)], emotion=emotion,
                       level=level)
    return corpora.Example(f"AudioWAV/{name}", str(actor), "male" if speaker % 2 == 0 else "female",
                           2 if level == "HI" else 1)


def example_tables(speakers: int) -> dict[str, list[dict[str, object]]]:
    """The example's VideoDemographics.csv rows: actors 1001..., speaker i male for even i."""
    return {DEMOGRAPHICS: [{"ActorID": FIRST_ACTOR + i, "Age": 20 + 3 * i, "Sex": "Male" if i % 2 == 0 else "Female",
                            "Race": "Caucasian", "Ethnicity": "Not Hispanic"} for i in range(speakers)]}
