"""The corpus writer: every planned file rendered and written as 16-bit WAV, optionally in processes.

Existing files of the same names are overwritten; anything else in the folder is left alone.
Worker processes are spawned, never forked, since the caller may have JAX's threads running.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import soundfile as sf

from ser_jax.synth.design import FileSpec, SynthConfig, check, plan
from ser_jax.synth.voice import render

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000


def _write(job: tuple[FileSpec, SynthConfig, str]) -> str:
    spec, config, root = job
    path = Path(root) / spec.relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, render(spec, config), config.sample_rate, subtype="PCM_16", format="WAV")
    return str(path)


def synthesize(
    out_dir: str | os.PathLike,
    *,
    actors: int = 8,
    seed: int = 0,
    sample_rate: int = 48000,
    channels: Sequence[str] = ("speech", "song"),
    first_actor: int = 1,
    progress: bool = False,
    emotions: Iterable[int | str] | None = None,
    statements: Sequence[int] = (1, 2),
    repetitions: Sequence[int] = (1, 2),
    stereo_fraction: float = 0.05,
    workers: int = 1,
) -> list[Path]:
    """Writes the synthetic corpus under out_dir and returns the file paths in RAVDESS order.

    Existing files of the same names are overwritten; anything else in out_dir is left alone.
    """
    check(isinstance(seed, (int, np.integer)) and seed >= 0, "seed", seed, "must be a non-negative integer")
    check(MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE, "sample_rate", sample_rate,
           f"must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz")
    check(0.0 <= stereo_fraction <= 1.0, "stereo_fraction", stereo_fraction, "must be between 0 and 1")
    check(workers >= 1, "workers", workers, "must be at least 1")
    root = Path(out_dir).expanduser()
    check(not root.exists() or root.is_dir(), "out", str(root), "exists and is not a directory")
    specs = plan(actors=actors, first_actor=first_actor, channels=channels, emotions=emotions,
                 statements=statements, repetitions=repetitions)
    config = SynthConfig(seed=int(seed), sample_rate=int(sample_rate), stereo_fraction=stereo_fraction)
    jobs = [(s, config, str(root)) for s in specs]
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), unit="file", disable=not progress, desc="synth")
    paths = []
    if workers == 1:
        for job in jobs:
            paths.append(Path(_write(job)))
            bar.update()
    else:
        # spawn, not fork: the caller may have JAX's threads running, which fork can deadlock.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
            for p in pool.map(_write, jobs, chunksize=8):
                paths.append(Path(p))
                bar.update()
    bar.close()
    return paths
