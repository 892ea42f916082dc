"""From cached features and a split to batches: the one place that decides where the data lives.

A run's features (its corpora, feature groups, emotion labels and perturbed training copies) are
loaded once. They live on the device when they fit (``Arrays``; a step gathers its batch by
index), else on the host (``OnHost``): read from the cache on disk batch by batch (``--stream``),
or held in memory when several processes each send their share of a batch. Scaling (global or per
speaker, fitted on training rows) happens here too, eagerly or as rows are read.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ser_jax import corpora, featureset, parallel
from ser_jax import perturb as perturb_lib
from ser_jax import splits as splits_lib
from ser_jax import stream as stream_lib
from ser_jax.cache import build as cache_build
from ser_jax.config import ExperimentConfig, TrainConfig
from ser_jax.preprocess import Preprocessor, normalization


class Arrays(NamedTuple):
    """The whole (filtered) data set, resident on device; steps gather their batch by index."""

    x: jax.Array  # (N, T, F) float32
    lengths: jax.Array  # (N,) int32
    y: jax.Array  # (N,) int32


class OnHost(NamedTuple):
    """The data set when it stays on the host: on disk (--stream; x is a stream.Rows), or in memory with
    several processes (each sends only its share of a batch). Each batch is read, scaled and sent."""

    x: stream_lib.Rows | np.ndarray  # (N, T, F), standardised (Rows: as it is read)
    lengths: np.ndarray  # (N,) int32
    y: np.ndarray  # (N,) int32


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Everything a run trains on: features (base rows, then perturbed copies), labels, splits."""

    features: featureset.FeatureSet
    y: np.ndarray  # (N,) int32 label index, -1 for rows no split uses
    label_names: tuple[str, ...]
    splits: tuple[splits_lib.Split, ...]  # training rows include the copies of their own clips
    streaming: bool  # features read from disk batch by batch


def prepare(cfg: ExperimentConfig, progress: bool = True) -> Prepared:
    """The run's features, labels and splits (the caches are built here when missing)."""

    # Each cache is opened once: on disk first (unless --stream=off), since their size decides
    # --stream=auto; read into memory through the same handles when they fit after all.
    lazy = cfg.stream != "off"
    plain = dataclasses.replace(cfg, **perturb_lib.OFF)
    base = load_features(cfg, progress, lazy)
    copies = [(tag, load_features(dataclasses.replace(plain, features=v), progress, lazy))
              for tag, v in perturb_lib.requested(cfg)]
    nbytes = base.features.nbytes + sum(c.features.nbytes for _, c in copies)
    streaming = stream_lib.should_stream(cfg.stream, nbytes)
    if cfg.stream == "auto" and streaming and progress:
        print(f"note: the features take {nbytes / 2**30:.1f} GiB, too much to hold in memory; training reads them "
              "from the cache batch by batch (--stream=off to hold them anyway)", flush=True)
    if not streaming and lazy:
        base = dataclasses.replace(base, features=stream_lib.materialize(base.features))
        copies = [(tag, dataclasses.replace(c, features=stream_lib.materialize(c.features))) for tag, c in copies]
    splits = splits_lib.make_splits(cfg.split, base.meta)
    n_base = len(base)
    fs, origin = perturb_lib.attach(base, copies)
    for note in splits[0].skipped_folds if progress else ():
        print(f"note: {cfg.split.protocol} {note}; skipped", flush=True)
    used = np.unique(np.concatenate([np.concatenate([s.train, s.val, s.test]) for s in splits]))
    # Alphabetical, as the original's LabelEncoder; stored with every checkpoint.
    label_names = tuple(sorted(set(fs.meta["emotion"][used])))
    label_index = {name: i for i, name in enumerate(label_names)}
    y = np.asarray([label_index.get(e, -1) for e in fs.meta["emotion"]], np.int32)
    splits = tuple(perturb_lib.extend_train(split, origin, n_base) for split in splits)
    return Prepared(fs, y, label_names, splits, streaming)


