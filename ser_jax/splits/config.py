"""How to split, validated: :class:`SplitConfig` (the protocol and its settings) and :class:`Split`.

A SplitConfig is checked on construction, so a bad flag fails before any data is read; a Split is
what a protocol returns: train / validation / test row indices and a one-line description for
reports. The protocols themselves live in ``stratified`` and ``speakers``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping, Sequence

import numpy as np

from ser_jax.fields import setting

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


def check_disjoint(parts: Mapping[str, Sequence[str]]) -> None:
    """ValueError naming two SplitConfig speaker lists that share a speaker."""
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            common = sorted(set(parts[a]) & set(parts[b]))
            if common:
                raise ValueError(f"SplitConfig.{a} and SplitConfig.{b} both name speaker(s) {format_ids(common)}; "
                                 "each speaker may be in one part only")


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
    split_seed: int = setting(42, "random_state of the stratified splits (the notebook's: 42).")
    folds: int = setting(5, "Folds over speakers (speaker_kfold).")
    fold: int | None = setting(None, "Run one fold only (0-based; speaker_kfold, loso, emobox); default all.")
    val_speakers: int = setting(2, "Validation speakers per fold and corpus (speaker-independent protocols); never "
                                "test speakers.")
    train_speakers: tuple[str, ...] = setting((), "Training speakers (split=speakers), e.g. ravdess:01 or 1.")
    val_speaker_ids: tuple[str, ...] = setting((), "Validation speakers (split=speakers).")
    test_speakers: tuple[str, ...] = setting((), "Test speakers (split=speakers).")
    test_corpus: str = setting("", "split=cross_corpus: the corpus to test on (e.g. emodb, ravdess).")
    # More training data from other corpora under any protocol: their rows are in every split's
    # training part, never in validation or test (so the protocol's figures stay about its own corpora).
    train_corpora: tuple[str, ...] = setting((), "Corpora (names, e.g. tess,savee) whose clips only train: added to "
                                             "every split's training part, never validated or tested on; the "
                                             "protocol splits the other corpora as usual.")

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
        check_disjoint(lists)
        object.__setattr__(self, "train_corpora", _str_tuple("train_corpora", self.train_corpora))
        if self.test_corpus and self.test_corpus in self.train_corpora:
            raise ValueError(f"SplitConfig.train_corpora names the test corpus '{self.test_corpus}'; a corpus is "
                             "either tested on or trained on")
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
    # The emotions test predictions choose among (cross_corpus: those the test corpus shares with
    # training; the model still learns every training emotion); empty = every class.
    scored_emotions: tuple[str, ...] = ()

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
        if self.scored_emotions:
            out["scored_emotions"] = list(self.scored_emotions)
        if include_indices:
            out["indices"] = {k: getattr(self, k).tolist() for k in ("train", "val", "test")}
        return out


def format_ids(ids) -> str:
    return ",".join(sorted((str(a) for a in ids), key=natural_key))


def natural_key(speaker: str) -> tuple:
    """Sort key that orders digit runs by value: spk2 before spk10 (RAVDESS' zero-padded ids sort as text)."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(speaker)))
