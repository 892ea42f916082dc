"""Which rows train, validate and test: pure functions over metadata arrays.

Four protocols, from the most optimistic to the most honest:

- ``seed_leaky``: the original notebook's split, exactly (stratified 80/20 on emotion x
  channel, random_state 42). It had no validation set, so validation IS the test set and
  early stopping peeks at it; every report of such a run is flagged LEAKY.
- ``holdout``: the same test rows as ``seed_leaky``, with validation carved out of the
  training part, so the test set is touched once. Speakers still overlap across parts.
- ``actor_kfold``: speaker-independent k-fold over actors (no actor in two parts).
- ``actors``: explicit train / validation / test actor lists.

Rows of channels not selected by ``SplitConfig.channels`` are never used by any part.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

# Standardisation is fitted on a split's training rows; it lives in normalize.py and is
# re-exported here because callers reach for it together with the split.
from ser_jax.normalize import fit_standardizer, standardize  # noqa: F401

PROTOCOLS = ("seed_leaky", "holdout", "actor_kfold", "actors")
CHANNEL_CHOICES = ("speech", "song", "both")
SPEAKER_INDEPENDENT = frozenset({"actor_kfold", "actors"})


def _int_tuple(name: str, value: Any) -> tuple[int, ...]:
    try:
        items = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"SplitConfig.{name} must be a list of actor ids (integers), got {value!r}") from None
    if len(set(items)) != len(items):
        raise ValueError(f"SplitConfig.{name} lists an actor twice: {list(items)}")
    return items


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """How to split; validated on construction so bad flags fail before any work."""

    protocol: str = "holdout"
    channels: str = "both"  # "speech" | "song" | "both": rows of other channels are never used
    test_size: float = 0.2  # seed_leaky / holdout
    val_size: float = 0.1  # holdout: fraction of the training part, stratified
    random_state: int = 42
    folds: int = 5  # actor_kfold
    fold: int | None = None  # actor_kfold: one fold (0-based) or None = all folds
    val_actors: int = 2  # actor_kfold: validation actors per fold, distinct from test and train
    train_actors: tuple[int, ...] = ()  # "actors" protocol: explicit lists
    val_actors_list: tuple[int, ...] = ()
    test_actors: tuple[int, ...] = ()

    def __post_init__(self) -> None:
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
            raise ValueError(f"SplitConfig.folds is {self.folds}; actor_kfold needs at least 2 folds")
        if self.fold is not None:
            if self.protocol != "actor_kfold":
                raise ValueError(
                    f"SplitConfig.fold is {self.fold} but only protocol 'actor_kfold' uses it "
                    f"(protocol is '{self.protocol}'); leave fold unset"
                )
            if not 0 <= int(self.fold) < int(self.folds):
                raise ValueError(
                    f"SplitConfig.fold is {self.fold}; expected 0 to {int(self.folds) - 1} (0-based, "
                    f"folds={self.folds}) or None for all folds"
                )
        if int(self.val_actors) < 1:
            raise ValueError(
                f"SplitConfig.val_actors is {self.val_actors}; actor_kfold needs at least 1 validation actor"
            )
        lists = {}
        for name in ("train_actors", "val_actors_list", "test_actors"):
            lists[name] = _int_tuple(name, getattr(self, name))
            object.__setattr__(self, name, lists[name])  # accept lists (absl multi flags) but store tuples
        given = [name for name, v in lists.items() if v]
        if self.protocol == "actors":
            for name, v in lists.items():
                if not v:
                    raise ValueError(
                        f"SplitConfig.{name} is empty; protocol 'actors' needs train, validation and test actors"
                    )
        elif given:
            raise ValueError(
                f"SplitConfig.{given[0]} is set but only protocol 'actors' uses it (protocol is "
                f"'{self.protocol}'); use protocol='actors' or leave the actor lists empty"
            )
        names = list(lists)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                common = sorted(set(lists[a]) & set(lists[b]))
                if common:
                    raise ValueError(
                        f"SplitConfig.{a} and SplitConfig.{b} share actors {common}; each actor may be in one part only"
                    )


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
    """One train/val/test partition as sorted row indices into the full metadata arrays."""

    name: str  # e.g. "holdout", "actor_kfold/fold_2"
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    leaky: bool  # True only for seed_leaky: val IS test (early stopping on the test set)
    fold: int | None
    description: str  # one line for reports

    def to_dict(self, include_indices: bool = False) -> dict:
        """JSON-ready summary, for config.json / metrics.json (indices only on request)."""
        out: dict[str, Any] = {
            "name": self.name,
            "fold": self.fold,
            "leaky": self.leaky,
            "description": self.description,
            "sizes": {"train": int(len(self.train)), "val": int(len(self.val)), "test": int(len(self.test))},
        }
        if include_indices:
            out["indices"] = {k: getattr(self, k).tolist() for k in ("train", "val", "test")}
        return out


def _check_metadata(emotions: np.ndarray, channels: np.ndarray, actors: np.ndarray) -> tuple[np.ndarray, ...]:
    emotions, channels, actors = np.asarray(emotions), np.asarray(channels), np.asarray(actors)
    lengths = {"emotions": len(emotions), "channels": len(channels), "actors": len(actors)}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"make_splits: metadata arrays differ in length: {lengths}; pass one entry per row")
    unknown = sorted(set(channels.tolist()) - {"speech", "song"})
    if unknown:
        raise ValueError(f"make_splits: channels holds {unknown}; expected only 'speech' and 'song'")
    if not np.issubdtype(actors.dtype, np.integer):
        raise ValueError(f"make_splits: actors must be integer ids, got dtype {actors.dtype}")
    return emotions, channels, actors


def _selected_rows(cfg: SplitConfig, channels: np.ndarray) -> np.ndarray:
    if cfg.channels == "both":
        rows = np.arange(len(channels))
    else:
        rows = np.flatnonzero(channels == cfg.channels)
    if len(rows) == 0:
        raise ValueError(f"SplitConfig.channels is '{cfg.channels}' but the data has no {cfg.channels} rows")
    return rows


def _strata(emotions: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """The seed's stratification key: emotion x vocal channel."""
    return np.array([f"{e}_{c}" for e, c in zip(emotions.tolist(), channels.tolist())])


