"""Audio files in, mono samples at a chosen rate out: robust loading and resampling, nothing else.

``load_audio`` reads any file libsndfile can (channel mean, soxr resampling, as the seed's
``librosa.load``), with every failure a one-line :class:`AudioError`; a speed-perturbed copy is read
in the same resampling step. Cropping, padding and the other perturbations belong to the clip's
config (ser_jax.features.load_clip, ser_jax.perturb). librosa is imported lazily (``lazy_import``),
so a process that never computes features never loads it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import warnings
from typing import Any, Iterator

import numpy as np
import soundfile as sf


def lazy_import(name: str) -> Any:
    """The module, executed on first attribute use. Importing librosa compiles (or loads) its numba
    gufuncs; a process that has loaded JAX must never do that (see ser_jax.workers), and such
    processes import the feature modules for their configs and shapes only."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


librosa = lazy_import("librosa")  # loaded on first use: see lazy_import


class AudioError(ValueError):
    """A file cannot be used as audio; the message is a one-line reason (no path, no traceback)."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silences librosa's expected warnings (short input, silent tuning) for one clip."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def one_line(e: BaseException) -> str:
    if isinstance(e, sf.LibsndfileError):
        text = e.error_string
    else:
        text = str(e) or type(e).__name__
    lines = [s.strip() for s in text.splitlines() if s.strip()]
    return lines[0] if lines else type(e).__name__


def check_file(path: str | os.PathLike) -> str:
    """The path as a string if it names a non-empty regular file; AudioError saying why not."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioError("cannot read: no such file")
    if not os.path.isfile(path):
        raise AudioError("cannot read: not a regular file")
    if os.path.getsize(path) == 0:
        raise AudioError("cannot decode: empty file (0 bytes)")
    return path


def load_audio(path: str | os.PathLike, sample_rate: int, *, speed: float = 1.0,
               span: tuple[int, int] | None = None) -> np.ndarray:
    """Mono float32 at sample_rate, the whole file (at least one sample); AudioError if it cannot be used.

    The same as the seed's ``librosa.load(path, sr=...)`` (channel mean, soxr_hq resampling) but
    libsndfile only (no audioread fallback) and with every failure turned into AudioError. ``speed``
    (a speed-perturbed copy, ser_jax.perturb.speed) reads the file as if recorded at speed x its
    native rate, in the same resampling step: played that many times faster, tempo and pitch together.
    ``span`` (first, stop) reads only those frames of the file (at its native rate), as if they were
    a file of their own: a segment of a long recording (ser_jax.predict.timeline) is a clip.
    """
    path = check_file(path)
    try:
        with sf.SoundFile(path) as f:
            native_sr = f.samplerate
            if span is not None:
                first, stop = span
                if not 0 <= first < stop <= f.frames:
                    raise AudioError(f"frames {first}:{stop} are outside the file's {f.frames} frames")
                f.seek(first)
                data = f.read(stop - first, dtype="float32", always_2d=False)
            else:
                data = f.read(dtype="float32", always_2d=False)
    except AudioError:
        raise
    except Exception as e:  # libsndfile raises several types; callers need one reason, not a traceback
        raise AudioError(f"cannot decode: {one_line(e)}") from e
    y = data.T  # (channels, n) as librosa lays it out
    if y.shape[-1] == 0:
        raise AudioError("empty audio (0 samples)")
    if not np.all(np.isfinite(y)):
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    try:
        with quiet():
            y = librosa.to_mono(y)
            y = librosa.resample(y, orig_sr=native_sr * speed if speed != 1.0 else native_sr,
                                 target_sr=sample_rate, res_type="soxr_hq")
    except Exception as e:
        raise AudioError(f"cannot resample from {native_sr} Hz: {one_line(e)}") from e
    if len(y) == 0:
        raise AudioError("empty audio (0 samples after resampling)")
    return y
