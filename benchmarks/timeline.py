"""Speed and memory of ``python -m ser_jax.predict --timeline`` on long recordings.

A long recording is built from corpus clips joined with pauses (ser_jax.testing.recordings.join: the
clips of ``--data_dir`` in a seeded random order, pauses of 0.5-2 s, written at ``--sample_rate``
as a user's recording would be), ``--minutes`` long, and a second one ``--scale`` times longer. Each
checkpoint (``--checkpoints=name=RUN_DIR,...``) runs the command in a fresh process on each:

- real-time factor: the recording's seconds / the command's own timeline time (printed by it; the
  model's load and first compilation are before it) and / the whole command's wall time;
- peak memory: the command process's maximum resident set (ru_maxrss), 1x against ``--scale``x.

    .venv/bin/python benchmarks/timeline.py --data_dir=../shared/data/ravdess-dev \\
        --checkpoints=whisper_unseen=runs/whisper_unseen,crnn=runs/crnn [--minutes=10 --scale=4]
"""

from __future__ import annotations

import glob
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "Corpus folder whose audio files make the recordings (e.g. ravdess-dev).")
flags.DEFINE_string("checkpoints", None, "name=RUN_DIR pairs, comma-separated.")
flags.DEFINE_float("minutes", 10.0, "Length of the 1x recording.")
flags.DEFINE_integer("scale", 4, "The second recording is this many times longer (memory against duration).")
flags.DEFINE_integer("sample_rate", 48000, "Sample rate the recordings are written at.")
flags.DEFINE_string("glob", "**/Audio_Speech_Actors_01-24/**/*.flac", "Clips of --data_dir to use (a glob).")
flags.DEFINE_integer("seed", 0, "Order of the clips and lengths of the pauses.")
flags.DEFINE_string("work_dir", "", "Where the recordings are written (default: a temporary folder, deleted).")


def build(clips: list[str], minutes: float, out: Path, seed: int) -> float:
    """A recording of at least ``minutes``; its seconds."""
    import soundfile as sf

    from ser_jax.testing import recordings

    rng = random.Random(seed)
    chosen, total = [], 0.0
    while total < minutes * 60:
        clip = rng.choice(clips)
        chosen.append(clip)
        total += sf.info(clip).duration + 1.25
    pauses = [rng.uniform(0.5, 2.0) for _ in chosen]
    placed = recordings.join(chosen, pauses, out, FLAGS.sample_rate)
    return placed[-1].stop / FLAGS.sample_rate + pauses[-1]


def measure(run_dir: str, recording: Path, out_dir: Path) -> dict:
    """One fresh command on one recording: wall, its printed real-time factor, peak RSS."""
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
             "print('maxrss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
             "sys.exit(r.returncode)")
    cmd = [sys.executable, "-c", probe, sys.executable, "-m", "ser_jax.predict", f"--checkpoint={run_dir}",
           "--timeline", "--format=csv", f"--out_dir={out_dir}", str(recording)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd[4:])} failed:\n{done.stderr[-2000:]}")
    rtf = re.search(r"([\d.]+) s of audio in ([\d.]+) s", done.stderr)
    rss = re.search(r"maxrss_kb (\d+)", done.stderr)
    audio_s, timeline_s = float(rtf.group(1)), float(rtf.group(2))
    return {"audio_s": audio_s, "timeline_s": timeline_s, "wall_s": wall, "rtf": audio_s / timeline_s,
            "rtf_wall": audio_s / wall, "peak_mb": int(rss.group(1)) / 1024}


def main(argv: list[str]) -> None:
    del argv
    if not FLAGS.data_dir or not FLAGS.checkpoints:
        raise SystemExit("error: give --data_dir and --checkpoints=name=RUN_DIR,...")
    clips = sorted(glob.glob(os.path.join(FLAGS.data_dir, FLAGS.glob), recursive=True))
    if not clips:
        raise SystemExit(f"error: --glob={FLAGS.glob} finds no clips in {FLAGS.data_dir}")
    pairs = [p.split("=", 1) for p in FLAGS.checkpoints.split(",") if p]
    with tempfile.TemporaryDirectory(prefix="ser_jax-timeline-") as tmp:
        work = Path(FLAGS.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        recs = {}
        for k in (1, FLAGS.scale):
            path = work / f"recording_{k}x.flac"
            recs[k] = (path, build(clips, FLAGS.minutes * k, path, FLAGS.seed + k))
            print(f"{path.name}: {recs[k][1] / 60:.1f} min at {FLAGS.sample_rate} Hz", file=sys.stderr)
        print(f"# {os.cpu_count()} CPU(s); {len(clips)} clips of {FLAGS.data_dir}")
        print("| model | recording | audio s | timeline s | x real time | whole command s | x real time (whole) "
              "| peak RSS MB |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for name, run_dir in pairs:
            peaks = {}
            for k, (path, _) in recs.items():
                r = measure(run_dir, path, work / "out")
                peaks[k] = r["peak_mb"]
                print(f"| {name} | {k}x | {r['audio_s']:.0f} | {r['timeline_s']:.1f} | {r['rtf']:.1f} | "
                      f"{r['wall_s']:.1f} | {r['rtf_wall']:.1f} | {r['peak_mb']:.0f} |", flush=True)
            print(f"# {name}: peak memory {FLAGS.scale}x / 1x = {peaks[FLAGS.scale] / peaks[1]:.2f}", flush=True)


if __name__ == "__main__":
    app.run(main)