def _stratified(rows: np.ndarray, key: np.ndarray, size: float, random_state: int, what: str):
    try:
        a, b = train_test_split(rows, test_size=size, random_state=random_state, stratify=key)
    except ValueError as e:
        raise ValueError(
            f"{what}: stratified split on emotion x channel impossible ({e}); need at least 2 rows per "
            "emotion x channel and enough rows for every stratum, or use protocol 'actor_kfold'"
        ) from None
    return np.sort(a).astype(np.int64), np.sort(b).astype(np.int64)


def _channel_note(cfg: SplitConfig) -> str:
    return "" if cfg.channels == "both" else f", {cfg.channels} only"


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


def _fmt_actors(ids) -> str:
    return ",".join(str(int(a)) for a in sorted(ids))


def actor_folds(actor_ids, folds: int, val_actors: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(test actors, val actors) per fold: contiguous groups of the sorted ids, val from what follows.

    Contiguous groups keep genders balanced because RAVDESS numbers odd=male, even=female.
    Validation actors are the first ones after the test group (cycling), taking equal numbers of
    each gender when ``val_actors`` is even, so a gap in the ids (actor 18 has no song) does not
    make a one-gender validation set.
    """
    ids = sorted(int(a) for a in set(actor_ids))
    groups = [list(map(int, g)) for g in np.array_split(np.array(ids, dtype=np.int64), folds)]
    if len(ids) < folds or len(ids) - max(len(g) for g in groups) - val_actors < 1:
        raise ValueError(
            f"actor_kfold: {len(ids)} actors ({_fmt_actors(ids)}) are too few for SplitConfig.folds={folds} "
            f"with SplitConfig.val_actors={val_actors}: every fold needs test, validation and training actors; "
            "lower folds or val_actors"
        )
    out = []
    start = 0
    for group in groups:
        end = start + len(group)
        order = ids[end:] + ids[:start]  # the actors after this group, cycling
        if val_actors % 2 == 0:
            males = [a for a in order if a % 2 == 1]
            females = [a for a in order if a % 2 == 0]
            half = val_actors // 2
            chosen = males[:half] + females[:half]
            chosen += [a for a in order if a not in chosen][: val_actors - len(chosen)]
        else:
            chosen = order[:val_actors]
        out.append((tuple(group), tuple(sorted(chosen))))
        start = end
    return out


def _actor_kfold(cfg: SplitConfig, rows, actors) -> list[Split]:
    row_actors = actors[rows]
    plan = actor_folds(row_actors, cfg.folds, cfg.val_actors)
    wanted = range(cfg.folds) if cfg.fold is None else [cfg.fold]
    out = []
    for k in wanted:
        test_ids, val_ids = plan[k]
        test = rows[np.isin(row_actors, test_ids)]
        val = rows[np.isin(row_actors, val_ids)]
        train = rows[~np.isin(row_actors, test_ids + val_ids)]
        n_train_actors = len(set(actors[train].tolist()))
        desc = (
            f"speaker-independent fold_{k} of {cfg.folds}{_channel_note(cfg)}: test actors "
            f"{_fmt_actors(test_ids)}; val actors {_fmt_actors(val_ids)}; {n_train_actors} train actors"
        )
        out.append(Split(f"actor_kfold/fold_{k}", train, val, test, False, k, desc))
    return out


def _explicit_actors(cfg: SplitConfig, rows, actors) -> list[Split]:
    row_actors = actors[rows]
    present = set(row_actors.tolist())
    parts = {}
    for name in ("train_actors", "val_actors_list", "test_actors"):
        ids = getattr(cfg, name)
        missing = sorted(set(ids) - present)
        if missing:
            raise ValueError(
                f"SplitConfig.{name}: actors {missing} have no rows in the data "
                f"(channels={cfg.channels}); actors present: {_fmt_actors(present)}"
            )
        parts[name] = rows[np.isin(row_actors, ids)]
    desc = (
        f"speaker-independent explicit actors{_channel_note(cfg)}: test actors {_fmt_actors(cfg.test_actors)}; "
        f"val actors {_fmt_actors(cfg.val_actors_list)}; train actors {_fmt_actors(cfg.train_actors)}"
    )
    return [
        Split("actors", parts["train_actors"], parts["val_actors_list"], parts["test_actors"], False, None, desc)
    ]


def make_splits(cfg: SplitConfig, emotions: np.ndarray, channels: np.ndarray, actors: np.ndarray) -> list[Split]:
    """The splits the protocol defines (one, or one per fold) over the full metadata arrays.

    ``emotions`` may be names or codes; ``channels`` holds "speech"/"song"; ``actors`` integer ids.
    Returned indices point into these arrays, are sorted, and never include rows of an
    unselected channel.
    """
    emotions, channels, actors = _check_metadata(emotions, channels, actors)
    rows = _selected_rows(cfg, channels)
    if cfg.protocol in ("seed_leaky", "holdout"):
        key = _strata(emotions, channels)
        return _seed_leaky(cfg, rows, key) if cfg.protocol == "seed_leaky" else _holdout(cfg, rows, key)
    actors = actors.astype(np.int64)
    if cfg.protocol == "actor_kfold":
        return _actor_kfold(cfg, rows, actors)
    return _explicit_actors(cfg, rows, actors)
