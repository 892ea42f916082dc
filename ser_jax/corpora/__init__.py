"""Corpora as plug-ins: each reader turns a folder (or a manifest file) into :class:`Record` rows.

A reader is one module in this package, named by its file (``--corpus=NAME``; modules starting
with ``_`` are not readers), or any module named by its dotted import path (``--corpus=my_lab.
readers.mycorpus``, a user's file on sys.path; see ser_jax.plugins). It has
- ``NAME``: the corpus column and the speaker namespace of its records (a package reader's file name);
- ``COLUMNS``: its own metadata columns and their types (``int`` or ``str``), beyond the generic ones;
- ``DESCRIPTION``: one line on the naming scheme it reads, for error messages and help;
- ``parse(path, root) -> Record``: the labels of one file, or ``ValueError`` naming what is wrong
  (folder readers; discovery walks the tree and calls it, auto-detection tries it), or
  ``read(root) -> Corpus`` with ``EXTENSIONS`` (readers of one file, e.g. the manifest);
- optionally ``discover(root) -> Corpus`` (a layout of its own) and, for its own corpus name,
  ``corpus_name(path)``;
- for tests, how a synthetic example of it is laid out (ser_jax.testing.corpora writes it):
  ``EXAMPLE_LIMITS`` (most speakers, most files per speaker and emotion), ``example(speaker,
  emotion, take, variant) -> Example``, optionally ``EXAMPLE_VARIANTS`` (a second layout) and
  ``example_tables(speakers)`` (tables the corpus ships beside its audio).

Every reader maps its codes onto one vocabulary (:data:`EMOTIONS`), so training, reports and
prediction never see a corpus' own codes. Adding a corpus is one new file.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable, NamedTuple, Sequence

import numpy as np

from ser_jax import plugins

# The canonical emotion names every reader maps its codes onto.
EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "boredom")

# name -> module path: every module of this package not starting with "_" (read-only, derived).
READERS = plugins.Registry(__name__, __path__, flag="corpus", what="corpus reader", also=("auto",))

# Generic columns every record has (strings); a reader's COLUMNS come after them in the cache.
GENERIC_COLUMNS = ("corpus", "speaker", "emotion", "gender")

# Extensions libsndfile reads (soundfile.available_formats() plus common aliases). Kept as a
# constant so discovery does not import soundfile or open every file.
AUDIO_EXTENSIONS = frozenset(
    {
        ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
        ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64", ".htk", ".sd2", ".voc",
        ".nist", ".sph", ".paf", ".pvf", ".svx", ".xi", ".avr", ".ircam", ".sf",
        ".mat", ".mpc", ".wve",
    }
)


@dataclasses.dataclass(frozen=True)
class Record:
    """One audio file and its labels, in the vocabulary every corpus shares."""

    path: str
    corpus: str  # the reader's NAME (or the manifest's name)
    speaker: str  # namespaced by corpus, e.g. "ravdess:07", so corpora never share a speaker
    emotion: str  # one of EMOTIONS
    gender: str = ""  # "male", "female", or "" when the corpus does not say
    extra: tuple[tuple[str, int | str], ...] = ()  # the corpus' own fields, in its COLUMNS order

    def __getitem__(self, column: str) -> int | str:
        if column in GENERIC_COLUMNS:
            return getattr(self, column)
        for name, value in self.extra:
            if name == column:
                return value
        raise KeyError(column)

    def __getattr__(self, name: str):  # rec.actor, rec.channel ... for a reader's own columns
        if name.startswith("_") or name == "extra":
            raise AttributeError(name)
        for key, value in object.__getattribute__(self, "extra"):
            if key == name:
                return value
        raise AttributeError(f"Record of corpus {self.corpus!r} has no field {name!r}")

    @property
    def stem(self) -> str:
        return Path(self.path).name.split(".")[0]


@dataclasses.dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Corpus:
    """What a reader found under a root: usable records, their column types, what it passed over."""

    root: str  # the folder relative paths are taken from (a manifest's folder for a manifest)
    source: str  # what was given: the folder or the manifest file
    reader: str  # the reader's NAME
    name: str  # the corpus column value of every record
    columns: tuple[tuple[str, str], ...]  # the reader's own columns: (name, "int" | "str")
    records: tuple[Record, ...]
    skipped: tuple[Skipped, ...]
    note: str = ""  # e.g. which auto-detection chose the reader

    def __len__(self) -> int:
        return len(self.records)

    def summary(self, max_skipped: int = 10) -> str:
        return summarize(self, max_skipped=max_skipped)


def column_types(columns: dict[str, type]) -> tuple[tuple[str, str], ...]:
    return tuple((name, "int" if t is int else "str") for name, t in columns.items())


class Example(NamedTuple):
    """One file of a reader's synthetic example (tests): where it lies and what its name says."""

    relpath: str  # below the corpus root, with "/" separators
    speaker: str  # as the name gives it, e.g. "03" (the record's speaker: "emodb:03")
    gender: str  # "male", "female" or ""
    intensity: int = 1  # of the synthetic voice: 2 for a strongly expressed file


