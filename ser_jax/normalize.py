"""Per-feature standardisation over valid (unpadded) frames: global (fitted on training rows only)
or per speaker (each speaker by the statistics of its own clips, labels unused, shrunk toward its
corpus's statistics by the number of clips it has, so two clips of a speaker do not decide alone).

Features of different groups differ by orders of magnitude (mel power vs. zero-crossing
rate), so the network sees z-scores. The statistics come from the training rows alone (so
nothing of validation or test leaks in) and from the frames each clip really has (so the
zero padding of short clips does not pull the means towards zero).
"""

from __future__ import annotations

import numpy as np

_CHUNK = 256  # rows per pass: bounded memory, and works on an h5py dataset as well as an array


def fit_standardizer(
    features, lengths: np.ndarray, rows: np.ndarray, min_std: float = 1e-8
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per feature (both (F,) float32) over frames ``t < lengths[r]`` of ``rows``.

    Accumulated in float64 chunk by chunk (Chan's pairwise update), so a float32 corpus of
    any size is summarised without a float64 copy of it. A feature whose std is below
    ``min_std`` (constant, e.g. silence) gets std 1, as scikit-learn's StandardScaler does:
    it is centred but not blown up, and padded frames stay finite after standardising.
    """
    mean, var = moments(features, lengths, rows)
    return mean_std(mean, var, min_std)


def mean_std(mean: np.ndarray, var: np.ndarray, min_std: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """float32 mean and std from moments; a std below ``min_std`` becomes 1 (see fit_standardizer)."""
    std = np.sqrt(np.maximum(var, 0.0))
    std = np.where(std < min_std, 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)


def moments(features, lengths: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) variance per feature, float64, over the valid frames of ``rows``."""
    if features.ndim != 3:
        raise ValueError(f"fit_standardizer: features must be (N, T, F), got shape {features.shape}")
    n, t_max, n_feat = features.shape
    lengths = np.asarray(lengths)
    rows = np.unique(np.asarray(rows, dtype=np.int64))  # sorted: h5py needs increasing indices
    if lengths.shape != (n,):
        raise ValueError(f"fit_standardizer: lengths must be ({n},) to match features, got {lengths.shape}")
    if len(rows) == 0:
        raise ValueError("fit_standardizer: rows is empty; pass the training rows")
    if rows[0] < 0 or rows[-1] >= n:
        raise ValueError(f"fit_standardizer: rows must index 0..{n - 1}, got {rows[0]}..{rows[-1]}")
    bad = rows[(lengths[rows] < 0) | (lengths[rows] > t_max)]
    if len(bad):
        raise ValueError(
            f"fit_standardizer: lengths[{bad[0]}]={lengths[bad[0]]} is outside 0..{t_max} (frames per row)"
        )

    count, mean, m2 = 0, np.zeros(n_feat), np.zeros(n_feat)
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        x = np.asarray(features[chunk], dtype=np.float64)
        valid = np.arange(t_max)[None, :] < lengths[chunk][:, None]
        frames = x[valid]  # (valid frames, F)
        c = len(frames)
        if c == 0:
            continue
        m = frames.mean(axis=0)
        s = ((frames - m) ** 2).sum(axis=0)
        delta = m - mean
        total = count + c
        mean = mean + delta * (c / total)
        m2 = m2 + s + delta**2 * (count * c / total)
        count = total
    if count == 0:
        raise ValueError("fit_standardizer: the given rows have no valid frames (all lengths are 0)")
    return mean, m2 / count


def standardize(x, mean, std, lengths=None):
    """(x - mean) / std per feature; with ``lengths`` (per row of x), padded frames are set to 0.

    Works on numpy and jax arrays alike. Zeroing the padding puts it at the training mean,
    where it carries no signal, instead of at ``-mean / std``.
    """
    z = (x - mean) / std
    if lengths is None:
        return z.astype(np.float32)
    if z.ndim != 3:
        raise ValueError(f"standardize: lengths given, so x must be (N, T, F), got shape {z.shape}")
    if isinstance(z, np.ndarray):
        xp = np
    else:
        import jax.numpy as xp  # only when given jax arrays (also works under jit)
    valid = xp.arange(z.shape[1])[None, :] < xp.asarray(lengths)[:, None]
    return xp.where(valid[..., None], z, 0.0).astype(np.float32)


def shrink(mean: np.ndarray, var: np.ndarray, clips: int, prior_mean: np.ndarray, prior_var: np.ndarray,
           prior_clips: float) -> tuple[np.ndarray, np.ndarray]:
    """A speaker's mean and variance shrunk toward a prior (its corpus's) by how many clips it has.

    The rule: the moments of the speaker's ``clips`` clips pooled with ``prior_clips`` pseudo-clips
    drawn from the prior, i.e. weight ``a = clips / (clips + prior_clips)`` on the speaker and
    ``var = a var_s + (1 - a) var_p + a (1 - a) (mean_s - mean_p)^2`` (the variance of that mixture).
    Counting clips, not frames: a clip's frames share its speaker's state and words, so one clip is
    one observation of the speaker. 0 prior clips: the speaker's own statistics; no clips: the prior.
    """
    if clips < 0 or prior_clips < 0:
        raise ValueError(f"shrink: clips ({clips}) and prior_clips ({prior_clips}) must be >= 0")
    if clips + prior_clips == 0:
        raise ValueError("shrink: a speaker with no clips needs prior_clips > 0")
    a = clips / (clips + prior_clips)
    return a * mean + (1 - a) * prior_mean, a * var + (1 - a) * prior_var + a * (1 - a) * (mean - prior_mean) ** 2


def fit_per_speaker(features, lengths: np.ndarray, rows: np.ndarray, speakers: np.ndarray,
                    min_std: float = 1e-8, *, groups: np.ndarray | None = None, prior_clips: float = 0.0,
                    min_clips: int = 0, prior: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Mean and std per feature of each speaker, over the valid frames of that speaker's own rows.

    Takes no labels, so it may be fitted on a test speaker's clips (its unlabelled recordings) as
    well as on training speakers'. With ``prior_clips`` > 0 each speaker's statistics are shrunk
    toward those of its group (``groups``: one value per row, e.g. the corpus; None: all ``rows``
    as one group) by :func:`shrink`, so a speaker with few clips is standardised mostly by its
    corpus; a speaker with fewer than ``min_clips`` clips by its group's statistics alone. With
    neither, each speaker's statistics come from its rows only, never from another speaker's.
    ``prior``: (mean, variance) that every speaker falls back on or is shrunk toward instead of its
    group's (prediction: the training statistics, or those of all the files given).
    """
    rows = np.asarray(rows, dtype=np.int64)
    speakers = np.asarray(speakers)
    if prior_clips == 0 and min_clips == 0:
        return {str(s): fit_standardizer(features, lengths, rows[speakers[rows] == s], min_std)
                for s in sorted(set(speakers[rows].tolist()))}
    group = np.zeros(len(speakers), np.int64) if groups is None else np.asarray(groups)
    wider = {g: prior if prior is not None else moments(features, lengths, rows[group[rows] == g])
             for g in set(group[rows].tolist())}
    out = {}
    for s in sorted(set(speakers[rows].tolist())):
        mine = rows[speakers[rows] == s]
        mean, var = moments(features, lengths, mine)
        owners = set(group[mine].tolist())
        if len(owners) != 1:
            raise ValueError(f"fit_per_speaker: speaker {s} has rows in several groups ({sorted(owners)})")
        group_stats = wider[owners.pop()]
        if len(mine) < min_clips:
            out[str(s)] = mean_std(*group_stats, min_std)
        elif prior_clips:
            out[str(s)] = mean_std(*shrink(mean, var, len(mine), *group_stats, prior_clips), min_std)
        else:
            out[str(s)] = mean_std(mean, var, min_std)
    return out


def speaker_weight(clips: int, prior_clips: float, min_clips: int = 0) -> float:
    """How much of a speaker's statistics are its own (1: all; 0: all its corpus's); see :func:`shrink`."""
    if clips < min_clips:
        return 0.0
    return 1.0 if prior_clips == 0 else clips / (clips + prior_clips)


def standardize_per_speaker(features, lengths: np.ndarray, rows: np.ndarray, speakers: np.ndarray,
                            stats: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Features with each row of ``rows`` standardised by its speaker's statistics; other rows are 0."""
    rows = np.asarray(rows, dtype=np.int64)
    speakers = np.asarray(speakers)
    lengths = np.asarray(lengths)
    out = np.zeros(features.shape, np.float32)
    for s, (mean, std) in stats.items():
        r = rows[speakers[rows] == s]
        out[r] = standardize(np.asarray(features[r]), mean, std, lengths[r])
    return out
