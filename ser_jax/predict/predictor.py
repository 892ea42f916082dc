"""Trained models that turn audio files into emotions: one checkpoint (Predictor) or several (Ensemble).

Everything that shapes the input comes from the checkpoint, never from the caller: the label map,
the feature config and feature groups, the model config and the training standardisation. So a
prediction uses exactly the numbers the model was trained on and names classes with the map it
was trained with.

A clip no longer than the training ``duration`` is cropped or padded as in training; a longer one
is cut into windows of ``duration`` seconds every ``duration / 2`` seconds (the last ending at the
clip's end) whose class probabilities are averaged. Full-length models (``--duration=full``) see
each clip whole. The forward pass is compiled once per input shape: windows of many files are
stacked into fixed-size batches, and full-length inputs padded to a multiple of a frame bucket.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ser_jax import audio, recipes
from ser_jax import checkpoint as ckpt_lib
from ser_jax import models as models_lib
from ser_jax import normalize as normalize_lib
from ser_jax import workers as workers_lib
from ser_jax.inference_meta import InferenceMeta

SPEAKER_GROUPS = ("files", "folder")  # speaker-normalised models: who counts as one speaker
FRAME_BUCKET = 64  # full-length models: inputs padded to a multiple of this many frames
READ_AHEAD = 16  # files handed to the feature workers at once


@dataclasses.dataclass(frozen=True)
class Prediction:
    """The predicted emotion of one file and the probability of every class of the label map."""

    path: str
    emotion: str
    probabilities: dict[str, float]
    windows: int  # how many windows of the training duration were averaged (1 for a short clip)
    note: str = ""  # e.g. that a speaker-normalised model saw this clip's speaker in this clip alone


@dataclasses.dataclass(frozen=True)
class PredictionError:
    """A file that could not be predicted, with a one-line reason."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _prediction(path: str, probs: np.ndarray, label_names: Sequence[str], windows: int, note: str = "") -> Prediction:
    """A Prediction from one file's class probabilities (already averaged over windows and models)."""
    return Prediction(path=path, emotion=label_names[int(np.argmax(probs))],
                      probabilities={name: float(p) for name, p in zip(label_names, probs)}, windows=windows,
                      note=note)


def read_items(model, paths: Iterable[str | os.PathLike], chunk_windows: int
               ) -> Iterator[list[tuple[str, list[np.ndarray] | str]]]:
    """(path, unscaled windows, or the one-line reason it is unreadable) per file, in chunks of about
    chunk_windows windows; all in one chunk when the model scales files by each other (speakers).
    Files are read in feature workers (ser_jax.workers), several at a time."""
    pending: list[tuple[str, list[np.ndarray] | str]] = []
    count = 0
    paths = iter(paths)
    while batch := [os.fspath(p) for _, p in zip(range(READ_AHEAD), paths)]:
        for path, item in zip(batch, model.raw_inputs_of(batch)):
            count += 0 if isinstance(item, str) else len(item)
            pending.append((path, item))
            if count >= chunk_windows and not model.reads_all_first:
                yield pending
                pending, count = [], 0
    if pending:
        yield pending


