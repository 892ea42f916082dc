"""The speaker-independent protocols: no speaker is in two parts of a split.

``speaker_kfold`` (contiguous groups of speakers per corpus), ``loso`` (one speaker per fold),
``emobox`` (EmoBox's fixed RAVDESS speech folds), ``speakers`` (explicit lists) and
``cross_corpus`` (test on a whole corpus). Validation speakers are never test speakers, and are
balanced by gender where the data says it.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ser_jax.corpora import ravdess  # emobox's folds are RAVDESS actors: its corpus name, from its reader
from ser_jax.splits.config import EMOBOX_RAVDESS_FOLDS, Split, SplitConfig, check_disjoint, format_ids, natural_key
from ser_jax.splits.metadata import by_corpus, channel_note, gender_of


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
            f"speaker folds: {len(ids)} speakers ({format_ids(ids)}) are too few for SplitConfig.folds={folds} "
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


def _split_by_speakers(name: str, fold: int | None, rows: np.ndarray, speakers: np.ndarray, test_ids, val_ids,
                       desc: str, skipped: tuple[str, ...] = ()) -> Split:
    test = rows[np.isin(speakers, list(test_ids))]
    val = rows[np.isin(speakers, list(val_ids))]
    train = rows[~np.isin(speakers, list(test_ids) + list(val_ids))]
    n_train = len(set(speakers[np.isin(rows, train)].tolist()))
    desc = f"{desc}; test speakers {format_ids(test_ids)}; val speakers {format_ids(val_ids)}; {n_train} train speakers"
    return Split(name, train, val, test, False, fold, desc, skipped)


def speaker_kfold(cfg: SplitConfig, meta, rows) -> list[Split]:
    gender = gender_of(meta, rows)
    plans = [speaker_folds(meta["speaker"][r], gender, cfg.folds, cfg.val_speakers)
             for r in by_corpus(meta, rows).values()]
    speakers = meta["speaker"][rows]
    wanted = range(cfg.folds) if cfg.fold is None else [cfg.fold]
    out = []
    for k in wanted:
        test_ids = [s for plan in plans for s in plan[k][0]]
        val_ids = [s for plan in plans for s in plan[k][1]]
        desc = f"speaker-independent fold_{k} of {cfg.folds}{channel_note(cfg)}"
        out.append(_split_by_speakers(f"speaker_kfold/fold_{k}", k, rows, speakers, test_ids, val_ids, desc))
    return out


def loso(cfg: SplitConfig, meta, rows) -> list[Split]:
    gender = gender_of(meta, rows)
    plan = []
    for r in by_corpus(meta, rows).values():
        ids = sorted(set(meta["speaker"][r].tolist()), key=natural_key)
        plan += speaker_folds(ids, gender, len(ids), cfg.val_speakers)
    if cfg.fold is not None and cfg.fold >= len(plan):
        raise ValueError(f"SplitConfig.fold is {cfg.fold} but loso has {len(plan)} folds (one per speaker)")
    speakers = meta["speaker"][rows]
    out = []
    for k in range(len(plan)) if cfg.fold is None else [cfg.fold]:
        test_ids, val_ids = plan[k]
        desc = f"leave-one-speaker-out fold_{k} of {len(plan)}{channel_note(cfg)}"
        out.append(_split_by_speakers(f"loso/fold_{k}", k, rows, speakers, test_ids, val_ids, desc))
    return out


def emobox(cfg: SplitConfig, meta, rows) -> list[Split]:
    if cfg.channels == "song":
        raise ValueError("protocol 'emobox' uses EmoBox's RAVDESS speech folds; use channels 'speech' (or 'both', "
                         "which emobox reads as speech)")
    if "corpus" in meta:
        rows = rows[meta["corpus"][rows] == ravdess.NAME]
    if "channel" in meta:
        rows = rows[meta["channel"][rows] == "speech"]  # EmoBox's RAVDESS task is speech only
    speakers = meta["speaker"][rows]
    present = sorted(set(speakers.tolist()))
    if not any(s.startswith(f"{ravdess.NAME}:") for s in present):
        raise ValueError("protocol 'emobox' uses EmoBox's RAVDESS folds, but the data has no RAVDESS speakers")
    gender = gender_of(meta, rows)
    plan, skipped = {}, []
    for k, actors in enumerate(EMOBOX_RAVDESS_FOLDS):
        test_ids = [f"{ravdess.NAME}:{a:02d}" for a in actors]
        missing = [s for s in test_ids if s not in present]
        if missing:
            skipped.append(f"fold_{k}: test actors {format_ids(missing)} are not in the data")
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
        desc = f"EmoBox RAVDESS fold_{k} of 6{channel_note(cfg)}"
        out.append(_split_by_speakers(f"emobox/fold_{k}", k, rows, speakers, test_ids, val_ids, desc, tuple(skipped)))
    return out


def cross_corpus(cfg: SplitConfig, meta, rows) -> list[Split]:
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
    train_names = [n for n in names if n != cfg.test_corpus]
    emotion = meta["emotion"].astype(str)
    on_test, on_train = set(emotion[test_rows].tolist()), set(emotion[train_rows].tolist())
    shared = sorted(on_test & on_train)
    if not shared:
        raise ValueError(f"protocol 'cross_corpus': '{cfg.test_corpus}' shares no emotion with the training "
                         f"corpora (test: {format_ids(on_test)}; train: {format_ids(on_train)})")
    # The label policy: train on every emotion of the training corpora (their union), test on the
    # test corpus's clips of the shared emotions, each prediction chosen among those (Split.scored_emotions).
    test_rows = test_rows[np.isin(emotion[test_rows], shared)]
    gender = gender_of(meta, train_rows)
    val_ids: list[str] = []
    # Validation speakers from each training corpus, at most a third of its speakers: a corpus of 2
    # speakers (TESS) only trains, one of 3 (SAVEE) gives 1, RAVDESS's 20 give val_speakers.
    for r in by_corpus(meta, train_rows).values():
        ids = sorted(set(meta["speaker"][r].tolist()), key=natural_key)
        n = min(cfg.val_speakers, len(ids) // 3)
        if n:
            val_ids += _pick_val(ids, gender, n)
    if not val_ids:
        raise ValueError(f"protocol 'cross_corpus': no training corpus has 3 or more speakers to validate on "
                         f"({', '.join(train_names)}); add one")
    speakers = meta["speaker"]
    val = train_rows[np.isin(speakers[train_rows], val_ids)]
    train = train_rows[~np.isin(speakers[train_rows], val_ids)]
    train_only = sorted(on_train - on_test)
    test_only = sorted(on_test - on_train)
    desc = (f"cross-corpus: train on {'+'.join(train_names)} ({len(set(speakers[train].tolist()))} speakers), "
            f"validate on speakers {format_ids(val_ids)}, test on every file of {cfg.test_corpus}{channel_note(cfg)}; "
            f"scored over the shared emotions: {', '.join(shared)}"
            + (f"; trained also on {', '.join(train_only)}" if train_only else "")
            + (f"; not tested: {', '.join(test_only)} (no training clips)" if test_only else ""))
    return [Split(f"cross_corpus/{cfg.test_corpus}", np.sort(train), np.sort(val), np.sort(test_rows), False, None,
                  desc, scored_emotions=tuple(shared))]


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
            raise ValueError(f"SplitConfig.{field}: speaker '{given}' is ambiguous ({format_ids(local)}); give it "
                             "with its corpus, e.g. ravdess:07")
        if not local:
            raise ValueError(f"SplitConfig.{field}: speaker '{given}' has no rows in the data "
                             f"(channels={cfg.channels}); speakers present: {format_ids(present)}")
        out.append(local[0])
    return out


def explicit_speakers(cfg: SplitConfig, meta, rows) -> list[Split]:
    speakers = meta["speaker"][rows]
    present = sorted(set(speakers.tolist()))
    parts = {name: _resolve(getattr(cfg, name), present, name, cfg)
             for name in ("train_speakers", "val_speaker_ids", "test_speakers")}
    check_disjoint(parts)  # again: "7" and "ravdess:07" differ as given but are one speaker once resolved
    idx = {name: rows[np.isin(speakers, ids)] for name, ids in parts.items()}
    desc = (f"speaker-independent explicit speakers{channel_note(cfg)}: "
            f"test speakers {format_ids(parts['test_speakers'])}; val speakers {format_ids(parts['val_speaker_ids'])}; "
            f"train speakers {format_ids(parts['train_speakers'])}")
    return [Split("speakers", idx["train_speakers"], idx["val_speaker_ids"], idx["test_speakers"], False, None, desc)]
