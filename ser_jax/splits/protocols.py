"""The protocol registry and ``make_splits``: a SplitConfig's protocol applied to a corpus' metadata.

A protocol is a function ``(cfg, meta, rows) -> list[Split]`` over the checked metadata columns and
the rows the config selects; adding one is a function in ``stratified`` or ``speakers`` (or a new
module), its name in ``config.PROTOCOLS`` and an entry here.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Sequence

import numpy as np

from ser_jax.splits import speakers, stratified
from ser_jax.splits.config import PROTOCOLS, Split, SplitConfig
from ser_jax.splits.metadata import check_metadata, selected_rows

Protocol = Callable[[SplitConfig, dict[str, np.ndarray], np.ndarray], list[Split]]
REGISTRY: dict[str, Protocol] = {
    "seed_leaky": stratified.seed_leaky,
    "holdout": stratified.holdout,
    "speaker_kfold": speakers.speaker_kfold,
    "speakers": speakers.explicit_speakers,
    "loso": speakers.loso,
    "emobox": speakers.emobox,
    "cross_corpus": speakers.cross_corpus,
}
assert tuple(REGISTRY) == PROTOCOLS


def make_splits(cfg: SplitConfig, meta: Mapping[str, Sequence]) -> list[Split]:
    """The splits the protocol defines (one, or one per fold) over the full metadata columns.

    ``meta`` maps column names to one value per row: ``emotion`` and ``speaker`` always;
    ``gender``, ``channel`` and ``corpus`` when the data has them. Returned indices point into these
    columns, are sorted, and never include rows of an unselected channel or without an emotion.
    """
    meta = check_metadata(meta)
    rows = selected_rows(cfg, meta)
    if not cfg.train_corpora:
        return REGISTRY[cfg.protocol](cfg, meta, rows)
    if "corpus" not in meta:
        raise ValueError("SplitConfig.train_corpora needs a corpus column; give several corpora (--data_dir=A,B)")
    corpus = meta["corpus"][rows]
    present = sorted(set(corpus.tolist()))
    missing = [c for c in cfg.train_corpora if c not in present]
    if missing:
        raise ValueError(f"SplitConfig.train_corpora names {', '.join(missing)}, which the data does not hold "
                         f"(corpora: {', '.join(present)}, channels={cfg.channels})")
    extra = np.isin(corpus, list(cfg.train_corpora))
    if extra.all():
        raise ValueError("SplitConfig.train_corpora names every corpus of the data; leave at least one to split")
    note = f"; every clip of {'+'.join(cfg.train_corpora)} in training too"
    return [dataclasses.replace(s, train=np.sort(np.concatenate([s.train, rows[extra]])),
                                description=s.description + note)
            for s in REGISTRY[cfg.protocol](cfg, meta, rows[~extra])]
