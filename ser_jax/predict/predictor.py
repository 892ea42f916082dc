"""Trained models that turn audio files into emotions: one checkpoint (Predictor) or several (Ensemble).

Everything that shapes the input comes from the checkpoint, never from the caller: the label map,
the model config and the run's :class:`ser_jax.preprocess.Preprocessor` (feature config and groups,
the long-clip policy, the standardisation, padding). A file's features are computed by the function
the cache was built with, so a prediction sees exactly the numbers the model was evaluated on: a
file of the run's test set gets the probabilities of its ``test_predictions`` (a test checks it).

A clip is cropped or padded to the training ``duration``, as in training (a longer one: its first
``duration`` seconds, with a note); full-length models (``--duration=full``) see each clip whole.
The forward pass is compiled once per input shape: clips of many files are stacked into fixed-size
batches, and full-length inputs padded to a multiple of a frame bucket.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ser_jax import audio
from ser_jax import checkpoint as ckpt_lib
from ser_jax import features as features_lib
from ser_jax import models as models_lib
from ser_jax import preprocess
from ser_jax import workers as workers_lib
from ser_jax.inference_meta import InferenceMeta
from ser_jax.predict import timeline as timeline_lib
from ser_jax.predict.results import Prediction, PredictionError, Timeline, prediction

# Speaker-normalised models: who counts as one speaker. "files": all files given; "folder": each
# folder's files; "recording": each file alone (the default for a long recording's timeline).
SPEAKER_GROUPS = ("files", "folder", "recording")
READ_AHEAD = 16  # files handed to the feature workers at once


def read_items(model, paths: Iterable[str | os.PathLike], chunk: int
               ) -> Iterator[list[tuple[str, tuple[np.ndarray, float] | str]]]:
    """(path, (unscaled features, seconds), or the one-line reason it is unreadable) per file, in chunks
    of about ``chunk`` files; all in one chunk when the model scales files by each other (speakers).
    Files are read in feature workers (ser_jax.workers), several at a time."""
    pending: list[tuple[str, tuple[np.ndarray, float] | str]] = []
    paths = iter(paths)
    while batch := [os.fspath(p) for _, p in zip(range(READ_AHEAD), paths)]:
        for path, item in zip(batch, model.raw_inputs_of(batch)):
            pending.append((path, item))
            if len(pending) >= chunk and not model.reads_all_first:
                yield pending
                pending = []
    if pending:
        yield pending


class Predictor:
    """A trained model with everything needed to turn audio files into emotions.

    Build one with :func:`load_predictor`. ``batch_size`` clips go through the network at once.
    """

    def __init__(self, tree: dict, meta: dict, checkpoint_dir: str | os.PathLike, batch_size: int = 16,
                 speaker_groups: str | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if speaker_groups is not None and speaker_groups not in SPEAKER_GROUPS:
            raise ValueError(f"--speaker_groups={speaker_groups}: expected one of {', '.join(SPEAKER_GROUPS)}")
        # "speaker": the model was trained on per-speaker standardised features, so the files given
        # are standardised by their own statistics, speakers grouped as SPEAKER_GROUPS says (None:
        # "files" for files, "recording" for timelines).
        if "norm" not in tree or "params" not in tree:
            raise ckpt_lib.CheckpointError(f"{checkpoint_dir}: the checkpoint lacks its parameters or normalisation "
                                           "(damaged, or not written by python -m ser_jax.train); train that run again")
        info = meta if isinstance(meta, InferenceMeta) else InferenceMeta.from_dict(meta, str(checkpoint_dir))
        self.info = info
        self.normalization = info.normalization
        self.speaker_groups = speaker_groups
        self.checkpoint_dir = str(checkpoint_dir)
        self.label_names = info.label_names
        self.preprocessor = info.preprocessor
        self.feature_config, self.groups = info.feature_config, self.preprocessor.groups
        self.columns = self.preprocessor.columns
        self.model_name, self.model_config = info.model_name, info.model_config
        self.num_frames, self.leaky, self.protocol = info.num_frames, info.leaky, info.protocol
        self.epoch, self.val_accuracy = info.epoch, info.val_accuracy
        self.mean = np.asarray(tree["norm"]["mean"], np.float32)
        self.std = np.asarray(tree["norm"]["std"], np.float32)
        if self.mean.shape != (len(self.columns),) or self.std.shape != (len(self.columns),):
            raise ValueError(f"{checkpoint_dir}: normalisation has {self.mean.shape[0]} features but the "
                             f"feature groups {list(self.groups)} give {len(self.columns)}")
        self.batch_size = int(batch_size)
        self._variables = jax.device_put({"params": tree["params"], "batch_stats": tree.get("batch_stats") or {}})
        model = models_lib.build(self.model_name, self.model_config)

        def forward(variables, x, lengths):
            return jax.nn.softmax(model.apply(variables, x, lengths, train=False), axis=-1)

        self._forward = jax.jit(forward)

    # ------------------------------------------------------------------------------------------
    # Audio -> model inputs, by the run's Preprocessor (the path training's inputs took)

    @property
    def members(self) -> tuple[Predictor, ...]:
        """The models whose probabilities are averaged: this one."""
        return (self,)

    @property
    def recipes(self) -> tuple[tuple[Predictor, ...], ...]:
        """The members grouped by the features they read (computed once per group)."""
        return ((self,),)

    def raw_input(self, path: str | os.PathLike) -> np.ndarray:
        """The unscaled (T, F) features of one file, as training read them from the cache; AudioError if
        unreadable."""
        (item,) = self.raw_inputs_of([os.fspath(path)])
        if isinstance(item, str):
            raise audio.AudioError(item)
        return item[0]

    def raw_inputs_of(self, paths: Sequence[str], spans: Sequence[tuple[int, int] | None] | None = None
                      ) -> list[tuple[np.ndarray, float] | str]:
        """(unscaled features, the file's seconds) of each path, or the one-line reason it is unreadable.
        Computed in feature workers exactly as the cache's builder computes them (preprocess.clip_features);
        an encoder's states here, batched. ``spans``: per path, native-rate frames (first, stop) to
        read as a clip of their own (a timeline's segments), or None for the whole file."""
        pre, cfg = self.preprocessor, self.feature_config
        spans = list(spans) if spans is not None else [None] * len(paths)
        tasks = [(i, (p, cfg.to_dict(), span)) for i, (p, span) in enumerate(zip(paths, spans))]
        items: list = [""] * len(paths)
        for out in workers_lib.run("ser_jax.preprocess:clip_features", tasks, min(len(tasks), os.cpu_count() or 1)):
            items[out.key] = out.error or out.value
        readable = [i for i, item in enumerate(items) if not isinstance(item, str)]
        computed = features_lib.finish([items[i][0] for i in readable], cfg) if readable else []
        for i, f in zip(readable, computed):
            items[i] = (pre.as_cached(f), items[i][1])
        return items

    def probabilities(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """(len(inputs), classes) softmax outputs for standardised (T_i, F) inputs.

        Inputs are grouped by padded width and sent in batches of ``batch_size`` (the last one
        padded), so the network is compiled once per width.
        """
        out = np.zeros((len(inputs), len(self.label_names)), np.float32)
        by_width: dict[int, list[int]] = {}
        for i, x in enumerate(inputs):
            by_width.setdefault(self.preprocessor.width(len(x)), []).append(i)
        for width, rows in sorted(by_width.items()):
            for start in range(0, len(rows), self.batch_size):
                chunk = rows[start : start + self.batch_size]
                x, lengths = preprocess.pad_stack([inputs[i] for i in chunk], width)
                x = np.concatenate([x, np.zeros((self.batch_size - len(chunk),) + x.shape[1:], np.float32)])
                lengths = np.concatenate([lengths, np.full(self.batch_size - len(chunk), width, np.int32)])
                probs = np.asarray(self._forward(self._variables, jnp.asarray(x), jnp.asarray(lengths)))
                out[chunk] = probs[: len(chunk)]
        return out

    # ------------------------------------------------------------------------------------------
    # Files -> predictions

    def speaker_of(self, path: str, default: str = "files") -> str:
        """The group a file's statistics come from, for a speaker-normalised model (``default``: the
        grouping when none was chosen)."""
        how = self.speaker_groups or default
        if how == "folder":
            return str(Path(path).resolve().parent)
        return os.path.abspath(path) if how == "recording" else "all files"

    def scaled_inputs(self, items: Sequence[tuple[str, tuple[np.ndarray, float] | str]]
                      ) -> tuple[dict[int, np.ndarray], dict[int, str]]:
        """The model inputs of the readable items (index -> standardised features) and notes per index:
        the Preprocessor's scaling, speakers grouped as ``speaker_groups`` says; a note for a file longer
        than the training duration (only its first seconds were seen) or with thin speaker statistics."""
        readable = [i for i, (_, item) in enumerate(items) if not isinstance(item, str)]
        scaled, notes = self.preprocessor.scale_clips([items[i][1][0] for i in readable],
                                                      [self.speaker_of(items[i][0]) for i in readable],
                                                      (self.mean, self.std))
        out_notes = {}
        crop = self.feature_config.duration
        for i, note in zip(readable, notes):
            seconds = items[i][1][1]
            if crop is not None and seconds > crop + 1e-3:
                note = "; ".join(n for n in (f"{seconds:.1f} s long: the model saw its first {crop:g} s, as in "
                                             "training", note) if n)
            if note:
                out_notes[i] = note
        return dict(zip(readable, scaled)), out_notes

    def item_probabilities(self, items: Sequence[tuple[str, tuple[np.ndarray, float] | str]]
                           ) -> tuple[dict[int, np.ndarray], dict[int, str]]:
        """(classes,) probabilities per readable item, in one batched pass; and notes."""
        scaled, notes = self.scaled_inputs(items)
        order = sorted(scaled)
        return dict(zip(order, self.probabilities([scaled[i] for i in order]))), notes

    @property
    def reads_all_first(self) -> bool:
        """True when a file's scaling depends on the other files given (speaker normalisation)."""
        return self.normalization == "speaker"

    def predict_file(self, path: str | os.PathLike) -> Prediction:
        """The prediction for one file; raises audio.AudioError naming the file if it is unreadable."""
        result = self.predict_files([path])[0]
        if isinstance(result, PredictionError):
            raise audio.AudioError(str(result))
        return result

    def predict_files(self, paths: Iterable[str | os.PathLike]) -> list[Prediction | PredictionError]:
        """Predictions in the order of paths; a file that cannot be read gives a PredictionError."""
        return list(self.iter_predictions(paths))

    def timeline(self, path: str | os.PathLike, config: timeline_lib.TimelineConfig | None = None) -> Timeline:
        """The emotions over time of one recording; raises audio.AudioError naming the file if unreadable."""
        (result,) = self.iter_timelines([path], config)
        if isinstance(result, PredictionError):
            raise audio.AudioError(str(result))
        return result

    def timelines(self, paths: Iterable[str | os.PathLike], config: timeline_lib.TimelineConfig | None = None
                  ) -> list[Timeline | PredictionError]:
        """Timelines in the order of paths; a recording that cannot be read gives a PredictionError."""
        return list(self.iter_timelines(paths, config))

    def iter_timelines(self, paths: Iterable[str | os.PathLike], config: timeline_lib.TimelineConfig | None = None,
                       progress=None) -> Iterator[Timeline | PredictionError]:
        """timelines as a stream (see ser_jax.predict.timeline); ``progress(seconds)`` is called as
        the recordings' seconds are done."""
        return timeline_lib.iter_timelines(self, paths, config or timeline_lib.TimelineConfig(), progress)

    @property
    def segment_duration(self) -> float | None:
        """Seconds of a timeline's windows: the shortest training duration of the members (None: all
        full-length, which see stretches of speech whole)."""
        durations = [m.feature_config.duration for m in self.members if m.feature_config.duration is not None]
        return min(durations) if durations else None

    def iter_predictions(
        self, paths: Iterable[str | os.PathLike], chunk_files: int | None = None
    ) -> Iterator[Prediction | PredictionError]:
        """predict_files as a stream: consecutive files are batched together, results
        come out in input order as soon as their batch is done. A speaker-normalised model reads every
        file before the first result, since each file's scaling depends on its speaker's other files."""
        for items in read_items(self, paths, chunk_files or 4 * self.batch_size):
            probs, notes = self.item_probabilities(items)
            for i, (path, item) in enumerate(items):
                yield (PredictionError(path, item) if isinstance(item, str)
                       else prediction(path, probs[i], self.label_names, item[1], notes.get(i, "")))

    def describe(self) -> str:
        """One line about the checkpoint, for the console."""
        cfg = self.feature_config
        crop = "full-length clips" if cfg.duration is None else f"the first {cfg.duration:g} s of each clip"
        acc = f", val accuracy {self.val_accuracy:.4f}" if isinstance(self.val_accuracy, (int, float)) else ""
        recipe = cfg.recipe
        if cfg.uses_encoder:  # which weights and how their states are pooled
            recipe += f" ({cfg.encoder}, {cfg.encoder_pool}" + (
                f" every {cfg.encoder_stride} frames" if cfg.encoder_stride > 1 else "") + ")"
        return (f"checkpoint {self.checkpoint_dir} ({self.model_name} model, epoch {self.epoch}{acc}; protocol "
                f"{self.protocol}; "
                f"{recipe} features at {cfg.sample_rate} Hz, {crop}; {len(self.label_names)} classes)")


class Ensemble(Predictor):
    """Several trained models (the folds or seeds of an experiment, or runs of different recipes, e.g.
    a Whisper head and a from-scratch crnn) predicting as one: the mean of their class probabilities.
    Members must share the label map; members that share a feature config and groups share one
    computation of the features per file, and each scales the features its own way."""

    def __init__(self, members: Sequence[Predictor]):
        # No super().__init__: the members hold the networks; what is inherited (predict_file(s))
        # needs only the settings set here.
        if not members:
            raise ValueError("an ensemble needs at least one model")
        first = members[0]
        for m in members[1:]:
            if m.label_names != first.label_names:
                raise ValueError(f"{m.checkpoint_dir} and {first.checkpoint_dir} differ in label_names "
                                 f"({m.label_names} vs {first.label_names}); an ensemble's models must share it")
        self._members = tuple(members)
        groups: dict[tuple, list[Predictor]] = {}
        for m in members:  # one feature computation per recipe (feature config and groups)
            groups.setdefault((m.feature_config, m.groups), []).append(m)
        self._recipes = tuple(tuple(g) for g in groups.values())
        self.checkpoint_dir = first.checkpoint_dir
        self.label_names, self.feature_config, self.groups = first.label_names, first.feature_config, first.groups
        self.columns, self.num_frames, self.batch_size = first.columns, first.num_frames, first.batch_size
        self.normalization = first.normalization if len({m.normalization for m in members}) == 1 else "mixed"
        self.speaker_groups = first.speaker_groups
        self.leaky = any(m.leaky for m in members)
        self.protocol = first.protocol

    @property
    def members(self) -> tuple[Predictor, ...]:
        return self._members

    @property
    def recipes(self) -> tuple[tuple[Predictor, ...], ...]:
        return self._recipes

    @property
    def reads_all_first(self) -> bool:
        return any(m.reads_all_first for m in self.members)

    def iter_predictions(
        self, paths: Iterable[str | os.PathLike], chunk_files: int | None = None
    ) -> Iterator[Prediction | PredictionError]:
        paths = iter(paths)
        per_chunk = None if self.reads_all_first else max(1, (chunk_files or 4 * self.batch_size))
        while batch := [os.fspath(p) for p in (paths if per_chunk is None else
                                               (p for _, p in zip(range(per_chunk), paths)))]:
            results, seconds, errors = [], {}, {}
            for recipe in self.recipes:  # each recipe's features once per file, for all its members
                items = list(zip(batch, recipe[0].raw_inputs_of(batch)))
                for i, (_, item) in enumerate(items):
                    if isinstance(item, str):
                        errors.setdefault(i, item)
                    else:
                        seconds.setdefault(i, item[1])
                results += [m.item_probabilities(items) for m in recipe]
            for i, path in enumerate(batch):
                if i in errors:
                    yield PredictionError(path, errors[i])
                    continue
                probs = np.mean([probs[i] for probs, _ in results], axis=0)
                note = next((notes[i] for _, notes in results if i in notes), "")
                yield prediction(path, probs, self.label_names, seconds[i], note)
            if per_chunk is None:
                break

    def describe(self) -> str:
        if len(self.recipes) == 1:
            return f"ensemble of {len(self.members)} models, the first: " + self.members[0].describe()
        kinds = ", ".join(f"{len(r)} x {r[0].model_name} on {r[0].feature_config.recipe}" for r in self.recipes)
        return f"ensemble of {len(self.members)} models over {len(self.recipes)} feature recipes ({kinds})"


def load(run_dir_or_runs: str | os.PathLike | Sequence[str | os.PathLike], *, ensemble: bool = False,
         batch_size: int = 16, speaker_groups: str | None = None) -> Predictor:
    """The model of trained runs, for ``predict_file``, ``predict_files`` and ``timeline``.

    One run directory: its best checkpoint (fold_0's for a k-fold run). Several (a list, or one string
    of comma-separated directories): an ensemble of their best checkpoints. ``ensemble=True``: every
    checkpoint at or below the directories given (all folds, all seeds). ``speaker_groups``: see
    SPEAKER_GROUPS (None: all files as one speaker for files, each recording alone for timelines).
    """
    if isinstance(run_dir_or_runs, (str, os.PathLike)):
        runs = [d for d in os.fspath(run_dir_or_runs).split(",") if d]
    else:
        runs = [os.fspath(d) for d in run_dir_or_runs]
    if not runs:
        raise ValueError("give at least one run directory")
    for d in runs:
        if not os.path.isdir(d):
            raise FileNotFoundError(f"{d}: no such run directory")
    if ensemble:
        return load_ensemble(runs, batch_size, speaker_groups)
    if len(runs) > 1:
        return Ensemble([_load(ckpt_lib.find_run_checkpoint(d), batch_size, speaker_groups) for d in runs])
    return load_predictor(runs[0], batch_size, speaker_groups)


def load_ensemble(run_dirs: Sequence[str | os.PathLike], batch_size: int = 16,
                  speaker_groups: str | None = None) -> Ensemble:
    """Every best checkpoint at or below the given run directories (all folds, all seeds), as one model."""
    dirs = [d for r in run_dirs for d in ckpt_lib.find_all_checkpoints(r)]
    return Ensemble([_load(d, batch_size, speaker_groups) for d in dirs])


def load_predictor(run_dir: str | os.PathLike, batch_size: int = 16, speaker_groups: str | None = None
                   ) -> Predictor:
    """The Predictor of a run's best checkpoint (fold_0's for a k-fold run)."""
    return _load(ckpt_lib.find_run_checkpoint(run_dir), batch_size, speaker_groups)


def _load(directory: Path, batch_size: int, speaker_groups: str | None) -> Predictor:
    tree, meta = ckpt_lib.load_best(directory)
    return Predictor(tree, meta, directory, batch_size=batch_size, speaker_groups=speaker_groups)
