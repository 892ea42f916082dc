"""Synthetic corpora in every naming scheme the readers know, for tests without real data.

Each file is a :mod:`ser_jax.synth` voice (so the emotion is really in the signal), written as a
16-bit mono WAV under the name and in the layout of the corpus it imitates:

- ``emodb``: ``wav/03a01Wa.wav``;
- ``crema_d``: ``AudioWAV/1001_IEO_ANG_XX.wav`` plus ``VideoDemographics.csv`` in the root;
- ``tess``: ``OAF_angry/OAF_back_angry.wav`` (``folder_variant``: ``OAF_back_angry.wav``, flat);
- ``savee``: ``DC_a01.wav`` (``folder_variant``: ``DC/a01.wav``).

Speaker ``i`` of a scheme is the same synthetic voice in every file (a RAVDESS actor of the
speaker's gender), and the files of one speaker and emotion differ in text (statement) and take.
Everything is a function of the arguments only: the same call writes byte-identical files.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ser_jax.corpora import canonical_emotion, crema_d, emodb, savee, tess

SCHEMES = ("emodb", "crema_d", "tess", "savee")

# The synthetic voice of each canonical emotion: a RAVDESS emotion code (boredom sounds calm).
RAVDESS_CODES = {"neutral": 1, "calm": 2, "happy": 3, "sad": 4, "angry": 5, "fearful": 6, "disgust": 7,
                 "surprised": 8, "boredom": 2}

# Speaker ids, in the order synthetic speaker 0, 1, ... takes them (alternating genders).
EMODB_SPEAKERS = ("03", "08", "10", "09", "11", "13", "12", "14", "15", "16")
EMODB_TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")
CREMA_D_SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
CREMA_D_LEVELS = ("XX", "HI", "MD", "LO")
TESS_SPEAKERS = ("OAF", "YAF")
TESS_WORDS = ("back", "bar", "base", "bath", "bean", "beg", "bite", "boat", "bone", "book", "burn", "cab",
              "calm", "came", "chain", "chair", "chalk", "chat", "cheek", "chief")
# TESS' emotion folders (the distribution spells them inconsistently; these are some of its spellings).
TESS_FOLDERS = {"angry": "angry", "disgust": "disgust", "fearful": "fear", "happy": "happy",
                "neutral": "neutral", "surprised": "pleasant_surprised", "sad": "sad"}
SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")


@dataclasses.dataclass(frozen=True)
class Planned:
    """One file a synthetic corpus holds: where, and what the reader should make of it."""

    relpath: str  # below the corpus root, with "/" separators
    speaker: str  # the reader's speaker, e.g. "emodb:03"
    emotion: str  # canonical
    gender: str  # "male", "female" or ""
    index: int  # the synthetic speaker's number (0, 1, ...): which voice
    take: int  # the file's number among its speaker's files of this emotion
    intensity: int = 1  # of the voice: 2 (strong) for CREMA-D's HI level, else 1


def emotions(scheme: str) -> tuple[str, ...]:
    """The canonical emotions a scheme has, in the order of its codes."""
    return tuple(_module(scheme).EMOTIONS.values())


def plan(
    scheme: str, *, speakers: int = 2, per_emotion: int = 2, folder_variant: bool = False
) -> list[Planned]:
    """Every file :func:`write` writes for these arguments, speaker by speaker, emotion by emotion."""
    _module(scheme)
    if speakers < 1 or per_emotion < 1:
        raise ValueError(f"speakers={speakers}, per_emotion={per_emotion}: both must be at least 1")
    limits = {
        "emodb": (len(EMODB_SPEAKERS), 26 * len(EMODB_TEXTS)),
        "crema_d": (crema_d.LAST_ACTOR - crema_d.FIRST_ACTOR + 1,
                    len(CREMA_D_SENTENCES) * len(CREMA_D_LEVELS)),
        "tess": (len(TESS_SPEAKERS), len(TESS_WORDS)),
        "savee": (len(SAVEE_SPEAKERS) + 26, 99),
    }[scheme]
    if speakers > limits[0] or per_emotion > limits[1]:
        raise ValueError(f"{scheme}: at most {limits[0]} speakers and {limits[1]} files per speaker and "
                         f"emotion, got speakers={speakers}, per_emotion={per_emotion}")
    out = []
    for i in range(speakers):
        for emotion in emotions(scheme):
            for j in range(per_emotion):
                relpath, speaker, gender = _name(scheme, i, emotion, j, folder_variant)
                strong = scheme == "crema_d" and relpath.endswith("_HI.wav")
                out.append(Planned(relpath, f"{scheme}:{speaker}", emotion, gender, i, j, 2 if strong else 1))
    return out


def write(
    scheme: str,
    out_dir: str | os.PathLike,
    *,
    speakers: int = 2,
    per_emotion: int = 2,
    sample_rate: int = 16000,
    seed: int = 0,
    folder_variant: bool = False,
) -> list[Path]:
    """Writes a synthetic corpus in scheme's names and layout under out_dir; the paths, in plan order.

    Default: 2 speakers x every emotion of the scheme x 2 files (28 files for EmoDB, TESS and SAVEE,
    24 for CREMA-D). CREMA-D also gets its VideoDemographics.csv. ``folder_variant`` changes the
    layout of TESS (flat instead of emotion folders) and SAVEE (speaker folders instead of flat) only.
    """
    root = Path(out_dir)
    paths = []
    for p in plan(scheme, speakers=speakers, per_emotion=per_emotion, folder_variant=folder_variant):
        paths.append(write_wav(root / p.relpath, p.emotion, speaker=p.index, take=p.take, gender=p.gender,
                               intensity=p.intensity, sample_rate=sample_rate, seed=seed))
    if scheme == "crema_d":
        write_crema_d_demographics(root, speakers)
    return paths


def write_wav(
    path: str | os.PathLike,
    emotion: str = "neutral",
    *,
    speaker: int = 0,
    take: int = 0,
    gender: str = "",
    intensity: int = 1,
    sample_rate: int = 16000,
    seed: int = 0,
) -> Path:
    """One synthetic utterance at path (folders made as needed): the voice of synthetic speaker
    ``speaker`` (a RAVDESS actor of that gender; "" = male), ``emotion`` (a canonical name or a
    synonym), take ``take`` (takes differ in text and repetition).
    """
    import soundfile as sf

    from ser_jax.synth.design import FileSpec, SynthConfig
    from ser_jax.synth.voice import render

    code = RAVDESS_CODES[canonical_emotion(emotion)]
    actor = 2 * speaker + (2 if gender == "female" else 1)  # RAVDESS: odd actors male, even female
    spec = FileSpec(channel="speech", emotion_code=code, intensity=1 if code == 1 else intensity,
                    statement=1 + take % 2, repetition=1 + take // 2, actor=actor)
    audio = render(spec, SynthConfig(seed=seed, sample_rate=sample_rate, stereo_fraction=0.0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, sample_rate, subtype="PCM_16", format="WAV")
    return path


def write_crema_d_demographics(root: str | os.PathLike, speakers: int) -> Path:
    """``VideoDemographics.csv`` for actors 1001...; speaker i is male for even i, as in :func:`write`."""
    rows = [{"ActorID": crema_d.FIRST_ACTOR + i, "Age": 20 + 3 * i, "Sex": "Male" if i % 2 == 0 else "Female",
             "Race": "Caucasian", "Ethnicity": "Not Hispanic"} for i in range(speakers)]
    return write_manifest(Path(root) / crema_d.DEMOGRAPHICS, rows)


def write_manifest(
    path: str | os.PathLike, rows: Iterable[Mapping[str, object]], columns: Sequence[str] | None = None
) -> Path:
    """A CSV (or, for a ``.tsv`` path, tab-separated) table of rows; columns default to the rows' keys
    in first-seen order, and a row lacking a column leaves it empty.
    """
    rows = list(rows)
    if columns is None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ",", lineterminator="\n")
        out.writerow(columns)
        for row in rows:
            out.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return path


def _module(scheme: str):
    readers = {"emodb": emodb, "crema_d": crema_d, "tess": tess, "savee": savee}
    if scheme not in readers:
        raise ValueError(f"scheme={scheme!r}: no synthetic corpus of that kind; choose from "
                         + ", ".join(SCHEMES))
    return readers[scheme]


def _name(scheme: str, i: int, emotion: str, j: int, folder_variant: bool) -> tuple[str, str, str]:
    """(relative path, speaker id, gender) of file j of synthetic speaker i and this emotion."""
    if scheme == "emodb":
        spk = EMODB_SPEAKERS[i]
        gender = "male" if spk in emodb.MALE else "female"
        version = chr(ord("a") + j // len(EMODB_TEXTS))
        name = emodb.format_name(speaker=int(spk), text=EMODB_TEXTS[j % len(EMODB_TEXTS)], emotion=emotion,
                                 version=version)
        return f"wav/{name}", spk, gender
    if scheme == "crema_d":
        actor = crema_d.FIRST_ACTOR + i
        sentence = CREMA_D_SENTENCES[j % len(CREMA_D_SENTENCES)]
        level = CREMA_D_LEVELS[j // len(CREMA_D_SENTENCES)]
        name = crema_d.format_name(actor=actor, sentence=sentence, emotion=emotion, level=level)
        return f"AudioWAV/{name}", str(actor), "male" if i % 2 == 0 else "female"
    if scheme == "tess":
        spk = TESS_SPEAKERS[i]
        name = tess.format_name(speaker=spk, word=TESS_WORDS[j], emotion=emotion)
        return (name if folder_variant else f"{spk}_{TESS_FOLDERS[emotion]}/{name}"), spk, "female"
    spk = SAVEE_SPEAKERS[i] if i < len(SAVEE_SPEAKERS) else "X" + chr(ord("A") + i - len(SAVEE_SPEAKERS))
    name = savee.format_name(speaker=spk, emotion=emotion, sentence=j + 1, folder=folder_variant)
    return name, spk, "male" if spk in savee.MALE else ""
