"""Emotion of new audio files from a trained run: ``python -m ser_jax.predict --checkpoint=RUN_DIR FILE_OR_DIR ...``.

Everything that shapes the input comes from the checkpoint, never from flags: the label map, the
model config and the run's Preprocessor (ser_jax.preprocess: feature config and groups, clip length,
standardisation, padding), the one input path training used. So a prediction uses exactly the
numbers the model was trained and evaluated on and names classes with the map it was trained with.

Clip length. Training cropped or zero-padded every clip to ``duration`` seconds from the start, and
so does prediction: a longer file is judged by its first ``duration`` seconds, as the run's test
figures were, and its note says so. Runs trained on full-length clips (``--duration=full``) predict
each clip whole, with its true number of frames.

The forward pass is compiled once per input shape: clips of many files are stacked into batches of
a fixed size (the short last batch padded), so one compilation serves every file of a
fixed-duration model; full-length inputs are padded to a multiple of a frame bucket.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

from ser_jax import checkpoint as ckpt_lib
from ser_jax import corpora
from ser_jax.predict.formats import FORMATS, render
from ser_jax.predict.predictor import SPEAKER_GROUPS, Ensemble, PredictionError, load_ensemble, load_predictor


def expand_inputs(paths: Sequence[str | os.PathLike]) -> tuple[list[str], list[PredictionError]]:
    """Files to predict: files as given, folders searched recursively for audio by extension, sorted."""
    files: list[str] = []
    errors: list[PredictionError] = []
    for p in paths:
        path = os.fspath(p)
        if os.path.isdir(path):
            found = sorted(str(f) for f in Path(path).rglob("*")
                           if f.is_file() and f.suffix.lower() in corpora.AUDIO_EXTENSIONS)
            if not found:
                errors.append(PredictionError(path, "no audio files in this folder (searched recursively)"))
            files.extend(found)
        elif os.path.exists(path):
            files.append(path)
        else:
            errors.append(PredictionError(path, "no such file or folder"))
    return files, errors


def main(argv: list[str]) -> int:
    from absl import flags

    from ser_jax import cli, runtime

    FLAGS = flags.FLAGS
    runtime.enable_compilation_cache(runtime.compilation_cache_dir(FLAGS.jax_cache,
                                                                   Path(runtime.user_cache_dir()) / "xla"))
    if not FLAGS.checkpoint:
        raise cli.UsageError("--checkpoint is required: the run directory python -m ser_jax.train wrote")
    if len(argv) < 2:
        raise cli.UsageError("give at least one audio file or folder after the flags")
    run_dirs = [Path(d) for d in FLAGS.checkpoint.split(",") if d]
    for d in run_dirs:
        if not d.is_dir():
            raise cli.UsageError(f"--checkpoint={FLAGS.checkpoint}: {d}: no such directory")
    if FLAGS.ensemble or len(run_dirs) > 1:
        predictor = load_ensemble(run_dirs if FLAGS.ensemble else [ckpt_lib.find_run_checkpoint(d) for d in run_dirs],
                                  batch_size=FLAGS.batch_size, speaker_groups=FLAGS.speaker_groups)
        for m in predictor.members:
            print(f"member: {m.checkpoint_dir}", file=sys.stderr)
    else:
        predictor = load_predictor(run_dirs[0], batch_size=FLAGS.batch_size, speaker_groups=FLAGS.speaker_groups)
    run_dir = run_dirs[0]
    if not isinstance(predictor, Ensemble) and Path(predictor.checkpoint_dir).resolve() != run_dir.resolve():
        print(f"{run_dir} is a k-fold run: predicting with the checkpoint of "
              f"{Path(predictor.checkpoint_dir).name} ({predictor.checkpoint_dir}); --ensemble uses every fold",
              file=sys.stderr)
    print(predictor.describe(), file=sys.stderr)
    if predictor.normalization in ("speaker", "mixed"):
        how = "each folder as one speaker" if predictor.speaker_groups == "folder" else "all files as one speaker"
        print(f"speaker-normalised model: features standardised by the statistics of the files given ({how}; "
              "--speaker_groups=folder|files)", file=sys.stderr)
    if predictor.leaky:
        print("warning: LEAKY checkpoint: this model was selected on its own test set "
              f"(protocol {predictor.protocol}); its reported scores are optimistic", file=sys.stderr)

    files, errors = expand_inputs(argv[1:])
    n_inputs = len(files) + len(errors)
    for e in errors:
        print(f"error: {e}", file=sys.stderr, flush=True)
    predictions = []
    for result in predictor.iter_predictions(files):
        if isinstance(result, PredictionError):
            errors.append(result)
            print(f"error: {result}", file=sys.stderr, flush=True)
        else:
            predictions.append(result)
            if result.note:
                print(f"note: {result.path}: {result.note}", file=sys.stderr, flush=True)
    if predictions or FLAGS.format != "table":
        print(render(predictions, predictor.label_names, FLAGS.format), flush=True)
    if errors:
        print(f"{len(errors)} of {n_inputs} input(s) failed", file=sys.stderr)
    return 1 if errors else 0


def define_flags() -> None:
    from absl import flags

    from ser_jax import cli

    flags.DEFINE_string("checkpoint", None, "Run directory written by python -m ser_jax.train (for a k-fold run, "
                        "its fold_0 checkpoint is used); several, comma-separated, predict as an ensemble.")
    flags.DEFINE_boolean("ensemble", False, "Average the class probabilities of every checkpoint at or below "
                         "--checkpoint (all folds of a k-fold run; all seeds of a table's runs).")
    flags.DEFINE_enum("format", "table", list(FORMATS), "Output: an aligned table, JSON (a list of objects) or CSV.")
    flags.DEFINE_integer("batch_size", 16, "Windows per forward pass.", lower_bound=1)
    flags.DEFINE_enum("speaker_groups", "files", list(SPEAKER_GROUPS), "Speaker-normalised models only: "
                      "standardise all given files as one speaker (files) or each folder as one speaker (folder).")
    cli.define_jax_cache_flag("~/.cache/ser_jax/xla")
