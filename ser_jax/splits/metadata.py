"""The metadata columns every protocol reads: checked, narrowed to the rows in use, and grouped.

Rows are described by columns (``emotion``, ``speaker``; ``gender``, ``channel`` and ``corpus`` when
the data has them), never by a corpus' file names, so every protocol works on every corpus.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ser_jax.splits.config import SplitConfig


def check_metadata(meta: Mapping[str, Sequence]) -> dict[str, np.ndarray]:
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


def selected_rows(cfg: SplitConfig, meta: dict[str, np.ndarray]) -> np.ndarray:
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


def strata(meta: dict[str, np.ndarray]) -> np.ndarray:
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


def channel_note(cfg: SplitConfig) -> str:
    return "" if cfg.channels == "both" else f", {cfg.channels} only"


def gender_of(meta: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, str]:
    if "gender" not in meta:
        return {}
    return {str(s): str(g) for s, g in zip(meta["speaker"][rows].tolist(), meta["gender"][rows].tolist())}


def by_corpus(meta: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """Rows per corpus (one group when there is no corpus column), in sorted corpus order."""
    if "corpus" not in meta:
        return {"": rows}
    corpus = meta["corpus"][rows]
    return {str(c): rows[corpus == c] for c in sorted(set(corpus.tolist()))}
