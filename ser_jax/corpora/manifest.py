"""Any corpus described by a table: a ``.csv`` (comma) or ``.tsv`` (tab) file, one audio file a row.

Required columns ``path,emotion,speaker``; optional ``gender`` (male/female/m/f; empty = unknown)
and ``channel`` (speech or song; speech when absent or empty); every other column is kept as a
string column of the corpus, in file order. Paths are absolute or relative to the manifest's
folder; emotions are names or common synonyms (anger, fear, ...). The corpus is named after the
file (``My-Corpus.csv`` -> ``my_corpus``), which also namespaces its speakers (``my_corpus:spk1``).
A bad row (missing file, unknown emotion, empty speaker, repeated path, not audio) is skipped with
its line number, never silently; a manifest with no usable row is an error.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

from ser_jax import corpora

NAME = "manifest"
DESCRIPTION = "a CSV/TSV file with columns path,emotion,speaker[,gender,channel,...]"
# The minimum: a manifest's corpus also has every extra column of its file, as strings.
COLUMNS = {"channel": str}

REQUIRED = ("path", "emotion", "speaker")
OPTIONAL = ("gender", "channel")
RESERVED = frozenset(corpora.GENERIC_COLUMNS) - set(REQUIRED) - set(OPTIONAL)  # "corpus": the manifest's name
DELIMITERS = {".csv": ",", ".tsv": "\t"}
EXTENSIONS = frozenset(DELIMITERS)  # the files auto-detection gives this reader
SEPARATORS = {",": "comma", "\t": "tab"}
GENDERS = {"male": "male", "m": "male", "female": "female", "f": "female"}
CHANNELS = ("speech", "song")


class _BadRow(Exception):
    """One row's problem: the reason (without the line) and the file's path, for a Skipped entry."""

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.path = path


def corpus_name(path: str | os.PathLike) -> str:
    """The corpus (and speaker namespace) name of a manifest file: its stem, lower-case, [a-z0-9_] only."""
    return re.sub(r"[^a-z0-9_]", "_", Path(path).stem.lower())


def read(path: str | os.PathLike) -> corpora.Corpus:
    """The corpus a manifest describes; FileNotFoundError/ValueError (one line, naming it) if unusable."""
    manifest = Path(path).expanduser()
    if not manifest.exists():
        raise FileNotFoundError(f"manifest {manifest} does not exist; expected {DESCRIPTION}")
    if not manifest.is_file():
        raise IsADirectoryError(f"manifest {manifest} is not a file; expected {DESCRIPTION}")
    suffix = manifest.suffix.lower()
    if suffix not in DELIMITERS:
        raise ValueError(f"{manifest}: a manifest must be a .csv or .tsv file; expected {DESCRIPTION}")
    delimiter = DELIMITERS[suffix]
    folder = manifest.parent
    name = corpus_name(manifest)
    records: list[corpora.Record] = []
    skipped: list[corpora.Skipped] = []
    seen: dict[str, int] = {}  # real path -> line of the row that holds it
    line = 1
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as f:
            rows = csv.reader(f, delimiter=delimiter)
            header = next(rows, None)
            if header is None:
                raise ValueError(f"{manifest}: empty manifest; expected a header line with columns "
                                 f"{','.join(REQUIRED)}")
            columns = _columns(manifest, header, delimiter)
            extras = [c for c in columns if c and c not in REQUIRED + OPTIONAL]
            end = rows.line_num
            for row in rows:
                line, end = end + 1, rows.line_num  # a quoted field may span lines: report the first
                if not any(v.strip() for v in row):
                    continue
                try:
                    if len(row) != len(columns):
                        raise _BadRow(f"{len(row)} fields, the header has {len(columns)}")
                    values = {c: v.strip() for c, v in zip(columns, row, strict=True) if c}
                    rec = _record(values, folder, name, extras)
                    key = os.path.realpath(rec.path)
                    if key in seen:
                        raise _BadRow(f"duplicate of line {seen[key]}", rec.path)
                except _BadRow as e:
                    skipped.append(corpora.Skipped(e.path or str(manifest), f"line {line}: {e}"))
                    continue
                seen[key] = line
                records.append(rec)
    except UnicodeDecodeError as e:
        why = f"byte {e.start}: {e.reason}"
        raise ValueError(f"{manifest}: not UTF-8 text ({why}); save it as UTF-8") from None
    except csv.Error as e:
        raise ValueError(f"{manifest}: line {line}: not a readable {suffix[1:].upper()} file ({e})") from None
    if not records:
        if not skipped:
            raise ValueError(f"{manifest}: no rows below the header; expected one row per audio file")
        raise ValueError(f"{manifest}: no usable row ({len(skipped)} bad row{'s' * (len(skipped) != 1)}); "
                         f"first: {skipped[0].reason}")
    return corpora.Corpus(
        root=str(folder), source=str(manifest), reader=NAME, name=name,
        columns=corpora.column_types({"channel": str, **{c: str for c in extras}}),
        records=tuple(records), skipped=tuple(skipped),
    )


def _columns(manifest: Path, header: list[str], delimiter: str) -> list[str]:
    """The header's column names: required and optional ones lower-cased, unnamed ones "" (ignored)."""
    columns = []
    for raw in header:
        c = raw.strip()
        columns.append(c.lower() if c.lower() in REQUIRED + OPTIONAL + tuple(RESERVED) else c)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        other = "\t" if delimiter == "," else ","
        hint = ""
        if len(header) == 1 and other in header[0]:
            hint = (f" (its header is {SEPARATORS[other]}-separated, but a {manifest.suffix} file is read "
                    f"{SEPARATORS[delimiter]}-separated)")
        plural = "s" * (len(missing) > 1)
        raise ValueError(f"{manifest}: manifest lacks column{plural} {', '.join(missing)}{hint}; "
                         f"required columns: {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)}, and any "
                         f"others, kept as metadata)")
    reserved = [c for c in columns if c in RESERVED]
    if reserved:
        raise ValueError(f"{manifest}: column '{reserved[0]}' is reserved (every row's corpus is the "
                         f"manifest's name, {corpus_name(manifest)}); rename it")
    named = [c for c in columns if c]
    repeated = sorted({c for c in named if named.count(c) > 1})
    if repeated:
        raise ValueError(f"{manifest}: the header names {', '.join(repeated)} more than once; "
                         "name each column once")
    return columns