class Predictor:
    """A trained model with everything needed to turn audio files into emotions.

    Build one with :func:`load_predictor`. ``batch_size`` windows go through the network at once.
    """

    def __init__(self, tree: dict, meta: dict, checkpoint_dir: str | os.PathLike, batch_size: int = 16,
                 speaker_groups: str = "files"):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if speaker_groups not in SPEAKER_GROUPS:
            raise ValueError(f"--speaker_groups={speaker_groups}: expected one of {', '.join(SPEAKER_GROUPS)}")
        # "speaker": the model was trained on per-speaker standardised features, so the files given
        # are standardised by their own statistics: all of them as one speaker ("files"), or one
        # speaker per folder ("folder").
        if "norm" not in tree or "params" not in tree:
            raise ckpt_lib.CheckpointError(f"{checkpoint_dir}: the checkpoint lacks its parameters or normalisation "
                                           "(damaged, or not written by python -m ser_jax.train); train that run again")
        info = meta if isinstance(meta, InferenceMeta) else InferenceMeta.from_dict(meta, str(checkpoint_dir))
        self.info = info
        self.normalization = info.normalization
        self.speaker_groups = speaker_groups
        self.checkpoint_dir = str(checkpoint_dir)
        self.label_names = info.label_names
        self.feature_config = info.feature_config
        layout = recipes.feature_layout(self.feature_config)
        groups = info.groups or tuple(name for name, _, _ in layout)
        # The cache's layout order, as FeatureSet.select_groups keeps it.
        self.groups = tuple(name for name, _, _ in layout if name in groups)
        self.columns = np.concatenate([np.arange(a, b) for name, a, b in layout if name in groups])
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
    # Audio -> standardised model inputs

    @property
    def window_samples(self) -> int | None:
        """Samples per window (the training crop), or None for a full-length model."""
        cfg = self.feature_config
        return None if cfg.duration is None else recipes.clip_samples(0, cfg)

    def inputs(self, path: str | os.PathLike) -> list[np.ndarray]:
        """The standardised (T, F) inputs of one file, one per window; AudioError if unreadable.

        With the training statistics; a speaker-normalised model needs its speaker's other clips
        instead (see :meth:`iter_predictions`).
        """
        return [normalize_lib.standardize(f[None], self.mean, self.std, np.asarray([len(f)]))[0]
                for f in self.raw_inputs(path)]

    def raw_inputs(self, path: str | os.PathLike) -> list[np.ndarray]:
        """The unscaled (T, F) features of one file's windows; AudioError if unreadable."""
        (item,) = self.raw_inputs_of([os.fspath(path)])
        if isinstance(item, str):
            raise audio.AudioError(item)
        return item

    def raw_inputs_of(self, paths: Sequence[str]) -> list[list[np.ndarray] | str]:
        """raw_inputs of each path, or the one-line reason it is unreadable, computed in feature
        workers: librosa's numba code never runs in this process, which has loaded JAX."""
        cfg = self.feature_config.to_dict()
        tasks = [(i, (p, cfg, self.window_samples)) for i, p in enumerate(paths)]
        items: list[list[np.ndarray] | str] = [""] * len(paths)
        for out in workers_lib.run("ser_jax.audio:window_features", tasks, min(len(tasks), os.cpu_count() or 1)):
            items[out.key] = out.error or out.value
        if recipes.needs_finish(self.feature_config):  # an encoder's input: encode every window here, batched
            readable = [i for i, item in enumerate(items) if not isinstance(item, str)]
            windows = recipes.finish([w for i in readable for w in items[i]], self.feature_config)
            for i in readable:
                items[i], windows = windows[: len(items[i])], windows[len(items[i]) :]
        return [item if isinstance(item, str) else [np.asarray(f[:, self.columns], np.float32) for f in item]
                for item in items]

    def probabilities(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """(len(inputs), classes) softmax outputs for standardised (T_i, F) inputs.

        Inputs are grouped by padded width and sent in batches of ``batch_size`` (the last one
        padded), so the network is compiled once per width.
        """
        out = np.zeros((len(inputs), len(self.label_names)), np.float32)
        by_width: dict[int, list[int]] = {}
        for i, x in enumerate(inputs):
            by_width.setdefault(self._width(len(x)), []).append(i)
        for width, rows in sorted(by_width.items()):
            for start in range(0, len(rows), self.batch_size):
                chunk = rows[start : start + self.batch_size]
                x = np.zeros((self.batch_size, width, len(self.columns)), np.float32)
                lengths = np.full(self.batch_size, width, np.int32)
                for j, i in enumerate(chunk):
                    x[j, : len(inputs[i])] = inputs[i]
                    lengths[j] = len(inputs[i])
                probs = np.asarray(self._forward(self._variables, jnp.asarray(x), jnp.asarray(lengths)))
                out[chunk] = probs[: len(chunk)]
        return out

    def _width(self, frames: int) -> int:
        if frames <= self.num_frames:
            return self.num_frames
        return FRAME_BUCKET * math.ceil(frames / FRAME_BUCKET)

    # ------------------------------------------------------------------------------------------
    # Files -> predictions

    def speaker_of(self, path: str) -> str:
        """The group a file's statistics come from, for a speaker-normalised model."""
        return str(Path(path).resolve().parent) if self.speaker_groups == "folder" else "all files"

    def scaled_inputs(self, items: Sequence[tuple[str, list[np.ndarray] | str]]
                      ) -> tuple[dict[int, list[np.ndarray]], dict[int, str]]:
        """The model inputs of the readable items (index -> standardised windows) and notes per index.

        Global scaling uses the training statistics; a speaker-normalised model standardises each
        group of files (see :meth:`speaker_of`) by that group's own statistics.
        """
        readable = [i for i, (_, item) in enumerate(items) if not isinstance(item, str)]
        if self.normalization != "speaker":
            return {i: [normalize_lib.standardize(w[None], self.mean, self.std, np.asarray([len(w)]))[0]
                        for w in items[i][1]] for i in readable}, {}
        groups: dict[str, list[int]] = {}
        for i in readable:
            groups.setdefault(self.speaker_of(items[i][0]), []).append(i)
        k, m = self.info.speaker_prior, self.info.speaker_min_clips
        # As in training (normalize.fit_per_speaker), the files given standing for the corpus: one
        # speaker (all files) against the training statistics; several (folders) each against all the
        # files' statistics, themselves against the training statistics. A speaker with fewer than m
        # files takes those wider statistics; others are shrunk toward them by k (k = 0: their own).
        def settle(own, n, prior):
            if n < m:
                return prior
            return normalize_lib.shrink(*own, n, *prior, k) if k else own

        prior = (self.mean.astype(np.float64), self.std.astype(np.float64) ** 2)
        if (k or m) and len(groups) > 1:
            prior = settle(self._moments([w for i in readable for w in items[i][1]]), len(readable), prior)
        scaled: dict[int, list[np.ndarray]] = {}
        notes: dict[int, str] = {}
        for members in groups.values():
            own = self._moments([w for i in members for w in items[i][1]])
            mean, std = normalize_lib.mean_std(*settle(own, len(members), prior))
            for i in members:
                scaled[i] = [normalize_lib.standardize(w[None], mean, std, np.asarray([len(w)]))[0]
                             for w in items[i][1]]
                if len(members) < m:
                    notes[i] = (f"speaker statistics would rest on {len(members)} clip(s), fewer than the {m} the "
                                "model needs: scaled by the training statistics instead, so this prediction is less "
                                "reliable")
                elif k and len(members) < k:
                    notes[i] = (f"speaker statistics from {len(members)} clip(s), fewer than the {k:g} the model "
                                "was trained to trust: mostly the training statistics, so this prediction is less "
                                "reliable")
                elif not k and len(members) == 1:
                    notes[i] = ("speaker statistics from this clip alone: the model expects several clips "
                                "per speaker, so this prediction is less reliable")
        return scaled, notes

    @staticmethod
    def _moments(windows: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        lengths = np.asarray([len(w) for w in windows])
        stacked = np.zeros((len(windows), lengths.max(), windows[0].shape[-1]), np.float32)
        for j, w in enumerate(windows):
            stacked[j, : len(w)] = w
        return normalize_lib.moments(stacked, lengths, np.arange(len(windows)))

    def item_probabilities(self, items: Sequence[tuple[str, list[np.ndarray] | str]]
                           ) -> tuple[dict[int, np.ndarray], dict[int, str]]:
        """(windows, classes) probabilities per readable item, in one batched pass; and notes."""
        scaled, notes = self.scaled_inputs(items)
        order = sorted(scaled)
        probs = self.probabilities([w for i in order for w in scaled[i]])
        out, k = {}, 0
        for i in order:
            out[i] = probs[k : k + len(scaled[i])]
            k += len(scaled[i])
        return out, notes

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

    def iter_predictions(
        self, paths: Iterable[str | os.PathLike], chunk_windows: int | None = None
    ) -> Iterator[Prediction | PredictionError]:
        """predict_files as a stream: windows of consecutive files are batched together, results
        come out in input order as soon as their batch is done. A speaker-normalised model reads every
        file before the first result, since each file's scaling depends on its speaker's other files."""
        for items in read_items(self, paths, chunk_windows or 4 * self.batch_size):
            probs, notes = self.item_probabilities(items)
            for i, (path, item) in enumerate(items):
                yield (PredictionError(path, item) if isinstance(item, str)
                       else _prediction(path, probs[i].mean(axis=0), self.label_names, len(item), notes.get(i, "")))

    def describe(self) -> str:
        """One line about the checkpoint, for the console."""
        cfg = self.feature_config
        crop = "full-length clips" if cfg.duration is None else f"{cfg.duration:g} s windows"
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
        self.members = tuple(members)
        groups: dict[tuple, list[Predictor]] = {}
        for m in members:  # one feature computation per recipe (feature config and groups)
            groups.setdefault((m.feature_config, m.groups), []).append(m)
        self.recipes = tuple(tuple(g) for g in groups.values())
        self.checkpoint_dir = first.checkpoint_dir
        self.label_names, self.feature_config, self.groups = first.label_names, first.feature_config, first.groups
        self.columns, self.num_frames, self.batch_size = first.columns, first.num_frames, first.batch_size
        self.normalization = first.normalization if len({m.normalization for m in members}) == 1 else "mixed"
        self.speaker_groups = first.speaker_groups
        self.leaky = any(m.leaky for m in members)
        self.protocol = first.protocol

    @property
    def reads_all_first(self) -> bool:
        return any(m.reads_all_first for m in self.members)

    def iter_predictions(
        self, paths: Iterable[str | os.PathLike], chunk_windows: int | None = None
    ) -> Iterator[Prediction | PredictionError]:
        paths = iter(paths)
        per_chunk = None if self.reads_all_first else max(1, (chunk_windows or 4 * self.batch_size))
        while batch := [os.fspath(p) for p in (paths if per_chunk is None else
                                               (p for _, p in zip(range(per_chunk), paths)))]:
            results, windows, errors = [], {}, {}
            for recipe in self.recipes:  # each recipe's features once per file, for all its members
                items = list(zip(batch, recipe[0].raw_inputs_of(batch)))
                for i, (_, item) in enumerate(items):
                    if isinstance(item, str):
                        errors.setdefault(i, item)
                    else:
                        windows.setdefault(i, len(item))
                results += [m.item_probabilities(items) for m in recipe]
            for i, path in enumerate(batch):
                if i in errors:
                    yield PredictionError(path, errors[i])
                    continue
                probs = np.mean([probs[i].mean(axis=0) for probs, _ in results], axis=0)
                note = next((notes[i] for _, notes in results if i in notes), "")
                yield _prediction(path, probs, self.label_names, windows[i], note)
            if per_chunk is None:
                break

    def describe(self) -> str:
        if len(self.recipes) == 1:
            return f"ensemble of {len(self.members)} models, the first: " + self.members[0].describe()
        kinds = ", ".join(f"{len(r)} x {r[0].model_name} on {r[0].feature_config.recipe}" for r in self.recipes)
        return f"ensemble of {len(self.members)} models over {len(self.recipes)} feature recipes ({kinds})"


def load_ensemble(run_dirs: Sequence[str | os.PathLike], batch_size: int = 16,
                  speaker_groups: str = "files") -> Ensemble:
    """Every best checkpoint at or below the given run directories (all folds, all seeds), as one model."""
    dirs = [d for r in run_dirs for d in ckpt_lib.find_all_checkpoints(r)]
    return Ensemble([_load(d, batch_size, speaker_groups) for d in dirs])


def load_predictor(run_dir: str | os.PathLike, batch_size: int = 16, speaker_groups: str = "files") -> Predictor:
    """The Predictor of a run's best checkpoint (fold_0's for a k-fold run)."""
    return _load(ckpt_lib.find_run_checkpoint(run_dir), batch_size, speaker_groups)


def _load(directory: Path, batch_size: int, speaker_groups: str) -> Predictor:
    tree, meta = ckpt_lib.load_best(directory)
    return Predictor(tree, meta, directory, batch_size=batch_size, speaker_groups=speaker_groups)
