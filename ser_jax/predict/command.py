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

Long recordings: ``--timeline`` gives each recording's emotions over time instead of one answer
(ser_jax.predict.timeline): its speech found, cut into segments the model takes, each segment judged,
the track smoothed; printed as a table, CSV, JSON or WebVTT/SRT subtitles, and drawn with ``--plot``.
The command is a thin layer over the library: ``ser_jax.predict.load(RUN_DIR).timeline(path)``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Sequence

from ser_jax import corpora
from ser_jax.predict.formats import FORMATS, SUBTITLES, render, render_timelines
from ser_jax.predict.predictor import SPEAKER_GROUPS, Ensemble, Predictor, load
from ser_jax.predict.results import PredictionError, Timeline
from ser_jax.predict.timeline import TimelineConfig


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

    from ser_jax import cli, config_flags, runtime

    FLAGS = flags.FLAGS
    runtime.enable_compilation_cache(runtime.compilation_cache_dir(FLAGS.jax_cache,
                                                                   Path(runtime.user_cache_dir()) / "xla"))
    if not FLAGS.checkpoint:
        raise cli.UsageError("--checkpoint is required: the run directory python -m ser_jax.train wrote")
    if len(argv) < 2:
        raise cli.UsageError("give at least one audio file or folder after the flags")
    if FLAGS.format in SUBTITLES and not FLAGS.timeline:
        raise cli.UsageError(f"--format={FLAGS.format}: subtitles are for --timeline; files print as table, json or csv")
    if (FLAGS.plot or FLAGS.out_dir) and not FLAGS.timeline:
        raise cli.UsageError(f"--{'plot' if FLAGS.plot else 'out_dir'} is for --timeline")
    if FLAGS.plot and not FLAGS.plot.lower().endswith(".png"):
        raise cli.UsageError(f"--plot={FLAGS.plot}: give a file name ending in .png")
    config = config_flags.build(TimelineConfig) if FLAGS.timeline else None
    run_dirs = [Path(d) for d in FLAGS.checkpoint.split(",") if d]
    for d in run_dirs:
        if not d.is_dir():
            raise cli.UsageError(f"--checkpoint={FLAGS.checkpoint}: {d}: no such directory")
    predictor = load(run_dirs, ensemble=FLAGS.ensemble, batch_size=FLAGS.batch_size,
                     speaker_groups=FLAGS.speaker_groups)
    describe(predictor, run_dirs[0], timeline=FLAGS.timeline)
    files, errors = expand_inputs(argv[1:])
    n_inputs = len(files) + len(errors)
    if FLAGS.timeline and FLAGS.format in SUBTITLES and len(files) > 1 and not FLAGS.out_dir:
        raise cli.UsageError(f"--format={FLAGS.format} writes one recording's subtitles; give --out_dir for "
                             f"{len(files)} recordings")
    for e in errors:
        print(f"error: {e}", file=sys.stderr, flush=True)
    if FLAGS.timeline:
        errors += timelines(predictor, files, config, FLAGS.format, FLAGS.plot, FLAGS.out_dir)
    else:
        errors += predictions(predictor, files, FLAGS.format)
    if errors:
        print(f"{len(errors)} of {n_inputs} input(s) failed", file=sys.stderr)
    return 1 if errors else 0


def describe(predictor: Predictor, run_dir: Path, timeline: bool) -> None:
    """What is about to predict, on stderr: the checkpoint(s), how speakers are grouped, leaks."""
    if isinstance(predictor, Ensemble):
        for m in predictor.members:
            print(f"member: {m.checkpoint_dir}", file=sys.stderr)
    elif Path(predictor.checkpoint_dir).resolve() != run_dir.resolve():
        print(f"{run_dir} is a k-fold run: predicting with the checkpoint of "
              f"{Path(predictor.checkpoint_dir).name} ({predictor.checkpoint_dir}); --ensemble uses every fold",
              file=sys.stderr)
    print(predictor.describe(), file=sys.stderr)
    if predictor.normalization in ("speaker", "mixed"):
        how = predictor.speaker_groups or ("recording" if timeline else "files")
        what = {"folder": "each folder as one speaker", "files": "all files as one speaker",
                "recording": "each file as one speaker"}[how]
        print(f"speaker-normalised model: features standardised by the statistics of the files given ({what}; "
              f"--speaker_groups={'|'.join(SPEAKER_GROUPS)})", file=sys.stderr)
    if predictor.leaky:
        print("warning: LEAKY checkpoint: this model was selected on its own test set "
              f"(protocol {predictor.protocol}); its reported scores are optimistic", file=sys.stderr)