def load_features(cfg: ExperimentConfig, progress: bool = True, lazy: bool = False) -> featureset.FeatureSet:
    """The experiment's corpora (each from its own cache), its feature groups and its emotion labels.

    Emotions are merged and filtered here; a dropped row keeps its place with emotion "", which no
    split uses, so row indices (and the seed split) do not move when nothing is dropped. ``lazy``:
    the features stay on disk (see stream.py).
    """
    sets = [cache_build.ensure(d, cfg.features, cfg.cache_dir, reader=r, workers=cfg.workers, progress=progress,
                             lazy=lazy) for d, r in zip(cfg.data_dir, cfg.corpus)]
    names = [str(s.meta["corpus"][0]) if len(s) else "" for s in sets]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"--data_dir: corpus {repeated[0]} is given twice ({', '.join(cfg.data_dir)}); speakers "
                         "of two copies would be mixed up")
    fs = featureset.concat(sets)
    if cfg.feature_groups:
        fs = fs.select_groups(cfg.feature_groups)
    if cfg.emotions or cfg.merge_emotions:
        missing = sorted(set(cfg.emotions) - set(corpora.relabel(fs.meta["emotion"], (), cfg.merge_emotions)))
        if missing:
            raise ValueError(f"--emotions: {', '.join(missing)} not in the data (it has "
                             f"{', '.join(sorted(set(fs.meta['emotion'])))})")
        meta = dict(fs.meta, emotion=corpora.relabel(fs.meta["emotion"], cfg.emotions, cfg.merge_emotions))
        fs = dataclasses.replace(fs, meta=meta)
    return fs


def for_split(prepared: Prepared, split: splits_lib.Split, cfg: ExperimentConfig
              ) -> tuple[Arrays | OnHost, dict, Preprocessor]:
    """The split's view of the data, scaled by the run's Preprocessor, the training statistics
    (checkpointed beside it) and the Preprocessor itself (in the checkpoint's inference metadata)."""
    fs = prepared.features
    pre = Preprocessor.for_training(cfg.features, cfg.feature_groups, cfg.train, fs.features.shape[1])
    x, norm = standardize_rows(fs, split, cfg.train, pre)
    y = np.maximum(prepared.y, 0).astype(np.int32)
    if prepared.streaming or parallel.multi_process():  # several processes: each sends its share of every batch
        return OnHost(x, fs.lengths.astype(np.int32), y), norm, pre
    return Arrays(jnp.asarray(x), jnp.asarray(fs.lengths), jnp.asarray(y)), norm, pre


def feed(data: Arrays | OnHost, batches: Sequence[tuple[np.ndarray, np.ndarray]], shard: Any = None
         ) -> Iterator[tuple[Arrays, jax.Array | None, jax.Array]]:
    """(data, rows, weights) for each batch: the device-resident set and the batch's rows, or, when the
    data is on disk, the batch itself (rows None), read by a background thread while the device works."""
    if isinstance(data, Arrays):
        for idx, w in batches:
            yield data, jnp.asarray(idx), jnp.asarray(w)
        return

    def read():
        for idx, w in batches:
            mine = parallel.local_share(len(idx))  # all of it, unless there are several processes
            batch = Arrays(np.asarray(data.x[idx[mine]]), data.lengths[idx[mine]], data.y[idx[mine]])
            yield parallel.put_batch(batch, shard), None, parallel.put_batch(w[mine], shard)

    yield from stream_lib.prefetch(read(), size=2)


