"""Perturbed copies of the training clips: speed-perturbed, noisy and VTLP feature sets, computed once.

Each perturbation is a FeatureConfig of its own (``speed``, ``noise_snr``, ``vtlp``), so its features live in
a cache of their own, built once like any other and reused by every run and fold. A run appends the
copies to its base FeatureSet and adds to each split's training rows the copies of *its* training
clips only; validation and test rows are never perturbed, and no copy of a validation or test clip
is ever trained on.

A copy counts as a speaker of its own (``ravdess:07~speed0.9``), as Kaldi does with speed-perturbed
utterances, so per-speaker normalisation never mixes a voice with its perturbed version.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from ser_jax import cache as cache_lib
from ser_jax import features as features_lib
from ser_jax import splits as splits_lib
from ser_jax import stream

SPEAKER_SEP = "~"
# The ExperimentConfig settings that ask for copies, at their "no copies" values.
OFF = {"speed_perturb": (), "noise_snr": None, "vtlp": ()}


def variants(base: features_lib.FeatureConfig, speeds: Sequence[float] = (),
             noise_snr: tuple[float, float] | None = None,
             vtlp: Sequence[float] = ()) -> list[tuple[str, features_lib.FeatureConfig]]:
    """(tag, FeatureConfig) of each perturbed copy a run asks for: one per speed, one noisy, one per
    VTLP warp factor."""
    out = [(f"speed{s:g}", dataclasses.replace(base, speed=float(s))) for s in speeds]
    if noise_snr is not None:
        lo, hi = features_lib.parse_snr_range(noise_snr)
        out.append((f"noise{lo:g}-{hi:g}dB", dataclasses.replace(base, noise_snr=(lo, hi))))
    out += [(f"vtlp{a:g}", dataclasses.replace(base, vtlp=float(a))) for a in vtlp]
    return out


def requested(cfg) -> list[tuple[str, features_lib.FeatureConfig]]:
    """The copies an ExperimentConfig asks for (--speed_perturb, --noise_snr, --vtlp)."""
    return variants(cfg.features, cfg.speed_perturb, cfg.noise_snr, cfg.vtlp)


def check_factors(factors: Sequence[float], name: str = "--speed_perturb",
                  valid: tuple[float, float] = features_lib.SPEED_RANGE) -> tuple[float, ...]:
    """Factors of the copies (speeds, VTLP warps): distinct, in range, not 1 (the base set is the
    unperturbed copy)."""
    out = tuple(float(s) for s in factors)
    lo, hi = valid
    bad = [s for s in out if not lo <= s <= hi or s == 1.0]
    if bad or len(set(out)) != len(out):
        raise ValueError(f"{name}={','.join(f'{s:g}' for s in out)}: give distinct factors in [{lo:g}, {hi:g}] "
                         "other than 1, e.g. 0.9,1.1")
    return out


def attach(base: cache_lib.FeatureSet, copies: Sequence[tuple[str, cache_lib.FeatureSet]]
           ) -> tuple[cache_lib.FeatureSet, np.ndarray]:
    """The base rows followed by each copy's rows, and ``origin``: the base row of every row.

    Copies are matched to base rows by corpus and file path; a file whose copy failed to compute
    simply has no copy, a copy whose base row failed is dropped. origin[i] == i for base rows.
    """
    n = len(base)
    corpus = base.meta.get("corpus", np.full(n, "", dtype=object))
    row_of = {(str(c), p): i for i, (c, p) in enumerate(zip(corpus, base.paths))}
    feats, lengths, origin, tags = [base.features], [base.lengths], [np.arange(n)], []
    for tag, fs in copies:
        if fs.layout != base.layout:
            raise ValueError(f"the {tag} copy has feature groups {fs.feature_names}, the base set {base.feature_names}")
        c_corpus = fs.meta.get("corpus", np.full(len(fs), "", dtype=object))
        pairs = [(row_of.get((str(c), p)), j) for j, (c, p) in enumerate(zip(c_corpus, fs.paths))]
        pairs = sorted((i, j) for i, j in pairs if i is not None)
        src = np.asarray([i for i, _ in pairs], np.int64)
        take = np.asarray([j for _, j in pairs], np.int64)
        if stream.is_lazy(fs.features):
            feats.append(stream.View(fs.features, rows=take))
        else:
            f = fs.features[take]
            t = max(base.features.shape[1], f.shape[1])
            feats = [stream.pad_frames(a, t) for a in feats] + [stream.pad_frames(f, t)]
        lengths.append(fs.lengths[take])
        origin.append(src)
        tags.append(np.full(len(src), tag, dtype=object))
    if not copies:
        return base, np.arange(n)
    origin_all = np.concatenate(origin)
    tag_all = np.concatenate([np.full(n, "", dtype=object), *tags])
    meta = {k: v[origin_all] for k, v in base.meta.items()}
    meta["speaker"] = np.asarray([s if not t else f"{s}{SPEAKER_SEP}{t}" for s, t in zip(meta["speaker"], tag_all)],
                                 dtype=object)
    meta["perturbation"] = tag_all
    paths = tuple(p if not t else f"{p}#{t}" for p, t in zip((base.paths[i] for i in origin_all), tag_all))
    stacked = (stream.Stack(feats) if any(stream.is_lazy(f) for f in feats) else np.concatenate(feats))
    combined = dataclasses.replace(base, features=stacked, lengths=np.concatenate(lengths),
                                   meta=meta, paths=paths)
    return combined, origin_all


def extend_train(split: splits_lib.Split, origin: np.ndarray, n_base: int) -> splits_lib.Split:
    """The split with the copies of its training clips added to its training rows (only those)."""
    if len(origin) == n_base:
        return split
    is_train = np.zeros(n_base, bool)
    is_train[split.train] = True
    copies = n_base + np.flatnonzero(is_train[origin[n_base:]])
    return dataclasses.replace(split, train=np.concatenate([split.train, copies]),
                               description=f"{split.description}; + {len(copies)} perturbed training copies")
