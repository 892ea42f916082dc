"""FeatureSet: everything training needs from a feature cache, in memory or on disk, and its helpers.

A FeatureSet holds padded features, true lengths, metadata columns, provenance and the layout of its
feature groups. ``select_groups`` keeps some groups (ablations without recomputing), ``concat`` joins
several corpora's sets into one (their caches stay one per corpus). Features are an array in memory or
rows read from the cache on demand (``stream.Rows``); both work the same here.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import numpy as np

from ser_jax import features as features_lib
from ser_jax import preprocess, stream
from ser_jax.errors import CacheError


@dataclasses.dataclass(frozen=True)
class FeatureSet:
    """Everything training needs from a cache: padded features, true lengths, labels, provenance."""

    features: np.ndarray | stream.Rows  # (N, T, F) float32, zero beyond each row's length; Rows: on disk
    lengths: np.ndarray  # (N,) int32 true frame counts
    meta: dict[str, np.ndarray]  # metadata columns (corpus, speaker, emotion, gender, the reader's own)
    paths: tuple[str, ...]  # source files, relative to corpus_root
    layout: tuple[tuple[str, int, int], ...]  # feature group, first row, end row
    config: features_lib.FeatureConfig
    corpus_root: str
    failed: tuple[tuple[str, str], ...]  # (relative path, reason) of files that could not be used
    path: str = ""  # the cache file this was read from

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.layout)

    def select_groups(self, groups: Sequence[str]) -> "FeatureSet":
        """The same rows with only the named feature groups, for ablations without recomputing."""
        unknown = sorted(set(groups) - set(self.feature_names))
        if unknown:
            raise ValueError(f"unknown feature group(s) {unknown}; this cache has {list(self.feature_names)}")
        keep = [(n, a, b) for n, a, b in self.layout if n in set(groups)]
        cols = preprocess.columns_of(self.layout, groups)  # as predict selects them (one rule)
        layout, start = [], 0
        for n, a, b in keep:
            layout.append((n, start, start + b - a))
            start += b - a
        return dataclasses.replace(
            self,
            features=(stream.View(self.features, cols=cols) if stream.is_lazy(self.features)
                      else np.ascontiguousarray(self.features[:, :, cols])),
            layout=tuple(layout),
            config=dataclasses.replace(self.config, groups=tuple(n for n, _, _ in keep)),
        )


def concat(sets: Sequence[FeatureSet]) -> FeatureSet:
    """Several corpora as one FeatureSet: rows in the given order, frames padded to the longest.

    Their feature configs must be equal (one model input). A column one corpus lacks is filled with
    "" (strings) or -1 (integers) for its rows; paths become relative to the corpora's common folder.
    """
    if len(sets) == 1:
        return sets[0]
    first = sets[0]
    for other in sets[1:]:
        if other.config.key() != first.config.key() or other.layout != first.layout:
            raise CacheError(
                f"corpora with different feature configs cannot be mixed: {first.path} was made with "
                f"{_config_line(first.config)} and {other.path} with {_config_line(other.config)}; build both "
                "caches with the same feature flags")
    t_max = max(s.features.shape[1] for s in sets)
    if any(stream.is_lazy(s.features) for s in sets):
        feats = stream.Stack([s.features for s in sets])
    else:
        feats = np.zeros((sum(len(s) for s in sets), t_max, first.features.shape[2]), np.float32)
        start = 0
        for s in sets:
            feats[start : start + len(s), : s.features.shape[1]] = s.features
            start += len(s)
    columns: dict[str, np.dtype] = {}
    for s in sets:
        for k, v in s.meta.items():
            columns.setdefault(k, v.dtype)
    meta = {}
    for k, dtype in columns.items():
        fill = "" if dtype.kind == "O" else -1
        meta[k] = np.concatenate([s.meta[k] if k in s.meta else np.full(len(s), fill, dtype) for s in sets])
    base = os.path.commonpath([s.corpus_root for s in sets])
    paths = tuple(os.path.relpath(os.path.join(s.corpus_root, p), base) for s in sets for p in s.paths)
    failed = tuple((os.path.relpath(os.path.join(s.corpus_root, p), base), r) for s in sets for p, r in s.failed)
    return FeatureSet(feats, np.concatenate([s.lengths for s in sets]), meta, paths, first.layout, first.config,
                      base, failed, ",".join(s.path for s in sets))


def _config_line(cfg: features_lib.FeatureConfig) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(cfg.to_dict().items()))