def predictions(predictor: Predictor, files: list[str], fmt: str) -> list[PredictionError]:
    """Each file's emotion, printed in ``fmt``; the files that failed."""
    errors, done = [], []
    for result in predictor.iter_predictions(files):
        if isinstance(result, PredictionError):
            errors.append(result)
            print(f"error: {result}", file=sys.stderr, flush=True)
        else:
            done.append(result)
            if result.note:
                print(f"note: {result.path}: {result.note}", file=sys.stderr, flush=True)
    if done or fmt != "table":
        print(render(done, predictor.label_names, fmt), flush=True)
    return errors


def timelines(predictor: Predictor, files: list[str], config: TimelineConfig, fmt: str, plot: str,
              out_dir: str) -> list[PredictionError]:
    """Each recording's emotions over time: printed in ``fmt`` (or one file each in ``out_dir``), drawn
    to ``plot``; a progress bar over the recordings' seconds, the real-time factor at the end."""
    from tqdm import tqdm

    from ser_jax.predict.plot import plot_timeline

    seconds = sum(_seconds(f) for f in files)
    errors: list[PredictionError] = []
    done: list[Timeline] = []
    names: dict[str, int] = {}
    started = time.perf_counter()
    with tqdm(total=round(seconds, 1), unit="s", desc="timeline", file=sys.stderr, disable=None,
              bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}]") as bar:
        for result in predictor.iter_timelines(files, config, progress=bar.update):
            if isinstance(result, PredictionError):
                errors.append(result)
                bar.write(f"error: {result}", file=sys.stderr)
                continue
            done.append(result)
            if result.note:
                bar.write(f"note: {result.path}: {result.note}", file=sys.stderr)
            stem = _unique(Path(result.path).stem, names)
            if plot:
                target = plot if len(files) == 1 else str(Path(plot).with_name(f"{Path(plot).stem}-{stem}.png"))
                plot_timeline(result, target)
            if out_dir:
                ext = "txt" if fmt == "table" else fmt
                _write(Path(out_dir) / f"{stem}.{ext}", render_timelines([result], fmt))
            elif fmt == "table":
                bar.write(render_timelines([result], fmt) + "\n")
    elapsed = time.perf_counter() - started
    if done and not out_dir and fmt != "table":
        print(render_timelines(done, fmt), flush=True)
    audio_s = sum(t.seconds for t in done)
    if done:
        print(f"timeline: {len(done)} recording(s), {audio_s:.1f} s of audio in {elapsed:.1f} s: "
              f"{audio_s / max(elapsed, 1e-9):.1f}x real time", file=sys.stderr)
    return errors


def _seconds(path: str) -> float:
    import soundfile as sf

    try:
        return float(sf.info(path).duration)
    except Exception:  # unreadable: its error comes when it is read
        return 0.0


def _unique(stem: str, seen: dict[str, int]) -> str:
    seen[stem] = seen.get(stem, 0) + 1
    return stem if seen[stem] == 1 else f"{stem}-{seen[stem]}"


def _write(path: Path, text: str) -> None:
    """Whole or not at all: an interrupted run leaves no half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text + "\n")
    os.replace(tmp, path)


def define_flags() -> None:
    from absl import flags

    from ser_jax import cli, config_flags

    flags.DEFINE_string("checkpoint", None, "Run directory written by python -m ser_jax.train (for a k-fold run, "
                        "its fold_0 checkpoint is used); several, comma-separated, predict as an ensemble.")
    flags.DEFINE_boolean("ensemble", False, "Average the class probabilities of every checkpoint at or below "
                         "--checkpoint (all folds of a k-fold run; all seeds of a table's runs).")
    flags.DEFINE_enum("format", "table", list(FORMATS), "Output: an aligned table, JSON (a list of objects) or CSV; "
                      "with --timeline also WebVTT or SRT subtitles (the smoothed emotion as the caption).")
    flags.DEFINE_integer("batch_size", 16, "Clips or segments per forward pass.", lower_bound=1)
    flags.DEFINE_enum("speaker_groups", None, list(SPEAKER_GROUPS), "Speaker-normalised models only: who counts as "
                      "one speaker: all given files (files, the default for files), each folder (folder), or each "
                      "file alone (recording, the default for --timeline).")
    cli.define_jax_cache_flag("~/.cache/ser_jax/xla")
    cli.group("Emotions over time (--timeline)")
    flags.DEFINE_boolean("timeline", False, "Each file is a long recording: its emotions over time, segment by "
                         "segment, instead of one answer per file.")
    flags.DEFINE_string("plot", "", "--timeline: draw each recording's class probabilities over time (speech "
                        "shaded) to this PNG (several recordings: FILE-<name>.png).")
    flags.DEFINE_string("out_dir", "", "--timeline: write each recording's result to OUT_DIR/<name>.<format> "
                        "instead of printing it.")
    config_flags.define(TimelineConfig)
    cli.group(None)