def padded_batches(rows: np.ndarray, batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Batches of equal size (so one compiled step serves all); the short last one is padded
    by repeating its first row with weight 0."""
    out = []
    for start in range(0, len(rows), batch_size):
        idx = rows[start : start + batch_size]
        w = np.ones(batch_size, np.float32)
        if len(idx) < batch_size:
            w[len(idx):] = 0.0
            idx = np.concatenate([idx, np.full(batch_size - len(idx), idx[0])])
        out.append((idx.astype(np.int32), w))
    return out


def standardize_rows(fs: featureset.FeatureSet, split: splits_lib.Split, tc: TrainConfig,
                     pre: Preprocessor | None = None) -> tuple[np.ndarray | stream_lib.Rows, dict]:
    """Features scaled as the run says (padding stays zero; see Preprocessor.scale_rows), and the
    training statistics for the checkpoint. Per speaker: every speaker of the split's clips by its own
    clips' statistics, a speaker with fewer than ``--speaker_min_clips`` clips by its corpus's (that
    corpus's clips in the split, unlabelled), the others optionally shrunk toward them."""
    pre = pre or Preprocessor.for_training(fs.config, (), tc, fs.features.shape[1])
    mean, std = pre.fit(fs.features, fs.lengths, split.train)
    used = np.unique(np.concatenate([split.train, split.val, split.test]))
    x = pre.scale_rows(fs.features, fs.lengths, used, fs.meta.get("speaker"), fs.meta.get("corpus"), (mean, std))
    return x, {"mean": np.asarray(mean, np.float32), "std": np.asarray(std, np.float32)}


# With neither the fallback nor shrinkage, speakers with fewer clips than this are reported as thin.
FEW_CLIPS = 5


def speaker_statistics(fs: featureset.FeatureSet, split: splits_lib.Split, tc: TrainConfig) -> dict:
    """What a speaker-normalised split's statistics rest on (metrics.json "speaker_statistics"): the
    settings, the speakers, and those with few clips ("thin": clips per speaker, fewer than
    --speaker_min_clips or --speaker_prior, whichever is larger; fewer than FEW_CLIPS when both are 0)."""
    if normalization(tc) != "speaker":
        return {}
    used = np.unique(np.concatenate([split.train, split.val, split.test]))
    names, clips = np.unique(np.asarray(fs.meta["speaker"])[used].astype(str), return_counts=True)
    limit = max(tc.speaker_prior, tc.speaker_min_clips) or FEW_CLIPS
    thin = {str(n): int(c) for n, c in zip(names, clips) if c < limit}
    return {"prior_clips": tc.speaker_prior, "min_clips_used": tc.speaker_min_clips,
            "speakers": int(len(names)), "min_clips": int(clips.min()),
            "median_clips": float(np.median(clips)), "thin": thin}


def speaker_note(stats: dict) -> str:
    """One console line when some speakers' statistics rest on few clips (else "")."""
    if not stats.get("thin"):
        return ""
    k, m, n = stats["prior_clips"], stats.get("min_clips_used", 0), len(stats["thin"])
    head = f"note: {n} of {stats['speakers']} speakers have few clips (as few as {stats['min_clips']}); "
    if m:
        return head + (f"those with fewer than {m} are standardised by their corpus's statistics "
                       f"(--speaker_min_clips={m})" + (f", the others shrunk toward them by {k:g} clips" if k else ""))
    if k == 0:
        return head + ("each is standardised by those clips alone (--speaker_prior=0), which can erase what "
                       "they express; set --speaker_min_clips (e.g. 10) or --nospeaker_norm")
    return head + (f"their statistics are mostly their corpus's (--speaker_prior={k:g} clips), so speaker "
                   "normalisation does little for them")


def corpus_weights(fs: featureset.FeatureSet, train_rows: np.ndarray, power: float) -> np.ndarray | None:
    """Per-row loss weights (N,) n_corpus^-power over the training rows, mean 1 there; None when
    power is 0 or there is one training corpus. Copies count with their corpus."""
    corpus = fs.meta.get("corpus")
    if power == 0 or corpus is None:
        return None
    corpus = np.asarray(corpus).astype(str)
    names, counts = np.unique(corpus[train_rows], return_counts=True)
    if len(names) < 2:
        return None
    per = dict(zip(names.tolist(), counts.astype(np.float64) ** -power))
    w = np.zeros(len(corpus), np.float32)
    w[train_rows] = [per[c] for c in corpus[train_rows]]
    w[train_rows] /= w[train_rows].mean()
    return w


def class_weight_vector(y: np.ndarray, train_rows: np.ndarray, num_classes: int) -> np.ndarray:
    """Per-class loss weights n / (K * n_c) from the training rows (1 for a class they lack)."""
    counts = np.bincount(y[train_rows], minlength=num_classes).astype(np.float64)
    w = np.where(counts > 0, len(train_rows) / (num_classes * np.maximum(counts, 1)), 1.0)
    return w.astype(np.float32)