def _record(values: dict[str, str], folder: Path, name: str, extras: list[str]) -> corpora.Record:
    """One row's record; _BadRow saying what is wrong."""
    given = values["path"]
    if not given:
        raise _BadRow("empty path")
    full = os.path.normpath(os.path.join(folder, os.path.expanduser(given)))
    if not corpora.is_audio_name(full):
        raise _BadRow(f"not audio (extension '{Path(full).suffix or Path(full).name}')", full)
    if not os.path.exists(full):
        raise _BadRow(f"no such file {given}", full)
    if not os.path.isfile(full):
        raise _BadRow(f"{given} is not a file", full)
    try:
        emotion = corpora.canonical_emotion(values["emotion"])
    except ValueError as e:
        raise _BadRow(str(e), full) from None
    speaker = values["speaker"]
    if not speaker:
        raise _BadRow("empty speaker", full)
    gender = values.get("gender", "").lower()
    gender = GENDERS.get(gender, gender)
    channel = values.get("channel", "").lower() or "speech"
    if channel not in CHANNELS:
        raise _BadRow(f"channel '{values['channel']}' must be {' or '.join(CHANNELS)} (or empty: speech)",
                      full)
    return corpora.Record(
        path=full, corpus=name, speaker=f"{name}:{speaker}", emotion=emotion, gender=gender,
        extra=(("channel", channel), *((c, values[c]) for c in extras)),
    )
