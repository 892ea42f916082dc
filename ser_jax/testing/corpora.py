"""Synthetic corpora in every naming scheme the readers know, for tests without real data.

Each file is a :mod:`ser_jax.synth` voice (so the emotion is really in the signal), written as a
16-bit mono WAV under the name and in the layout of the corpus it imitates. Each reader says how
its example is laid out (``example``, ``EXAMPLE_LIMITS``, ``EXAMPLE_VARIANTS``, ``example_tables``:
see ser_jax.corpora), so a new reader gets a synthetic corpus, and the generic tests, with nothing
added here; e.g. emodb's ``wav/03a01Wa.wav``, tess's ``OAF_angry/OAF_back_angry.wav``
(``folder_variant``: flat) and crema_d's ``AudioWAV/1001_IEO_ANG_XX.wav`` beside its demographics table.

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
from types import ModuleType

from ser_jax import corpora
from ser_jax.corpora import canonical_emotion

# The readers that describe a synthetic example of their corpus (every one but the manifest's).
SCHEMES = tuple(n for n in corpora.READERS if hasattr(corpora.reader(n), "example"))

# The synthetic voice of each canonical emotion: a RAVDESS emotion code (boredom sounds calm).
RAVDESS_CODES = {"neutral": 1, "calm": 2, "happy": 3, "sad": 4, "angry": 5, "fearful": 6, "disgust": 7,
                 "surprised": 8, "boredom": 2}


@dataclasses.dataclass(frozen=True)
class Planned:
    """One file a synthetic corpus holds: where, and what the reader should make of it."""

    relpath: str  # below the corpus root, with "/" separators
    speaker: str  # the reader's speaker, e.g. "emodb:03"
    emotion: str  # canonical
    gender: str  # "male", "female" or ""
    index: int  # the synthetic speaker's number (0, 1, ...): which voice
    take: int  # the file's number among its speaker's files of this emotion
    intensity: int = 1  # of the voice: 2 (strong) for a strongly expressed file (CREMA-D's HI level)


def emotions(scheme: str) -> tuple[str, ...]:
    """The canonical emotions a scheme has, in the order of its codes."""
    return tuple(_module(scheme).EMOTIONS.values())


def variants(scheme: str) -> tuple[bool, ...]:
    """The ``folder_variant`` values that give the scheme a layout of its own: (False,) or (False, True)."""
    return tuple(getattr(_module(scheme), "EXAMPLE_VARIANTS", (False,)))


def plan(
    scheme: str, *, speakers: int = 2, per_emotion: int = 2, folder_variant: bool = False
) -> list[Planned]:
    """Every file :func:`write` writes for these arguments, speaker by speaker, emotion by emotion."""
    module = _module(scheme)
    if speakers < 1 or per_emotion < 1:
        raise ValueError(f"speakers={speakers}, per_emotion={per_emotion}: both must be at least 1")
    most_speakers, most_files = module.EXAMPLE_LIMITS
    if speakers > most_speakers or per_emotion > most_files:
        raise ValueError(f"{scheme}: at most {most_speakers} speakers and {most_files} files per speaker and "
                         f"emotion, got speakers={speakers}, per_emotion={per_emotion}")
    out = []
    for i in range(speakers):
        for emotion in emotions(scheme):
            for j in range(per_emotion):
                ex = module.example(i, emotion, j, folder_variant)
                out.append(Planned(ex.relpath, f"{module.NAME}:{ex.speaker}", emotion, ex.gender, i, j, ex.intensity))
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
    24 for CREMA-D). The tables a corpus ships beside its audio (CREMA-D's demographics) are written
    too. ``folder_variant`` changes the layout of schemes that have a second one (TESS: flat instead
    of emotion folders; SAVEE: speaker folders instead of flat) only.
    """
    root = Path(out_dir)
    paths = []
    for p in plan(scheme, speakers=speakers, per_emotion=per_emotion, folder_variant=folder_variant):
        paths.append(write_wav(root / p.relpath, p.emotion, speaker=p.index, take=p.take, gender=p.gender,
                               intensity=p.intensity, sample_rate=sample_rate, seed=seed))
    write_tables(scheme, root, speakers)
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


def write_tables(scheme: str, root: str | os.PathLike, speakers: int) -> list[Path]:
    """The tables the scheme's corpus ships beside its audio, for ``speakers`` synthetic speakers
    (CREMA-D's VideoDemographics.csv, speaker i male for even i, as :func:`write` names them)."""
    tables = getattr(_module(scheme), "example_tables", lambda n: {})(speakers)
    return [write_manifest(Path(root) / rel, rows) for rel, rows in tables.items()]


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


def _module(scheme: str) -> ModuleType:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme={scheme!r}: no synthetic corpus of that kind; choose from "
                         + ", ".join(SCHEMES))
    return corpora.reader(scheme)