def reader(name: str) -> ModuleType:
    """The reader module called name (or at that import path); ValueError listing the readers if none."""
    module = READERS.module(name)
    if not (hasattr(module, "parse") or hasattr(module, "read")):
        raise ValueError(f"--corpus={name}: module {module.__name__} is not a corpus reader: it has neither "
                         "parse(path, root) nor read(path)")
    return module


def is_audio_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def walk_sorted(root: Path) -> Iterable[Path]:
    """Every file below root in sorted (deterministic) order, hidden files and folders left out."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in sorted(filenames):
            if not f.startswith("."):
                yield Path(dirpath) / f


def scan(
    root: str | os.PathLike, module: ModuleType, tops: Sequence[Path] | None = None,
    key: Callable[[Record], str] | None = None, note: str = "",
) -> Corpus:
    """A folder reader's discovery: every audio file below root that ``module.parse`` accepts.

    Non-audio files and audio files whose names do not parse are skipped with a reason, never
    silently; a second file with the same recording key (by default the file stem) is skipped as a
    duplicate. ``tops`` restricts the walk to some sub-folders (RAVDESS' two standard folders).
    """
    root_path = _existing_dir(root, module)
    records: list[Record] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    key = key or (lambda r: r.stem)
    for top in tops or [root_path]:
        for path in walk_sorted(top):
            if not is_audio_name(path):
                skipped.append(Skipped(str(path), f"not audio (extension '{path.suffix or path.name}')"))
                continue
            try:
                rec = module.parse(str(path), root_path)
            except ValueError as e:
                skipped.append(Skipped(str(path), str(e).removeprefix(f"{path}: ")))
                continue
            k = key(rec)
            if k in seen:
                skipped.append(Skipped(str(path), f"duplicate recording of {seen[k]}"))
                continue
            seen[k] = str(path)
            records.append(rec)
    if not records:
        raise ValueError(f"no usable audio file under {root_path} ({len(skipped)} skipped); expected "
                         f"{module.NAME} files: {module.DESCRIPTION}")
    return Corpus(str(root_path), str(root_path), module.NAME, module.NAME, column_types(module.COLUMNS),
                  tuple(records), tuple(skipped), note)


def _existing_dir(root: str | os.PathLike, module: ModuleType | None = None) -> Path:
    root_path = Path(root).expanduser()
    what = f"; expected {module.NAME} files: {module.DESCRIPTION}" if module is not None else ""
    if not root_path.exists():
        raise FileNotFoundError(f"corpus root {root_path} does not exist{what}")
    if not root_path.is_dir():
        raise NotADirectoryError(f"corpus root {root_path} is not a directory{what}")
    return root_path


def read(path: str | os.PathLike, name: str = "auto") -> Corpus:
    """The corpus at path, read by the reader called name ("auto": detected from the files)."""
    if name == "auto":
        name, note = detect(path)
    else:
        note = f"reader {name} (given)"
    module = reader(name)
    if hasattr(module, "read"):
        corpus = module.read(path)
    else:
        corpus = module.discover(path) if hasattr(module, "discover") else scan(path, module)
    return dataclasses.replace(corpus, note=note)


def detect(path: str | os.PathLike) -> tuple[str, str]:
    """(reader name, a sentence saying why) for the corpus at path; ValueError if unknown or ambiguous.

    A file is read by the reader of its extension (``.csv``/``.tsv``: the manifest). For a folder,
    every audio file's name is tried with every folder reader; the reader that accepts the most
    files wins, unless another accepts at least half as many (a folder mixing corpora), which is
    ambiguous.
    """
    p = Path(path).expanduser()
    if p.is_file():
        suffix = p.suffix.lower()
        for n in READERS:
            if suffix in getattr(reader(n), "EXTENSIONS", ()):
                return n, f"reader {n} (auto: {p.name} is a {suffix} file)"
        raise ValueError(f"{p}: a file, but not a manifest (a manifest is a .csv or .tsv file); give a corpus "
                         "folder or a manifest")
    root = _existing_dir(p)
    folder_readers = [(n, reader(n)) for n in READERS if hasattr(reader(n), "parse")]
    counts: collections.Counter[str] = collections.Counter()
    audio = 0
    for f in walk_sorted(root):
        if not is_audio_name(f):
            continue
        audio += 1
        for n, module in folder_readers:
            try:
                module.parse(str(f), root)
            except ValueError:
                continue
            counts[n] += 1
    listing = "; ".join(f"{n} ({reader(n).DESCRIPTION})" for n in READERS)
    if not counts:
        raise ValueError(f"{root}: no reader recognises the {audio} audio file names under it; pass "
                         f"--corpus=NAME or describe the files in a manifest. Readers: {listing}")
    ranked = counts.most_common()
    best, n_best = ranked[0]
    if len(ranked) > 1 and ranked[1][1] * 2 >= n_best:
        found = ", ".join(f"{c} files fit {n}" for n, c in ranked)
        raise ValueError(f"{root}: ambiguous corpus ({found}); pass --corpus=NAME, or give each corpus its own "
                         f"folder. Readers: {', '.join(READERS)}")
    return best, f"reader {best} (auto: {n_best} of {audio} audio files fit its names)"


def summarize(corpus: Corpus, max_skipped: int = 10) -> str:
    """A human-readable account: reader, counts per speaker and emotion (and channel), the skips."""
    recs = corpus.records
    by_emotion = collections.Counter(r.emotion for r in recs)
    by_speaker = collections.Counter(r.speaker for r in recs)
    by_gender = collections.Counter(r.gender or "unknown" for r in recs)
    lines = [
        f"corpus {corpus.source}: {corpus.note or 'reader ' + corpus.reader}",
        f"{len(recs)} files",
    ]
    if any(name == "channel" for name, _ in corpus.columns):
        by_channel = collections.Counter(r["channel"] for r in recs)
        lines[-1] += " = " + " + ".join(f"{by_channel[c]} {c}" for c in sorted(by_channel, reverse=True))
    lines.append("emotions: " + ", ".join(f"{e} {by_emotion[e]}" for e in EMOTIONS if by_emotion[e]))
    lines.append(f"speakers: {len(by_speaker)} (" + ", ".join(f"{s} {c}" for s, c in sorted(by_speaker.items()))
                 + ")")
    lines.append("gender: " + ", ".join(f"{g} {c}" for g, c in sorted(by_gender.items())))
    lines.append(f"skipped: {len(corpus.skipped)}")
    reasons = collections.Counter(s.reason.split(":")[0] if s.reason.startswith("not audio") else s.reason
                                  for s in corpus.skipped)
    if len(corpus.skipped) > max_skipped:
        for reason, c in reasons.most_common(5):
            lines.append(f"  {c} x {reason}")
    for s in corpus.skipped[:max_skipped]:
        lines.append(f"  {s.path}: {s.reason}")
    if len(corpus.skipped) > max_skipped:
        lines.append(f"  ... and {len(corpus.skipped) - max_skipped} more")
    return "\n".join(lines)


def canonical_emotion(value: str) -> str:
    """A canonical emotion for a name or a common synonym ('anger', 'fear', 'ps'...); ValueError if none."""
    v = value.strip().lower().replace("-", " ").replace("_", " ")
    if v in EMOTIONS:
        return v
    if v in SYNONYMS:
        return SYNONYMS[v]
    raise ValueError(f"unknown emotion '{value}'; expected one of {', '.join(EMOTIONS)} "
                     f"(or a synonym such as anger, fear, happiness, sadness, surprise, bored)")


SYNONYMS = {
    "anger": "angry", "angry": "angry", "mad": "angry",
    "fear": "fearful", "afraid": "fearful", "scared": "fearful",
    "happiness": "happy", "joy": "happy", "happy": "happy",
    "sadness": "sad", "surprise": "surprised", "pleasant surprise": "surprised", "ps": "surprised",
    "pleasant surprised": "surprised",
    "disgusted": "disgust", "bored": "boredom", "boring": "boredom", "calmness": "calm",
}


def parse_merges(items: Sequence[str] | Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """'calm:neutral' (or ('calm', 'neutral')) -> (('calm', 'neutral'),), names made canonical."""
    out = []
    for item in items:
        if isinstance(item, str):
            if item.count(":") != 1:
                raise ValueError(f"--merge_emotions: '{item}' is not FROM:TO (e.g. calm:neutral)")
            item = tuple(item.split(":"))
        a, b = (canonical_emotion(str(x)) for x in item)
        if a == b:
            raise ValueError(f"--merge_emotions: '{a}:{b}' maps an emotion onto itself")
        out.append((a, b))
    sources = [a for a, _ in out]
    if len(set(sources)) != len(sources):
        raise ValueError(f"--merge_emotions: an emotion is merged twice ({', '.join(sources)})")
    if set(sources) & {b for _, b in out}:
        raise ValueError("--merge_emotions: a merge target is itself merged away; give the final names")
    return tuple(out)


def relabel(emotions: np.ndarray, keep: Sequence[str] = (), merge: Sequence[tuple[str, str]] = ()) -> np.ndarray:
    """Emotion names after merging (``merge``: (from, to) pairs) and keeping a subset (``keep``, after
    merging; empty keeps all). Dropped rows get "", which no split uses."""
    mapping = dict(merge)
    out = np.asarray([mapping.get(str(e), str(e)) for e in emotions], dtype=object)
    if keep:
        out = np.where(np.isin(out, list(keep)), out, "").astype(object)
    return out


def name_of(path: str | os.PathLike, reader_name: str = "auto") -> str:
    """The corpus name records from path carry (the reader's NAME; a manifest's own name)."""
    if reader_name == "auto":
        reader_name, _ = detect(path)
    module = reader(reader_name)
    return module.corpus_name(path) if hasattr(module, "corpus_name") else module.NAME
