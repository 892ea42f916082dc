"""Which rows train, validate and test: pure functions over metadata columns.

The protocols, from the most optimistic to the most honest:

- ``seed_leaky``: the original notebook's split, exactly (stratified 80/20 on emotion x
  channel, random_state 42). It had no validation set, so validation IS the test set and
  early stopping peeks at it; every report of such a run is flagged LEAKY.
- ``holdout``: the same test rows as ``seed_leaky``, with validation carved out of the
  training part, so the test set is touched once. Speakers still overlap across parts.
- ``speaker_kfold`` (alias ``actor_kfold``): k-fold over speakers (no speaker in two parts);
  with several corpora each fold holds out speakers of every corpus.
- ``speakers`` (alias ``actors``): explicit train / validation / test speaker lists.
- ``loso``: leave one speaker out; each speaker is the test set of one fold.
- ``emobox``: EmoBox's six RAVDESS speech folds (fixed test actors), so figures compare with its
  leaderboard; a fold whose test actors are missing from the data is skipped and reported.
- ``cross_corpus``: train and validate on the other corpora, test on every file of
  ``test_corpus``, over the emotions both sides have.

Rows are described by columns (``emotion``, ``speaker``; ``gender``, ``channel`` and ``corpus`` when
the data has them), never by a corpus' file names. Rows of channels not selected by
``SplitConfig.channels`` are never used by any part; neither are rows whose emotion is "".
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping, Sequence

import numpy as np

# Standardisation is fitted on a split's training rows; it lives in normalize.py and is
# re-exported here because callers reach for it together with the split.
from ser_jax.fields import setting
from ser_jax.normalize import fit_standardizer, standardize  # noqa: F401

PROTOCOLS = ("seed_leaky", "holdout", "speaker_kfold", "speakers", "loso", "emobox", "cross_corpus")
ALIASES = {"actor_kfold": "speaker_kfold", "actors": "speakers"}  # the names before corpora were plug-ins
CHANNEL_CHOICES = ("speech", "song", "both")
SPEAKER_INDEPENDENT = frozenset({"speaker_kfold", "speakers", "loso", "emobox", "cross_corpus"})
FOLDED = frozenset({"speaker_kfold", "loso", "emobox"})  # protocols with several folds
# EmoBox (Ma et al. 2024) RAVDESS speech folds: the test actors of each of its 6 folds.
EMOBOX_RAVDESS_FOLDS = ((1, 11, 20, 21), (4, 10, 12, 14), (8, 9, 19, 23), (3, 5, 7, 24), (2, 15, 16, 18),
                        (6, 13, 17, 22))


def _str_tuple(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",")]
    items = tuple(str(v).strip() for v in value if str(v).strip())
    if len(set(items)) != len(items):
        raise ValueError(f"SplitConfig.{name} lists a speaker twice: {list(items)}")
    return items


def _check_disjoint(parts: Mapping[str, Sequence[str]]) -> None:
    """ValueError naming two SplitConfig speaker lists that share a speaker."""
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            common = sorted(set(parts[a]) & set(parts[b]))
            if common:
                raise ValueError(f"SplitConfig.{a} and SplitConfig.{b} both name speaker(s) {_fmt(common)}; each "
                                 "speaker may be in one part only")


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """How to split; validated on construction so bad flags fail before any work."""

    protocol: str = setting(
        "holdout", "seed_leaky: the original (early stopping on the TEST set); holdout: same test split, validation "
        "carved from training; speaker_kfold: k-fold over speakers; speakers: explicit speaker lists; loso: leave one "
        "speaker out; emobox: EmoBox's RAVDESS folds; cross_corpus: test on every file of --test_corpus, train on the "
        "others. actor_kfold/actors: old names.", flag="split", choices=PROTOCOLS + tuple(ALIASES))
    channels: str = setting("both", "Which vocal channels to use (rows of other channels are never used).",
                            choices=CHANNEL_CHOICES)
    test_size: float = setting(0.2, "Test fraction (seed_leaky, holdout).")
    val_size: float = setting(0.1, "Validation fraction of the training part, stratified (holdout).")
    random_state: int = setting(42, "random_state of the stratified splits.", flag="split_seed")
    folds: int = setting(5, "Folds over speakers (speaker_kfold).")
    fold: int | None = setting(None, "Run one fold only (0-based; speaker_kfold, loso, emobox); default all.")
    val_speakers: int = setting(2, "Validation speakers per fold and corpus (speaker-independent protocols); never "
                                "test speakers.")
    train_speakers: tuple[str, ...] = setting((), "Training speakers (split=speakers), e.g. ravdess:01 or 1.")
    val_speaker_ids: tuple[str, ...] = setting((), "Validation speakers (split=speakers).")
    test_speakers: tuple[str, ...] = setting((), "Test speakers (split=speakers).")
    test_corpus: str = setting("", "split=cross_corpus: the corpus to test on (e.g. emodb, ravdess).")

    def __post_init__(self) -> None:
        object.__setattr__(self, "protocol", ALIASES.get(self.protocol, self.protocol))
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"SplitConfig.protocol is '{self.protocol}'; expected one of {', '.join(PROTOCOLS)}")
        if self.channels not in CHANNEL_CHOICES:
            raise ValueError(
                f"SplitConfig.channels is '{self.channels}'; expected one of {', '.join(CHANNEL_CHOICES)}"
            )
        for name in ("test_size", "val_size"):
            value = getattr(self, name)
            if not 0.0 < float(value) < 1.0:
                raise ValueError(f"SplitConfig.{name} is {value}; expected a fraction strictly between 0 and 1")
        if int(self.folds) < 2:
            raise ValueError(f"SplitConfig.folds is {self.folds}; speaker_kfold needs at least 2 folds")
        if self.fold is not None:
            if self.protocol not in FOLDED:
                raise ValueError(
                    f"SplitConfig.fold is {self.fold} but only protocols {', '.join(sorted(FOLDED))} have folds "
                    f"(protocol is '{self.protocol}'); leave fold unset"
                )
            limit = int(self.folds) if self.protocol == "speaker_kfold" else None
            if self.protocol == "emobox":
                limit = len(EMOBOX_RAVDESS_FOLDS)
            if int(self.fold) < 0 or (limit is not None and int(self.fold) >= limit):
                raise ValueError(
                    f"SplitConfig.fold is {self.fold}; expected 0 to {(limit or 1) - 1} (0-based) or None for "
                    "all folds"
                )
        if int(self.val_speakers) < 1:
            raise ValueError(
                f"SplitConfig.val_speakers is {self.val_speakers}; speaker-independent protocols need at least "
                "1 validation speaker"
            )
        lists = {}
        for name in ("train_speakers", "val_speaker_ids", "test_speakers"):
            lists[name] = _str_tuple(name, getattr(self, name))
            object.__setattr__(self, name, lists[name])  # accept lists (absl list flags) but store tuples
        given = [name for name, v in lists.items() if v]
        if self.protocol == "speakers":
            for name, v in lists.items():
                if not v:
                    raise ValueError(f"SplitConfig.{name} is empty; protocol 'speakers' needs train, "
                                     "validation and test speakers")
        elif given:
            raise ValueError(
                f"SplitConfig.{given[0]} is set but only protocol 'speakers' uses it (protocol is "
                f"'{self.protocol}'); use protocol='speakers' or leave the speaker lists empty"
            )
        _check_disjoint(lists)
        if self.protocol == "cross_corpus" and not self.test_corpus:
            raise ValueError("SplitConfig.test_corpus is empty; protocol 'cross_corpus' needs the corpus to test "
                             "on (e.g. --test_corpus=emodb)")
        if self.test_corpus and self.protocol != "cross_corpus":
            raise ValueError(f"SplitConfig.test_corpus is '{self.test_corpus}' but only protocol 'cross_corpus' "
                             f"uses it (protocol is '{self.protocol}')")


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
    """One train/val/test partition as sorted row indices into the full metadata arrays."""

    name: str  # e.g. "holdout", "speaker_kfold/fold_2"
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    leaky: bool  # True only for seed_leaky: val IS test (early stopping on the test set)
    fold: int | None
    description: str  # one line for reports
    skipped_folds: tuple[str, ...] = ()  # folds of the protocol the data cannot form, and why

    def to_dict(self, include_indices: bool = False) -> dict:
        """JSON-ready summary, for config.json / metrics.json (indices only on request)."""
        out: dict[str, Any] = {
            "name": self.name,
            "fold": self.fold,
            "leaky": self.leaky,
            "description": self.description,
            "sizes": {"train": int(len(self.train)), "val": int(len(self.val)), "test": int(len(self.test))},
        }
        if self.skipped_folds:
            out["skipped_folds"] = list(self.skipped_folds)
        if include_indices:
            out["indices"] = {k: getattr(self, k).tolist() for k in ("train", "val", "test")}
        return out


# --------------------------------------------------------------------------------------------
# Metadata


def _check_metadata(meta: Mapping[str, Sequence]) -> dict[str, np.ndarray]:
    missing = [c for c in ("emotion", "speaker") if c not in meta]
    if missing:
        raise ValueError(f"make_splits: metadata lacks column(s) {missing}; every corpus reader gives emotion "
                         "and speaker")
    cols = {k: np.asarray(v) for k, v in meta.items()}
    lengths = {k: len(v) for k, v in cols.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"make_splits: metadata columns differ in length: {lengths}; pass one entry per row")
    cols["speaker"] = cols["speaker"].astype(str)
    if "channel" in cols:
        unknown = sorted(set(cols["channel"].tolist()) - {"speech", "song", ""})
        if unknown:
            raise ValueError(f"make_splits: channel holds {unknown}; expected only 'speech' and 'song'")
    return cols


def _selected_rows(cfg: SplitConfig, meta: dict[str, np.ndarray]) -> np.ndarray:
    keep = meta["emotion"].astype(str) != ""
    if cfg.channels != "both":
        if "channel" not in meta:
            raise ValueError(f"SplitConfig.channels is '{cfg.channels}' but the data has no channel column; "
                             "use channels='both'")
        keep &= meta["channel"] == cfg.channels
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        what = f"{cfg.channels} rows" if cfg.channels != "both" else "rows with an emotion"
        raise ValueError(f"SplitConfig.channels is '{cfg.channels}' but the data has no {what}")
    return rows


def _strata(meta: dict[str, np.ndarray]) -> np.ndarray:
    """The stratification key: emotion x vocal channel (the seed's), x corpus when there are several."""
    emotions = meta["emotion"].tolist()
    channels = meta["channel"].tolist() if "channel" in meta else None
    corpus = meta["corpus"].tolist() if "corpus" in meta and len(set(meta["corpus"].tolist())) > 1 else None
    if channels is None:
        key = [str(e) for e in emotions]
    else:
        key = [f"{e}_{c}" for e, c in zip(emotions, channels)]
    if corpus is not None:
        key = [f"{k}_{c}" for k, c in zip(key, corpus)]
    return np.array(key)


def _stratified(rows: np.ndarray, key: np.ndarray, size: float, random_state: int, what: str):
    from sklearn.model_selection import train_test_split  # here: importing scikit-learn takes ~2 s

    try:
        a, b = train_test_split(rows, test_size=size, random_state=random_state, stratify=key)
    except ValueError as e:
        raise ValueError(
            f"{what}: stratified split on emotion x channel impossible ({e}); need at least 2 rows per "
            "emotion x channel and enough rows for every stratum, or use protocol 'speaker_kfold'"
        ) from None
    return np.sort(a).astype(np.int64), np.sort(b).astype(np.int64)


def _channel_note(cfg: SplitConfig) -> str:
    return "" if cfg.channels == "both" else f", {cfg.channels} only"


# --------------------------------------------------------------------------------------------
# Speakers shared across parts (the seed's protocols)


def _seed_test(cfg: SplitConfig, rows, key) -> tuple[np.ndarray, np.ndarray]:
    return _stratified(rows, key[rows], cfg.test_size, cfg.random_state, f"SplitConfig.test_size={cfg.test_size}")


def _seed_leaky(cfg: SplitConfig, rows, key) -> list[Split]:
    train, test = _seed_test(cfg, rows, key)
    pct = round(cfg.test_size * 100)
    desc = (
        f"LEAKY seed split: stratified {100 - pct}/{pct} on emotion x channel (random_state "
        f"{cfg.random_state}{_channel_note(cfg)}); validation = test set (early stopping on the test set)"
    )
    return [Split("seed_leaky", train, test.copy(), test, True, None, desc)]


def _holdout(cfg: SplitConfig, rows, key) -> list[Split]:
    rest, test = _seed_test(cfg, rows, key)
    train, val = _stratified(rest, key[rest], cfg.val_size, cfg.random_state, f"SplitConfig.val_size={cfg.val_size}")
    desc = (
        f"holdout: the seed's stratified {round(cfg.test_size * 100)}% test set, validation "
        f"{round(cfg.val_size * 100)}% of the rest (stratified, random_state {cfg.random_state}"
        f"{_channel_note(cfg)}); speakers overlap across parts"
    )
    return [Split("holdout", train, val, test, False, None, desc)]


# --------------------------------------------------------------------------------------------
# Speaker-independent protocols


def _fmt(ids) -> str:
    return ",".join(sorted((str(a) for a in ids), key=natural_key))


def natural_key(speaker: str) -> tuple:
    """Sort key that orders digit runs by value: spk2 before spk10 (RAVDESS' zero-padded ids sort as text)."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(speaker)))


def _pick_val(order: Sequence[str], gender: Mapping[str, str], n: int) -> tuple[str, ...]:
    """The first n speakers of order, equal numbers of each gender when n is even and genders are known."""
    if n % 2 == 0:
        half = n // 2
        chosen = [a for a in order if gender.get(a) == "male"][:half]
        chosen += [a for a in order if gender.get(a) == "female"][:half]
        chosen += [a for a in order if a not in chosen][: n - len(chosen)]
    else:
        chosen = list(order[:n])
    return tuple(sorted(chosen))


def speaker_folds(speakers, gender: Mapping[str, str], folds: int, val_speakers: int
                  ) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(test speakers, val speakers) per fold: contiguous groups of the sorted ids, val from what follows.

    Contiguous groups keep genders balanced on RAVDESS (odd actors male, even female). Validation
    speakers are the first ones after the test group (cycling), taking equal numbers of each gender
    when ``val_speakers`` is even, so a gap in the ids (actor 18 has no song) does not make a
    one-gender validation set.
    """
    ids = sorted((str(a) for a in set(speakers)), key=natural_key)
    groups = [list(g) for g in np.array_split(np.array(ids, dtype=object), folds)]
    if len(ids) < folds or len(ids) - max(len(g) for g in groups) - val_speakers < 1:
        raise ValueError(
            f"speaker folds: {len(ids)} speakers ({_fmt(ids)}) are too few for SplitConfig.folds={folds} "
            f"with SplitConfig.val_speakers={val_speakers}: every fold needs test, validation and training "
            "speakers; lower folds or val_speakers"
        )
    out = []
    start = 0
    for group in groups:
        end = start + len(group)
        order = ids[end:] + ids[:start]  # the speakers after this group, cycling
        out.append((tuple(str(g) for g in group), _pick_val(order, gender, val_speakers)))
        start = end
    return out


def _gender_of(meta: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, str]:
    if "gender" not in meta:
        return {}
    return {str(s): str(g) for s, g in zip(meta["speaker"][rows].tolist(), meta["gender"][rows].tolist())}


def _by_corpus(meta: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """Rows per corpus (one group when there is no corpus column), in sorted corpus order."""
    if "corpus" not in meta:
        return {"": rows}
    corpus = meta["corpus"][rows]
    return {str(c): rows[corpus == c] for c in sorted(set(corpus.tolist()))}


def _split_by_speakers(name: str, fold: int | None, rows: np.ndarray, speakers: np.ndarray, test_ids, val_ids,
                       desc: str, skipped: tuple[str, ...] = ()) -> Split:
    test = rows[np.isin(speakers, list(test_ids))]
    val = rows[np.isin(speakers, list(val_ids))]
    train = rows[~np.isin(speakers, list(test_ids) + list(val_ids))]
    n_train = len(set(speakers[np.isin(rows, train)].tolist()))
    desc = f"{desc}; test speakers {_fmt(test_ids)}; val speakers {_fmt(val_ids)}; {n_train} train speakers"
    return Split(name, train, val, test, False, fold, desc, skipped)


def _speaker_kfold(cfg: SplitConfig, meta, rows) -> list[Split]:
    gender = _gender_of(meta, rows)
    plans = [speaker_folds(meta["speaker"][r], gender, cfg.folds, cfg.val_speakers)
             for r in _by_corpus(meta, rows).values()]
    speakers = meta["speaker"][rows]
    wanted = range(cfg.folds) if cfg.fold is None else [cfg.fold]
    out = []
    for k in wanted:
        test_ids = [s for plan in plans for s in plan[k][0]]
        val_ids = [s for plan in plans for s in plan[k][1]]
        desc = f"speaker-independent fold_{k} of {cfg.folds}{_channel_note(cfg)}"
        out.append(_split_by_speakers(f"speaker_kfold/fold_{k}", k, rows, speakers, test_ids, val_ids, desc))
    return out


def _loso(cfg: SplitConfig, meta, rows) -> list[Split]:
    gender = _gender_of(meta, rows)
    plan = []
    for r in _by_corpus(meta, rows).values():
        ids = sorted(set(meta["speaker"][r].tolist()), key=natural_key)
        plan += speaker_folds(ids, gender, len(ids), cfg.val_speakers)
    if cfg.fold is not None and cfg.fold >= len(plan):
        raise ValueError(f"SplitConfig.fold is {cfg.fold} but loso has {len(plan)} folds (one per speaker)")
    speakers = meta["speaker"][rows]
    out = []
    for k in range(len(plan)) if cfg.fold is None else [cfg.fold]:
        test_ids, val_ids = plan[k]
        desc = f"leave-one-speaker-out fold_{k} of {len(plan)}{_channel_note(cfg)}"
        out.append(_split_by_speakers(f"loso/fold_{k}", k, rows, speakers, test_ids, val_ids, desc))
    return out


def _emobox(cfg: SplitConfig, meta, rows) -> list[Split]:
    if cfg.channels == "song":
        raise ValueError("protocol 'emobox' uses EmoBox's RAVDESS speech folds; use channels 'speech' (or 'both', "
                         "which emobox reads as speech)")
    if "corpus" in meta:
        rows = rows[meta["corpus"][rows] == "ravdess"]
    if "channel" in meta:
        rows = rows[meta["channel"][rows] == "speech"]  # EmoBox's RAVDESS task is speech only
    speakers = meta["speaker"][rows]
    present = sorted(set(speakers.tolist()))
    if not any(s.startswith("ravdess:") for s in present):
        raise ValueError("protocol 'emobox' uses EmoBox's RAVDESS folds, but the data has no RAVDESS speakers")
    gender = _gender_of(meta, rows)
    plan, skipped = {}, []
    for k, actors in enumerate(EMOBOX_RAVDESS_FOLDS):
        test_ids = [f"ravdess:{a:02d}" for a in actors]
        missing = [s for s in test_ids if s not in present]
        if missing:
            skipped.append(f"fold_{k}: test actors {_fmt(missing)} are not in the data")
            continue
        others = [s for s in present if s not in test_ids]
        last = max(test_ids)
        order = [s for s in others if s > last] + [s for s in others if s < last]  # after the group, cycling
        val_ids = _pick_val(order, gender, cfg.val_speakers)
        if len(others) - len(val_ids) < 1:
            skipped.append(f"fold_{k}: no training actors left after {len(val_ids)} validation actors")
            continue
        plan[k] = (test_ids, val_ids)
    if not plan:
        raise ValueError(f"protocol 'emobox': the data can form none of EmoBox's 6 RAVDESS folds "
                         f"({'; '.join(skipped)})")
    if cfg.fold is not None and cfg.fold not in plan:
        raise ValueError(f"SplitConfig.fold is {cfg.fold} but EmoBox fold_{cfg.fold} cannot be formed: "
                         + "; ".join(s for s in skipped if s.startswith(f"fold_{cfg.fold}:")))
    out = []
    for k in sorted(plan) if cfg.fold is None else [cfg.fold]:
        test_ids, val_ids = plan[k]
        desc = f"EmoBox RAVDESS fold_{k} of 6{_channel_note(cfg)}"
        out.append(_split_by_speakers(f"emobox/fold_{k}", k, rows, speakers, test_ids, val_ids, desc, tuple(skipped)))
    return out


def _cross_corpus(cfg: SplitConfig, meta, rows) -> list[Split]:
    if "corpus" not in meta:
        raise ValueError("protocol 'cross_corpus' needs a corpus column; give two corpora (--data_dir=A,B)")
    corpus = meta["corpus"][rows]
    names = sorted(set(corpus.tolist()))
    if cfg.test_corpus not in names:
        raise ValueError(f"SplitConfig.test_corpus is '{cfg.test_corpus}' but the data holds corpora "
                         f"{', '.join(names)}")
    if len(names) < 2:
        raise ValueError(f"protocol 'cross_corpus' needs a corpus to train on besides '{cfg.test_corpus}'; "
                         "give two corpora (--data_dir=A,B)")
    test_rows, train_rows = rows[corpus == cfg.test_corpus], rows[corpus != cfg.test_corpus]
    emotion = meta["emotion"].astype(str)
    on_test, on_train = set(emotion[test_rows].tolist()), set(emotion[train_rows].tolist())
    shared = sorted(on_test & on_train)
    if not shared:
        raise ValueError(f"protocol 'cross_corpus': '{cfg.test_corpus}' shares no emotion with the training "
                         f"corpora (test: {_fmt(on_test)}; train: {_fmt(on_train)})")
    test_rows = test_rows[np.isin(emotion[test_rows], shared)]
    train_rows = train_rows[np.isin(emotion[train_rows], shared)]
    gender = _gender_of(meta, train_rows)
    val_ids: list[str] = []
    for r in _by_corpus(meta, train_rows).values():
        ids = sorted(set(meta["speaker"][r].tolist()), key=natural_key)
        n = min(cfg.val_speakers, len(ids) - 1)
        if n < 1:
            raise ValueError(f"protocol 'cross_corpus': corpus {meta['corpus'][r[0]]} has {len(ids)} speaker(s); "
                             "at least 2 are needed (validation and training)")
        val_ids += _pick_val(ids, gender, n)
    speakers = meta["speaker"]
    val = train_rows[np.isin(speakers[train_rows], val_ids)]
    train = train_rows[~np.isin(speakers[train_rows], val_ids)]
    train_names = [n for n in names if n != cfg.test_corpus]
    left_out = [f"{e} (train only)" for e in sorted(on_train - on_test)]
    left_out += [f"{e} (test only)" for e in sorted(on_test - on_train)]
    desc = (f"cross-corpus: train on {'+'.join(train_names)} ({len(set(speakers[train].tolist()))} speakers), "
            f"validate on speakers {_fmt(val_ids)}, test on every file of {cfg.test_corpus}{_channel_note(cfg)}; "
            f"shared emotions: {', '.join(shared)}"
            + (f"; left out: {', '.join(left_out)}" if left_out else ""))
    return [Split(f"cross_corpus/{cfg.test_corpus}", np.sort(train), np.sort(val), np.sort(test_rows), False, None,
                  desc)]


def _resolve(ids: Sequence[str], present: Sequence[str], field: str, cfg: SplitConfig) -> list[str]:
    """Speaker ids as given ('ravdess:07', '07' or '7') -> the namespaced ids of the data."""
    out = []
    for given in ids:
        if given in present:
            out.append(given)
            continue
        local = [s for s in present if s.split(":", 1)[-1] == given
                 or (given.isdigit() and s.split(":", 1)[-1].isdigit() and int(s.split(":", 1)[-1]) == int(given))]
        if len(local) > 1:
            raise ValueError(f"SplitConfig.{field}: speaker '{given}' is ambiguous ({_fmt(local)}); give it with its "
                             "corpus, e.g. ravdess:07")
        if not local:
            raise ValueError(f"SplitConfig.{field}: speaker '{given}' has no rows in the data "
                             f"(channels={cfg.channels}); speakers present: {_fmt(present)}")
        out.append(local[0])
    return out


def _explicit_speakers(cfg: SplitConfig, meta, rows) -> list[Split]:
    speakers = meta["speaker"][rows]
    present = sorted(set(speakers.tolist()))
    parts = {name: _resolve(getattr(cfg, name), present, name, cfg)
             for name in ("train_speakers", "val_speaker_ids", "test_speakers")}
    _check_disjoint(parts)  # again: "7" and "ravdess:07" differ as given but are one speaker once resolved
    idx = {name: rows[np.isin(speakers, ids)] for name, ids in parts.items()}
    desc = (f"speaker-independent explicit speakers{_channel_note(cfg)}: test speakers {_fmt(parts['test_speakers'])}; "
            f"val speakers {_fmt(parts['val_speaker_ids'])}; train speakers {_fmt(parts['train_speakers'])}")
    return [Split("speakers", idx["train_speakers"], idx["val_speaker_ids"], idx["test_speakers"], False, None, desc)]


def make_splits(cfg: SplitConfig, meta: Mapping[str, Sequence]) -> list[Split]:
    """The splits the protocol defines (one, or one per fold) over the full metadata columns.

    ``meta`` maps column names to one value per row: ``emotion`` and ``speaker`` always;
    ``gender``, ``channel`` and ``corpus`` when the data has them. Returned indices point into these
    columns, are sorted, and never include rows of an unselected channel or without an emotion.
    """
    meta = _check_metadata(meta)
    rows = _selected_rows(cfg, meta)
    if cfg.protocol in ("seed_leaky", "holdout"):
        key = _strata(meta)
        return _seed_leaky(cfg, rows, key) if cfg.protocol == "seed_leaky" else _holdout(cfg, rows, key)
    protocol = {"speaker_kfold": _speaker_kfold, "loso": _loso, "emobox": _emobox, "cross_corpus": _cross_corpus,
                "speakers": _explicit_speakers}[cfg.protocol]
    return protocol(cfg, meta, rows)
