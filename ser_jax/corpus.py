"""The RAVDESS naming scheme and corpus discovery, in one place.

A RAVDESS file name is seven two-digit fields, ``MM-VV-EE-II-SS-RR-AA.ext``:
modality, vocal channel, emotion, intensity, statement, repetition, actor.
Everything else in ser_jax reads labels from the :class:`Utterance` records made
here, never from file names, so there is exactly one parser to trust.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from pathlib import Path
from typing import Iterable

# Code -> name, as in the RAVDESS documentation.
MODALITIES = {1: "full-AV", 2: "video-only", 3: "audio-only"}
CHANNELS = {1: "speech", 2: "song"}
EMOTIONS = {
    1: "neutral",
    2: "calm",
    3: "happy",
    4: "sad",
    5: "angry",
    6: "fearful",
    7: "disgust",
    8: "surprised",
}
INTENSITIES = {1: "normal", 2: "strong"}
STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
REPETITIONS = {1: "1st", 2: "2nd"}
SONG_EMOTIONS = frozenset({1, 2, 3, 4, 5, 6})  # song has no disgust and no surprised
STANDARD_FOLDERS = ("Audio_Speech_Actors_01-24", "Audio_Song_Actors_01-24")

# Extensions libsndfile reads (soundfile.available_formats() plus common aliases). Kept
# as a constant so discovery does not import soundfile or open every file.
AUDIO_EXTENSIONS = frozenset(
    {
        ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
        ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64", ".htk", ".sd2", ".voc",
        ".nist", ".sph", ".paf", ".pvf", ".svx", ".xi", ".avr", ".ircam", ".sf",
        ".mat", ".mpc", ".wve",
    }
)

_FIELDS = ("modality", "vocal channel", "emotion", "intensity", "statement", "repetition", "actor")


@dataclasses.dataclass(frozen=True)
class Utterance:
    """One RAVDESS audio file and the labels its name carries."""

    path: str
    modality: int
    channel: str  # "speech" or "song"
    emotion_code: int
    emotion: str
    intensity: int  # 1 normal, 2 strong
    statement: int
    repetition: int
    actor: int
    gender: str  # "male" for odd actors, "female" for even

    @property
    def stem(self) -> str:
        """The seven-field name without folder or extension (unique per recording)."""
        return Path(self.path).name.split(".")[0]


def parse_name(path: str | os.PathLike) -> Utterance:
    """Parses a RAVDESS file name; raises ValueError naming the file and the bad field."""
    path = str(path)
    name = Path(path).name
    stem = name.split(".")[0]
    parts = stem.split("-")
    if len(parts) != len(_FIELDS):
        raise ValueError(
            f"{path}: not a RAVDESS name: expected 7 dash-separated fields "
            f"MM-VV-EE-II-SS-RR-AA, found {len(parts)}"
        )
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
            raise ValueError(
                f"{path}: RAVDESS field '{field}' is {code:02d}, expected one of "
                f"{', '.join(f'{c:02d}' for c in sorted(table))}"
            )
    if not 1 <= actor <= 99:
        raise ValueError(f"{path}: RAVDESS field 'actor' is {actor:02d}, expected 01-99")
    if CHANNELS[channel] == "song" and emotion not in SONG_EMOTIONS:
        raise ValueError(
            f"{path}: RAVDESS field 'emotion' is {emotion:02d} ({EMOTIONS[emotion]}), "
            "which song recordings do not have"
        )
    if emotion == 1 and intensity == 2:
        raise ValueError(f"{path}: RAVDESS field 'intensity' is 02 (strong), which neutral does not have")
    return Utterance(
        path=path,
        modality=modality,
        channel=CHANNELS[channel],
        emotion_code=emotion,
        emotion=EMOTIONS[emotion],
        intensity=intensity,
        statement=statement,
        repetition=repetition,
        actor=actor,
        gender="male" if actor % 2 else "female",
    )


def format_name(
    *,
    channel: str,
    emotion_code: int,
    intensity: int,
    statement: int,
    repetition: int,
    actor: int,
    modality: int = 3,
    ext: str = ".wav",
) -> str:
    """The inverse of parse_name: the RAVDESS file name for these fields."""
    channel_code = {v: k for k, v in CHANNELS.items()}[channel]
    fields = (modality, channel_code, emotion_code, intensity, statement, repetition, actor)
    return "-".join(f"{f:02d}" for f in fields) + ext


def is_audio_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Corpus:
    """What discovery found under a root: usable utterances and what it passed over."""

    root: str
    layout: str  # "standard" (the two RAVDESS folders) or "tree"
    utterances: tuple[Utterance, ...]
    skipped: tuple[Skipped, ...]

    def __len__(self) -> int:
        return len(self.utterances)

    def summary(self, max_skipped: int = 10) -> str:
        """A human-readable account: counts per channel, emotion and actor, and the skips."""
        return summarize(self, max_skipped=max_skipped)


def _walk_sorted(root: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in sorted(filenames):
            if not f.startswith("."):
                yield Path(dirpath) / f


def discover(root: str | os.PathLike) -> Corpus:
    """Finds every RAVDESS-named audio file under root, in sorted (deterministic) order.

    The standard layout (``Audio_Speech_Actors_01-24/Actor_XX``, ``Audio_Song_...``) is
    read if present; otherwise the whole tree is searched. Non-audio files and audio files
    whose names do not parse are skipped with a reason, never silently.
    """
    root_path = Path(root).expanduser()
    expected = (
        f"expected RAVDESS audio named MM-VV-EE-II-SS-RR-AA.wav (or .flac...), either in "
        f"{STANDARD_FOLDERS[0]}/Actor_XX/ and {STANDARD_FOLDERS[1]}/Actor_XX/ or anywhere below the root"
    )
    if not root_path.exists():
        raise FileNotFoundError(f"corpus root {root_path} does not exist; {expected}")
    if not root_path.is_dir():
        raise NotADirectoryError(f"corpus root {root_path} is not a directory; {expected}")
    standard = [root_path / f for f in STANDARD_FOLDERS if (root_path / f).is_dir()]
    layout = "standard" if standard else "tree"
    tops = standard if standard else [root_path]

    utterances: list[Utterance] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    for top in tops:
        for path in _walk_sorted(top):
            if not is_audio_name(path):
                skipped.append(Skipped(str(path), f"not audio (extension '{path.suffix or path.name}')"))
                continue
            try:
                utt = parse_name(path)
            except ValueError as e:
                skipped.append(Skipped(str(path), str(e).split(": ", 1)[-1]))
                continue
            if utt.stem in seen:
                skipped.append(Skipped(str(path), f"duplicate recording of {seen[utt.stem]}"))
                continue
            seen[utt.stem] = str(path)
            utterances.append(utt)
    if not utterances:
        raise ValueError(f"no usable audio file under {root_path} ({len(skipped)} skipped); {expected}")
    return Corpus(str(root_path), layout, tuple(utterances), tuple(skipped))


def summarize(corpus: Corpus, max_skipped: int = 10) -> str:
    by_channel = collections.Counter(u.channel for u in corpus.utterances)
    by_emotion = collections.Counter(u.emotion for u in corpus.utterances)
    by_actor = collections.Counter(u.actor for u in corpus.utterances)
    lines = [
        f"corpus {corpus.root} ({corpus.layout} layout): {len(corpus.utterances)} files = "
        + " + ".join(f"{by_channel[c]} {c}" for c in ("speech", "song")),
        f"actors: {len(by_actor)} ({', '.join(f'{a:02d}' for a in sorted(by_actor))})",
        "emotions: "
        + ", ".join(
            f"{name} {by_emotion[name]}" for _, name in sorted(EMOTIONS.items()) if by_emotion[name]
        ),
        f"skipped: {len(corpus.skipped)}",
    ]
    for s in corpus.skipped[:max_skipped]:
        lines.append(f"  {s.path}: {s.reason}")
    if len(corpus.skipped) > max_skipped:
        lines.append(f"  ... and {len(corpus.skipped) - max_skipped} more")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m ser_jax.corpus ROOT``: prints the discovery summary."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m ser_jax.corpus CORPUS_ROOT", file=sys.stderr)
        return 2
    try:
        corpus = discover(args[0])
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(corpus.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
