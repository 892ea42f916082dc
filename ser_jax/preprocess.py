"""The one input path from a clip's features to a model's input, shared by training and prediction.

Training builds a :class:`Preprocessor` where it prepares a split's data (ser_jax.train.data) and
stores it in every checkpoint's inference metadata; ``predict`` rebuilds it from there and uses it
as is. So the two cannot drift apart; they differ only in where a clip's features come from (the
cache, or the audio file computed by the same function the cache was built with). It decides:

- **which feature groups** the model reads: columns of the computed (or cached) layout;
- **clips longer than the training duration**: cropped to their first ``duration`` seconds, as the
  cache crops them when it is built, so a file's prediction is the one its cached row gets in the
  run's evaluation (a long recording's course over time is a timeline's job, not one answer's);
- **storage**: features as the cache keeps them (an encoder's states in float16), so a file
  predicted from audio sees the very numbers training read;
- **standardisation**: global (the training rows' statistics), per speaker (each speaker's own
  clips, unlabelled; a speaker with fewer than ``speaker_min_clips`` clips by the wider group's
  statistics, the others shrunk toward them by ``speaker_prior`` clips), or none;
- **padding**: to the training width, or for full-length models to a multiple of ``FRAME_BUCKET``
  frames (masked: padding never changes a clip's logits).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Sequence

import numpy as np

from ser_jax import features as features_lib
from ser_jax import normalize as normalize_lib
from ser_jax import stream as stream_lib

NORMALIZATIONS = ("global", "speaker", "none")
FRAME_BUCKET = 64  # full-length models: inputs padded to a multiple of this many frames
LONG_CLIPS = "crop"  # the policy for clips longer than the training duration (see the module docstring)
Stats = tuple[np.ndarray, np.ndarray]  # (mean, std) per feature, float32


def columns_of(layout: Sequence[tuple[str, int, int]], groups: Sequence[str]) -> np.ndarray:
    """The columns of ``layout`` (name, start, stop) that the named groups occupy, in layout order."""
    unknown = sorted(set(groups) - {name for name, _, _ in layout})
    if unknown:
        raise ValueError(f"unknown feature group(s) {unknown}; the features have {[n for n, _, _ in layout]}")
    return np.concatenate([np.arange(a, b) for name, a, b in layout if name in set(groups)])


@dataclasses.dataclass(frozen=True)
class Preprocessor:
    """How a clip's computed features become a model input (see the module docstring)."""

    feature_config: features_lib.FeatureConfig  # computes a clip's features; its duration crops the clip
    groups: tuple[str, ...] = ()  # the groups the model reads, in layout order; () = all the config computes
    normalization: str = "global"  # one of NORMALIZATIONS
    speaker_prior: float = 0.0  # speaker normalisation: clips of shrinkage toward the wider statistics
    speaker_min_clips: int = 0  # speaker normalisation: fewer clips than this take the wider statistics
    num_frames: int = 0  # the training width (frames of the longest training input)

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown normalization {self.normalization!r}; expected one of {NORMALIZATIONS}")
        layout = [name for name, _, _ in features_lib.feature_layout(self.feature_config)]
        unknown = sorted(set(self.groups) - set(layout))
        if unknown:
            raise ValueError(f"it selects feature group(s) {unknown} that its feature config does not compute")
        object.__setattr__(self, "groups", tuple(g for g in layout if g in (self.groups or layout)))
        if self.normalization != "speaker" and (self.speaker_prior or self.speaker_min_clips):
            raise ValueError("speaker_prior and speaker_min_clips apply to speaker normalisation only")

    @classmethod
    def for_training(cls, features: features_lib.FeatureConfig, groups: Sequence[str], train: Any,
                     num_frames: int) -> Preprocessor:
        """The preprocessor a run's TrainConfig (``train``) asks for."""
        mode = normalization(train)
        speaker = mode == "speaker"
        return cls(features, tuple(groups), mode, float(train.speaker_prior) if speaker else 0.0,
                   int(train.speaker_min_clips) if speaker else 0, int(num_frames))

    def to_dict(self) -> dict:
        """JSON-ready (the feature config as its own dict)."""
        return {"feature_config": self.feature_config.to_dict(), "groups": list(self.groups),
                "normalization": self.normalization, "speaker_prior": self.speaker_prior,
                "speaker_min_clips": self.speaker_min_clips, "num_frames": self.num_frames,
                "long_clips": LONG_CLIPS}

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessor:
        if d.get("long_clips", LONG_CLIPS) != LONG_CLIPS:
            raise ValueError(f"long-clip policy {d['long_clips']!r} is not this version's ({LONG_CLIPS!r})")
        return cls(features_lib.FeatureConfig.from_dict(d["feature_config"]), tuple(d.get("groups") or ()),
                   str(d.get("normalization", "global")), float(d.get("speaker_prior", 0.0)),
                   int(d.get("speaker_min_clips", 0)), int(d.get("num_frames", 0)))

    # ------------------------------------------------------------------------------------------
    # Features: which columns, stored as the cache stores them

    @functools.cached_property
    def columns(self) -> np.ndarray:
        """Columns of the feature config's computed features that the model reads."""
        return columns_of(features_lib.feature_layout(self.feature_config), self.groups)

    @property
    def crop_samples(self) -> int | None:
        """Samples a clip is cropped or padded to (None: full length)."""
        cfg = self.feature_config
        return None if cfg.duration is None else features_lib.clip_samples(0, cfg)

    def as_cached(self, computed: np.ndarray) -> np.ndarray:
        """(T, F) computed features as training read them from the cache: the model's columns,
        rounded to the cache's storage type, as float32."""
        dtype = features_lib.storage_dtype(self.feature_config)
        return np.asarray(computed[:, self.columns], dtype).astype(np.float32)

    # ------------------------------------------------------------------------------------------
    # Standardisation

    def fit(self, features, lengths: np.ndarray, train_rows: np.ndarray) -> Stats:
        """The training statistics (stored with the checkpoint): zeros and ones without standardisation."""
        if self.normalization == "none":
            width = features.shape[-1]
            return np.zeros(width, np.float32), np.ones(width, np.float32)
        return normalize_lib.fit_standardizer(features, lengths, train_rows)

    def fit_speakers(self, features, lengths: np.ndarray, rows: np.ndarray, speakers: np.ndarray,
                     groups: np.ndarray | None = None, prior: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> dict[str, Stats]:
        """Each speaker's statistics over its ``rows`` (no labels), with the fallback and shrinkage
        toward its group's moments (``groups``: one value per row, e.g. the corpus; None: all rows as
        one group) or toward ``prior`` moments (mean, variance) when given."""
        return normalize_lib.fit_per_speaker(features, lengths, rows, speakers, groups=groups,
                                             prior_clips=self.speaker_prior, min_clips=self.speaker_min_clips,
                                             prior=prior)

    def scale_rows(self, features, lengths: np.ndarray, rows: np.ndarray, speakers: np.ndarray | None,
                   groups: np.ndarray | None, train_stats: Stats) -> Any:
        """Training's side: the features of a whole data set scaled (padding stays zero), eagerly, or
        as rows are read when they stay on disk (a stream.Rows). Per speaker: every speaker of ``rows``
        (the split's train, validation and test clips) by its own rows; other rows are left zero."""
        lazy = stream_lib.is_lazy(features)
        if self.normalization == "none":
            return features
        if self.normalization == "speaker":
            stats = self.fit_speakers(features, lengths, rows, speakers, groups)
            if lazy:
                group = np.full(len(lengths), -1, np.int64)
                index = {name: i for i, name in enumerate(stats)}
                group[rows] = [index[str(s)] for s in np.asarray(speakers)[rows]]
                return stream_lib.Scaled(features, lengths, group, list(stats.values()))
            return normalize_lib.standardize_per_speaker(features, lengths, rows, speakers, stats)
        mean, std = train_stats
        if lazy:
            return stream_lib.Scaled(features, lengths, np.zeros(len(lengths), np.int64), [(mean, std)])
        return normalize_lib.standardize(features, mean, std, lengths).astype(np.float32, copy=False)

    def scale_clips(self, clips: Sequence[np.ndarray], speakers: Sequence[str], train_stats: Stats,
                    unit: str = "clip") -> tuple[list[np.ndarray], list[str]]:
        """Prediction's side: (T_i, F) inputs scaled, and a note per clip ("" for none).

        Per speaker, as in training with the clips given standing for the corpus: one speaker against
        the training statistics; several, each against the statistics of all the clips given (the
        training statistics when they are fewer than ``speaker_min_clips`` in all). ``unit`` names a
        clip in the notes (a timeline's are "segment").
        """
        if self.normalization != "speaker":
            mean, std = train_stats if self.normalization == "global" else (0.0, 1.0)
            return [_scale(c, mean, std) for c in clips], [""] * len(clips)
        stacked, lengths = pad_stack(clips)
        rows = np.arange(len(clips))
        speakers = np.asarray([str(s) for s in speakers], dtype=object)
        prior = (train_stats[0].astype(np.float64), train_stats[1].astype(np.float64) ** 2)
        if len(set(speakers.tolist())) > 1 and len(clips) >= self.speaker_min_clips:
            prior = normalize_lib.moments(stacked, lengths, rows)  # the clips given stand for the corpus
        stats = self.fit_speakers(stacked, lengths, rows, speakers, prior=prior)
        count = {s: int(n) for s, n in zip(*np.unique(speakers, return_counts=True))}
        scaled = [_scale(c, *stats[s]) for c, s in zip(clips, speakers)]
        return scaled, [self.speaker_note(count[s], unit) for s in speakers]

    def speaker_note(self, clips: int, unit: str = "clip") -> str:
        """Why a speaker-normalised prediction from ``clips`` clips of its speaker is less reliable ("" if not)."""
        k, m = self.speaker_prior, self.speaker_min_clips
        if clips < m:
            return (f"speaker statistics would rest on {clips} {unit}(s), fewer than the {m} the model needs: scaled "
                    "by the training statistics instead, so this prediction is less reliable")
        if k and clips < k:
            return (f"speaker statistics from {clips} {unit}(s), fewer than the {k:g} the model was trained to trust: "
                    "mostly the training statistics, so this prediction is less reliable")
        if not k and clips == 1:
            return (f"speaker statistics from this {unit} alone: the model expects several clips per speaker, so "
                    "this prediction is less reliable")
        return ""

    # ------------------------------------------------------------------------------------------
    # Padding

    def width(self, frames: int) -> int:
        """The padded width of an input of ``frames`` frames: the training width, or a bucket multiple."""
        if frames <= self.num_frames:
            return self.num_frames
        return FRAME_BUCKET * -(-frames // FRAME_BUCKET)


def normalization(train: Any) -> str:
    """How a run's TrainConfig (``train``) scales its inputs: "speaker", "global" or "none"."""
    return "speaker" if train.speaker_norm else "global" if train.standardize else "none"


def pad_stack(clips: Sequence[np.ndarray], width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(N, width, F) zero-padded float32 and the (N,) true lengths of (T_i, F) clips."""
    lengths = np.asarray([len(c) for c in clips], np.int32)
    out = np.zeros((len(clips), width or int(lengths.max()), clips[0].shape[-1]), np.float32)
    for j, c in enumerate(clips):
        out[j, : len(c)] = c
    return out, lengths


def _scale(clip: np.ndarray, mean, std) -> np.ndarray:
    return normalize_lib.standardize(clip[None], mean, std, np.asarray([len(clip)]))[0]


def clip_features(path: str, cfg_dict: dict, span: tuple[int, int] | None = None
                  ) -> tuple[np.ndarray, float] | str:
    """What a feature worker computes of one file for prediction, exactly as the cache's builder does
    (the recipe's ``prepare`` of the audio loaded and cropped per the config), and the file's length in
    seconds; or the one-line reason it cannot be read. ``span``: native-rate frames (first, stop) of
    the file as a clip of their own (a segment of a long recording), its seconds theirs. Runs in a feature worker (ser_jax.workers):
    librosa's numba code never runs in a process that has loaded JAX."""
    import soundfile as sf

    from ser_jax import audio

    cfg = features_lib.FeatureConfig.from_dict(cfg_dict)
    try:
        prepared = features_lib.prepare(features_lib.load_clip(path, cfg, span), cfg)
        if span is not None:
            return np.ascontiguousarray(prepared), (span[1] - span[0]) / sf.info(path).samplerate
        return np.ascontiguousarray(prepared), float(sf.info(path).duration)
    except audio.AudioError as e:
        return str(e).splitlines()[0]
