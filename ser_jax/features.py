"""Per-clip features: the seed notebook's 187 rows per frame (two ways), or a pretrained encoder's.

``seed`` makes the per-feature librosa calls of the original notebook (see FACTS.md), so its
numbers are the ones the original model was trained on. ``fast`` gives the same rows from one
shared STFT and replaces the seed's costly tonnetz (harmonic separation + CQT chroma, ~90% of
the seed's time) with tonnetz of the STFT chroma; every other row equals the seed's.
``whisper`` gives the hidden states of a pretrained Whisper encoder (ser_jax/encoders), one group
per state (h0 ... h6 for base), 50 frames a second; its log-mel runs where the audio is loaded (a
feature worker), the encoder in the process that collects the workers' results (``prepare`` and
``finish`` below), so that clips are encoded in batches.
Everything takes a :class:`FeatureConfig`; its :meth:`FeatureConfig.key` names feature caches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.util
import json
import math
import os
import warnings
import sys
import zlib
from importlib import metadata
from typing import Any, Iterator

import numpy as np
import soundfile as sf

from ser_jax import encoders
from ser_jax.encoders import whisper_frontend
from ser_jax.fields import setting


def _lazy_import(name: str) -> Any:
    """The module, executed on first attribute use. Importing librosa compiles (or loads) its numba
    gufuncs; a process that has loaded JAX must never do that (see ser_jax.workers), and such
    processes import this module for its configs and shapes only."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


librosa = _lazy_import("librosa")

# The seed's row order.
ALL_GROUPS = ("mfcc", "delta", "delta2", "chroma", "mel", "contrast", "tonnetz", "zcr", "rms")
# Computed only when asked for (not in the defaults, so default cache keys never change):
# egemaps = the 25 low-level descriptors of openSMILE's eGeMAPSv02 set (pitch, jitter, shimmer,
# formants, HNR, loudness, spectral balance); compare = the 65 of its ComParE_2016 set (energy, 26
# auditory bands, MFCC 1-14, spectral shape, F0, voicing, jitter, shimmer, HNR); both read at this
# recipe's frames.
OPTIONAL_GROUPS = ("egemaps", "compare")
OPENSMILE_GROUPS = {"egemaps": "eGeMAPSv02", "compare": "ComParE_2016"}  # group -> opensmile.FeatureSet
GROUP_ORDER = ALL_GROUPS + OPTIONAL_GROUPS
N_EGEMAPS = 25
N_COMPARE = 65
RECIPES = ("seed", "fast", "whisper")
ENCODER_RECIPES = ("whisper",)  # recipes whose features are a pretrained encoder's hidden states
# How an encoder recipe stores a clip: every frame, or one frame holding the mean of the clip's frames
# (each hidden state pooled on its own). A head that mean-pools after a linear layer weighting (superb
# with --superb.pooling=mean) gives the same output on either, and the pooled cache is ~150x smaller, so
# training holds it in memory instead of streaming gigabytes. meanstd: each state's mean and standard
# deviation side by side (statistics pooling, as x-vectors), a state twice as wide.
ENCODER_POOLS = ("frames", "mean", "meanstd")
# Bump when the numbers an unchanged FeatureConfig produces change, so old caches are not reused.
FEATURES_VERSION = 1
# librosa.feature.delta's default window; "interp" mode needs at least this many frames.
DELTA_WIDTH = 9
N_CHROMA = 12
N_CONTRAST = 7  # spectral_contrast's default 6 bands + 1
N_TONNETZ = 6
MFCC_MELS = 128  # librosa.feature.mfcc computes its MFCC from a 128-band dB mel spectrogram

_SAMPLE_RATES = (16000, 96000)  # contrast needs bands up to 6.4 kHz, the seed's CQT up to 4.2 kHz
_N_FFT = (256, 16384)
_N_MFCC = (1, MFCC_MELS)
_N_MELS = (1, 512)
_MIN_HOP = 16
SPEED_RANGE = (0.5, 2.0)
VTLP_RANGE = (0.8, 1.2)  # Jaitly & Hinton (2013) drew warp factors from 0.9-1.1
VTLP_F_HI = 4800.0  # Hz: below about this the spectrum is scaled by the factor (their F_hi)
_VTLP_N_FFT = 1024  # the warp's own STFT (46 ms at 22.05 kHz), independent of the features' n_fft
SNR_RANGE = (-20.0, 80.0)  # dB


class AudioError(ValueError):
    """A file cannot be used as audio; the message is a one-line reason (no path, no traceback)."""


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """What to compute per clip. The defaults are exactly the seed notebook's features."""

    recipe: str = setting("seed", "seed: the original notebook's features exactly; fast: one shared STFT, tonnetz "
                          "from the STFT chroma (no harmonic separation); whisper: the hidden states of a "
                          "pretrained Whisper encoder (--encoder), 16 kHz, 50 frames/s, groups h0..hN (its "
                          "sample rate, n_fft and hop are fixed).", choices=RECIPES)
    sample_rate: int = setting(22050, "Resample audio to this rate (Hz).")
    duration: float | None = setting(
        3.0, "Crop/zero-pad every clip to this many seconds from the start, or 'full' to keep each clip's true "
        "length (padded frames are masked in training).", parse=lambda v: parse_duration(v))
    n_fft: int = setting(2048, "STFT window (samples).")
    hop_length: int = setting(512, "STFT hop (samples).")
    n_mfcc: int = setting(40, "MFCC coefficients.")
    n_mels: int = setting(40, "Mel bands of the mel feature group.")
    mel_db: bool = setting(False, "Mel group in dB instead of power (the seed used power).")
    # Any subset, always emitted in ALL_GROUPS order. Derived from --feature_groups (cache_groups):
    # a cache holds every default group, so ablations over groups share one cache.
    groups: tuple[str, ...] = setting(ALL_GROUPS, cli=False)
    fast_hpss: bool = setting(False, "fast recipe: compute tonnetz on the harmonic part (HPSS of the shared STFT).")
    # Perturbed copies for training (issue 10), each its own cache: audio played `speed` times
    # faster (tempo and pitch together, as Kaldi's speed perturbation), and white noise at an SNR
    # drawn per file from the range (seeded by the file name, so a copy is the same on every run),
    # and the spectrum warped as by a vocal tract `vtlp` times shorter (VTLP: frequencies below about
    # 4.8 kHz scaled by it, formants and harmonics alike; tempo kept). Set by the training's
    # --speed_perturb / --noise_snr / --vtlp, never directly.
    speed: float = setting(1.0, cli=False)
    noise_snr: tuple[float, float] | None = setting(None, cli=False)  # (lowest, highest) dB; None = no noise
    vtlp: float = setting(1.0, cli=False)
    encoder: str = setting(encoders.DEFAULT, "whisper recipe: the pretrained encoder, by name ("
                           + ", ".join(encoders.WEIGHTS) + ") or the path of a CTranslate2 Whisper model.bin.")
    # The weights' SHA-256, filled in from the encoder: caches and checkpoints record which weights made them.
    encoder_sha256: str = setting("", cli=False)
    encoder_pool: str = setting("frames", "whisper recipe: cache every frame of each hidden state (frames), or "
                                "one frame per clip, the mean of its frames (mean: ~150x smaller, for heads "
                                "that mean-pool; attention pooling and sequence models need frames), or each "
                                "state's mean and standard deviation side by side (meanstd).",
                                choices=ENCODER_POOLS)
    encoder_stride: int = setting(1, "whisper recipe with --encoder_pool=frames: keep the mean of every k frames "
                                  "(4: 12.5 frames/s, a quarter of the cache), so that frame-level heads train from "
                                  "memory.")

    def __post_init__(self) -> None:
        def fail(field: str, allowed: str, value: Any) -> None:
            raise ValueError(f"FeatureConfig.{field} must be {allowed}, got {value!r}")

        def check_int(field: str, lo: int, hi: int, extra: str = "") -> None:
            v = getattr(self, field)
            if not _is_int(v) or not lo <= v <= hi:
                fail(field, f"an integer in [{lo}, {hi}]{extra}", v)
            object.__setattr__(self, field, int(v))  # numpy integers would not survive json

        if self.recipe not in RECIPES:
            fail("recipe", " or ".join(repr(r) for r in RECIPES), self.recipe)
        if self.recipe in ENCODER_RECIPES:  # the encoder's own front end: these are fixed, not chosen
            for field, value in (("sample_rate", whisper_frontend.SAMPLE_RATE), ("n_fft", whisper_frontend.N_FFT),
                                 ("hop_length", whisper_frontend.SAMPLES_PER_STATE)):
                object.__setattr__(self, field, value)
        check_int("sample_rate", *_SAMPLE_RATES, " Hz")
        d = self.duration
        if d is not None:
            if isinstance(d, bool) or not isinstance(d, (int, float, np.integer, np.floating)):
                fail("duration", "a positive number of seconds or None (full length)", d)
            if not math.isfinite(d) or d * self.sample_rate < 1:
                fail("duration", "a positive number of seconds (at least one sample) or None", d)
            object.__setattr__(self, "duration", float(d))
        check_int("n_fft", *_N_FFT)
        if self.n_fft % 2:
            fail("n_fft", f"an even integer in [{_N_FFT[0]}, {_N_FFT[1]}]", self.n_fft)
        check_int("hop_length", _MIN_HOP, self.n_fft, " (at most n_fft)")
        check_int("n_mfcc", *_N_MFCC, f" (MFCCs come from a {MFCC_MELS}-band mel spectrogram)")
        check_int("n_mels", *_N_MELS)
        for field in ("mel_db", "fast_hpss"):
            if not isinstance(getattr(self, field), (bool, np.bool_)):
                fail(field, "True or False", getattr(self, field))
            object.__setattr__(self, field, bool(getattr(self, field)))
        order = GROUP_ORDER
        if self.recipe in ENCODER_RECIPES:
            try:
                sha256, layers = encoders.describe(self.encoder)[:2]
            except encoders.EncoderError as e:
                raise ValueError(str(e)) from None
            if self.encoder_sha256 and self.encoder_sha256 != sha256:
                raise ValueError(f"encoder {self.encoder!r} has SHA-256 {sha256[:12]}..., not the recorded "
                                 f"{self.encoder_sha256[:12]}...: these are other weights than the ones recorded")
            object.__setattr__(self, "encoder_sha256", sha256)
            order = encoders.hidden_state_groups(layers)
            if tuple(self.groups) == ALL_GROUPS:  # the default: every hidden state
                object.__setattr__(self, "groups", order)
        if self.encoder_pool not in ENCODER_POOLS:
            fail("encoder_pool", " or ".join(repr(p) for p in ENCODER_POOLS), self.encoder_pool)
        if self.encoder_pool != "frames" and self.recipe not in ENCODER_RECIPES:
            fail("encoder_pool", "'frames' unless the recipe is an encoder's (" + ", ".join(ENCODER_RECIPES) + ")",
                 self.encoder_pool)
        check_int("encoder_stride", 1, 1500)
        if self.encoder_stride != 1 and (self.recipe not in ENCODER_RECIPES or self.encoder_pool != "frames"):
            fail("encoder_stride", "1 unless an encoder recipe keeps frames (--encoder_pool=frames)",
                 self.encoder_stride)
        groups = self.groups
        if isinstance(groups, str) or not isinstance(groups, (tuple, list)):
            fail("groups", f"a non-empty tuple drawn from {order}", groups)
        unknown = [g for g in groups if g not in order]
        if not groups or unknown or len(set(groups)) != len(groups):
            fail("groups", f"a non-empty tuple without repeats drawn from {order}", groups)
        object.__setattr__(self, "groups", tuple(g for g in order if g in groups))
        if self.fast_hpss and self.recipe != "fast":
            fail("fast_hpss", "False unless recipe is 'fast' (the seed always separates harmonics)", True)
        for field, (lo, hi) in (("speed", SPEED_RANGE), ("vtlp", VTLP_RANGE)):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not lo <= v <= hi:
                fail(field, f"a factor in [{lo}, {hi}] (1 = unchanged)", v)
            object.__setattr__(self, field, float(v))
        if self.noise_snr is not None:
            object.__setattr__(self, "noise_snr", parse_snr_range(self.noise_snr, "FeatureConfig.noise_snr"))

    @property
    def perturbed(self) -> bool:
        """True for the config of a training copy (never used for validation, test or predict)."""
        return self.speed != 1.0 or self.noise_snr is not None or self.vtlp != 1.0

    def to_dict(self) -> dict:
        """JSON-ready fields (groups as a list)."""
        d = dataclasses.asdict(self)
        d["groups"] = list(self.groups)
        # Left out at their defaults, so that unperturbed configs keep the keys (and caches) they had.
        for field in ("speed", "vtlp"):
            if d[field] == 1.0:
                del d[field]
        if self.recipe not in ENCODER_RECIPES:  # keys of the other recipes stay as they were
            del d["encoder"], d["encoder_sha256"]
        if d["encoder_pool"] == "frames":  # so are the keys of frame caches made before pooling existed
            del d["encoder_pool"]
        if d["encoder_stride"] == 1:
            del d["encoder_stride"]
        if d["noise_snr"] is None:
            del d["noise_snr"]
        else:
            d["noise_snr"] = list(d["noise_snr"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        """Inverse of to_dict; unknown keys are an error (a typo would silently change the features)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"FeatureConfig has no field(s) {unknown}; known: {sorted(names)}")
        d = dict(d)
        for field in ("groups", "noise_snr"):
            if isinstance(d.get(field), list):
                d[field] = tuple(d[field])
        return cls(**d)

    def key(self) -> str:
        """A short hash of every field plus the library versions that shape the numbers.

        Two configs share a key only if they give the same features with the same libraries,
        so the key can name a cache file without ever serving stale features.
        """
        libraries = dict(library_versions())
        if set(OPENSMILE_GROUPS) & set(self.groups):  # only then, so that other keys do not depend on openSMILE
            libraries["opensmile"] = _version("opensmile")
        if self.recipe in ENCODER_RECIPES:  # the encoder runs in JAX (its weights are in the config)
            libraries["jax"], libraries["jaxlib"] = _version("jax"), _version("jaxlib")
        payload = {"config": self.to_dict(), "features_version": FEATURES_VERSION, "libraries": libraries}
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def parse_duration(value: str) -> float | None:
    """--duration: seconds, or 'full' (None: each clip's true length)."""
    if value.strip().lower() in ("full", "none", "longest"):
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"--duration={value!r}: expected seconds (e.g. 3.0) or 'full'") from None
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"--duration={value}: must be a positive number of seconds; for each clip's full "
                         "length use --duration=full")
    return seconds


def cache_groups(wanted: tuple[str, ...] = (), recipe: str = "seed", encoder: str = encoders.DEFAULT
                 ) -> tuple[str, ...]:
    """The groups a feature cache holds for a job using ``wanted``: every default group (so runs on
    different subsets share one cache) plus the optional groups named; for an encoder recipe, every
    hidden state."""
    if recipe in ENCODER_RECIPES:
        try:
            order = encoders.hidden_state_groups(encoders.describe(encoder)[1])
        except encoders.EncoderError as e:
            raise ValueError(f"--encoder: {e}") from None
        unknown = sorted(set(wanted) - set(order))
        if unknown:
            raise ValueError(f"--feature_groups: unknown group(s) {', '.join(unknown)} for --recipe={recipe}; "
                             f"choose from its hidden states {', '.join(order)}")
        return order
    unknown = sorted(set(wanted) - set(GROUP_ORDER))
    if unknown:
        raise ValueError(f"--feature_groups: unknown group(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(GROUP_ORDER)}")
    return ALL_GROUPS + tuple(g for g in OPTIONAL_GROUPS if g in wanted)


def parse_snr_range(value: Any, name: str = "noise_snr") -> tuple[float, float]:
    """'10:20', '15', (10, 20) or 15 -> (lowest, highest) SNR in dB, checked."""
    try:
        if isinstance(value, str):
            parts = [float(v) for v in value.split(":")]
        elif isinstance(value, (tuple, list)):
            parts = [float(v) for v in value]
        else:
            parts = [float(value)]
    except (TypeError, ValueError):
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if (len(parts) != 2 or not all(math.isfinite(v) and SNR_RANGE[0] <= v <= SNR_RANGE[1] for v in parts)
            or parts[0] > parts[1]):
        raise ValueError(f"{name} must be an SNR in dB or a range LOW:HIGH within [{SNR_RANGE[0]:g}, "
                         f"{SNR_RANGE[1]:g}], got {value!r}")
    return parts[0], parts[1]


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Versions of the libraries whose numerics the features depend on."""
    out = {name: _version(name) for name in ("librosa", "numpy", "scipy", "soxr", "soundfile")}
    out["libsndfile"] = sf.__libsndfile_version__
    return out


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


# ------------------------------------------------------------------------------------------------
# Shapes


def group_sizes(cfg: FeatureConfig) -> dict[str, int]:
    """Rows per feature group (all groups, whether selected or not)."""
    if cfg.recipe in ENCODER_RECIPES:
        d = encoders.describe(cfg.encoder)
        width = 2 * d.width if cfg.encoder_pool == "meanstd" else d.width
        return {g: width for g in encoders.hidden_state_groups(d.layers)}
    return {"mfcc": cfg.n_mfcc, "delta": cfg.n_mfcc, "delta2": cfg.n_mfcc, "chroma": N_CHROMA,
            "mel": cfg.n_mels, "contrast": N_CONTRAST, "tonnetz": N_TONNETZ, "zcr": 1, "rms": 1,
            "egemaps": N_EGEMAPS, "compare": N_COMPARE}


def feature_layout(cfg: FeatureConfig) -> tuple[tuple[str, int, int], ...]:
    """(group name, start row, stop row) of each selected group, in GROUP_ORDER (hidden states in order)."""
    sizes = group_sizes(cfg)
    out, start = [], 0
    for g in cfg.groups:
        out.append((g, start, start + sizes[g]))
        start += sizes[g]
    return tuple(out)


def num_features(cfg: FeatureConfig) -> int:
    """F, the width of extract()'s output (187 for the default)."""
    return feature_layout(cfg)[-1][2]


def min_samples(cfg: FeatureConfig) -> int:
    """Full-length clips are zero-padded to this: one whole window and enough frames for deltas
    (an encoder: 0.1 s)."""
    if cfg.recipe in ENCODER_RECIPES:
        return cfg.sample_rate // 10
    return max(cfg.n_fft, (DELTA_WIDTH - 1) * cfg.hop_length)


def clip_samples(num_samples: int, cfg: FeatureConfig) -> int:
    """Length of a clip of num_samples (at cfg.sample_rate) after cropping/padding per cfg."""
    if cfg.duration is not None:
        return int(round(cfg.duration * cfg.sample_rate))
    return max(int(num_samples), min_samples(cfg))


def num_frames(num_samples: int, cfg: FeatureConfig) -> int:
    """T for a clip of num_samples: 1 + n // hop with centered frames (130 for 3 s at 22050/512); an
    encoder's states: n // 320 (150 for 3 s)."""
    if cfg.recipe in ENCODER_RECIPES:
        if cfg.encoder_pool != "frames":
            return 1
        return -(-whisper_frontend.num_states(clip_samples(num_samples, cfg)) // cfg.encoder_stride)
    return 1 + clip_samples(num_samples, cfg) // cfg.hop_length


def fit_length(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Crop or zero-pad at the end, as the seed did (idempotent)."""
    n = clip_samples(len(y), cfg)
    if len(y) >= n:
        return y[:n]
    return np.pad(y, (0, n - len(y)))


# ------------------------------------------------------------------------------------------------
# Audio


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silences librosa's expected warnings (short input, silent tuning) for one clip."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@functools.lru_cache(maxsize=1)
def _threadpools() -> Any:
    try:
        import scipy.linalg  # noqa: F401  (loads scipy's BLAS too, so the controller sees it)
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl.ThreadpoolController()


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """BLAS on one thread for one clip.

    The matrices here are small (a 1025 x 130 spectrogram), so BLAS threads gain ~0.2 ms per
    clip, while idle-spinning BLAS threads in several feature processes on a busy machine
    measured 2-10x slower. Process-level parallelism is the caller's job.
    """
    controller = _threadpools()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


def _one_line(e: BaseException) -> str:
    if isinstance(e, sf.LibsndfileError):
        text = e.error_string
    else:
        text = str(e) or type(e).__name__
    lines = [s.strip() for s in text.splitlines() if s.strip()]
    return lines[0] if lines else type(e).__name__


def load_audio(path: str | os.PathLike, cfg: FeatureConfig) -> np.ndarray:
    """Mono float32 at cfg.sample_rate, cropped/zero-padded per cfg.duration.

    The same as the seed's ``librosa.load(path, sr=...)`` (channel mean, soxr_hq resampling)
    but libsndfile only (no audioread fallback) and with every failure turned into AudioError.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioError("cannot read: no such file")
    if not os.path.isfile(path):
        raise AudioError("cannot read: not a regular file")
    if os.path.getsize(path) == 0:
        raise AudioError("cannot decode: empty file (0 bytes)")
    try:
        with sf.SoundFile(path) as f:
            native_sr = f.samplerate
            data = f.read(dtype="float32", always_2d=False)
    except Exception as e:  # libsndfile raises several types; callers need one reason, not a traceback
        raise AudioError(f"cannot decode: {_one_line(e)}") from e
    y = data.T  # (channels, n) as librosa lays it out
    if y.shape[-1] == 0:
        raise AudioError("empty audio (0 samples)")
    if not np.all(np.isfinite(y)):
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    try:
        with _quiet():
            y = librosa.to_mono(y)
            # Speed perturbation in the same resampling step: read at speed x the native rate.
            y = librosa.resample(y, orig_sr=native_sr * cfg.speed if cfg.speed != 1.0 else native_sr,
                                 target_sr=cfg.sample_rate, res_type="soxr_hq")
    except Exception as e:
        raise AudioError(f"cannot resample from {native_sr} Hz: {_one_line(e)}") from e
    if len(y) == 0:
        raise AudioError("empty audio (0 samples after resampling)")
    if cfg.vtlp != 1.0:  # only the samples the crop keeps (the warp is the costly part)
        y = vtlp_warp(y[:clip_samples(len(y), cfg)], cfg.sample_rate, cfg.vtlp)
    if cfg.noise_snr is not None:
        return add_noise(y, cfg, seed_text=os.path.basename(path))
    return np.ascontiguousarray(fit_length(y, cfg), dtype=np.float32)


def vtlp_frequencies(freqs: np.ndarray, alpha: float, sr: float, f_hi: float = VTLP_F_HI) -> np.ndarray:
    """Where vocal-tract-length perturbation moves each frequency (Jaitly & Hinton 2013).

    f -> alpha * f up to a boundary near f_hi, then a straight line that keeps the Nyquist
    frequency in place, so the warped spectrum neither loses its top nor runs past it.
    """
    nyquist = sr / 2
    top = f_hi * min(alpha, 1.0)  # where the boundary lands
    boundary = top / alpha
    upper = nyquist - (nyquist - top) / (nyquist - boundary) * (nyquist - freqs)
    return np.where(freqs <= boundary, alpha * freqs, upper)


def vtlp_warp(y: np.ndarray, sr: int, alpha: float) -> np.ndarray:
    """y with its spectrum warped along vtlp_frequencies, resynthesised at the same length.

    The magnitude spectrogram is resampled along frequency (each output frequency reads the input
    at its inverse warp) and turned back into audio by Griffin-Lim (librosa, 32 iterations from
    zero phase: deterministic, so a copy is the same on every run). Warping the audio rather than
    each feature's filterbank lets every group (mel, MFCC, chroma, contrast, tonnetz) see the
    same warped voice; moving complex STFT values between bins instead cancels much of the
    energy (their phases no longer fit), which is why the phase is rebuilt.
    """
    y = np.asarray(y, np.float32)
    n_fft, hop = _VTLP_N_FFT, _VTLP_N_FFT // 4
    if len(y) < n_fft:  # too short for the warp's STFT: pad, warp, cut back
        return vtlp_warp(np.pad(y, (0, n_fft - len(y))), sr, alpha)[:len(y)]
    mag = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    source = np.interp(freqs, vtlp_frequencies(freqs, alpha, sr), freqs) * n_fft / sr  # in bins
    lo = np.minimum(np.floor(source).astype(np.int64), len(freqs) - 2)
    w = (source - lo)[:, None]
    warped = (1 - w) * mag[lo] + w * mag[lo + 1]
    out = librosa.griffinlim(warped, n_iter=32, hop_length=hop, n_fft=n_fft, length=len(y), init=None)
    return np.ascontiguousarray(out, dtype=np.float32)


def add_noise(y: np.ndarray, cfg: FeatureConfig, seed_text: str) -> np.ndarray:
    """y cropped/padded per cfg plus white noise at an SNR drawn from cfg.noise_snr.

    The SNR is relative to the power of the clip's own samples (not the zero padding), and the
    draw is seeded by ``seed_text`` (the file name), so the same file gets the same noise on
    every machine and run. A silent clip stays silent.
    """
    rng = np.random.default_rng(zlib.crc32(seed_text.encode()))
    snr = rng.uniform(*cfg.noise_snr)
    n_own = min(len(y), clip_samples(len(y), cfg))
    out = fit_length(np.asarray(y, np.float32), cfg).astype(np.float64)
    power = float(np.mean(out[:n_own] ** 2)) if n_own else 0.0
    out += rng.standard_normal(len(out)) * math.sqrt(power / 10.0 ** (snr / 10.0))
    return np.ascontiguousarray(out, dtype=np.float32)


# ------------------------------------------------------------------------------------------------
# Extraction


def extract(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(T, F) float32 features of mono audio y at cfg.sample_rate; T = num_frames(len(y), cfg).

    y is cropped/padded per cfg first (a no-op on load_audio's output). Groups come in
    ALL_GROUPS order (see feature_layout); values are always finite.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"extract expects mono audio of shape (n,), got shape {y.shape}")
    y = np.nan_to_num(y.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    y = np.ascontiguousarray(fit_length(y, cfg))
    with _quiet(), _one_blas_thread():
        rows = _seed_groups(y, cfg) if cfg.recipe == "seed" else _fast_groups(y, cfg)
    t = num_frames(len(y), cfg)
    for group in OPENSMILE_GROUPS:
        if _needs(cfg, group):
            rows[group] = opensmile_lld(y, cfg.sample_rate, t, cfg.hop_length, group)
    sizes = group_sizes(cfg)
    blocks = []
    for g in cfg.groups:
        block = librosa.util.fix_length(np.asarray(rows[g], dtype=np.float32), size=t, axis=-1)
        assert block.shape == (sizes[g], t), (g, block.shape)
        blocks.append(block)
    out = np.concatenate(blocks, axis=0).T
    if not np.all(np.isfinite(out)):  # defensive; no known input produces this
        out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return np.ascontiguousarray(out)


@functools.lru_cache(maxsize=len(OPENSMILE_GROUPS))
def _smile(group: str) -> Any:
    try:
        import opensmile
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise AudioError(f"the {group} feature group needs the opensmile package: pip install opensmile") from e
    return opensmile.Smile(feature_set=opensmile.FeatureSet[OPENSMILE_GROUPS[group]],
                           feature_level=opensmile.FeatureLevel.LowLevelDescriptors)


def opensmile_lld(y: np.ndarray, sr: int, num_frames_out: int, hop_length: int, group: str = "egemaps"
                  ) -> np.ndarray:
    """(rows, T) openSMILE low-level descriptors of y (the group's feature set) at this recipe's frames.

    openSMILE computes them every 10 ms (20-60 ms windows); each descriptor is linearly interpolated
    at our centred frames (k * hop / sr seconds) so the group lines up with the others. Voicing-only
    descriptors (F0, jitter, formants...) are 0 where openSMILE finds no voice, as it reports them.
    """
    df = _smile(group).process_signal(np.asarray(y, np.float32), sr)
    start = df.index.get_level_values("start").total_seconds().to_numpy()
    end = df.index.get_level_values("end").total_seconds().to_numpy()
    values = np.nan_to_num(df.to_numpy(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    ours = np.arange(num_frames_out) * hop_length / sr
    if len(values) == 0:
        return np.zeros((df.shape[1], num_frames_out), np.float32)
    centres = (start + end) / 2
    return np.stack([np.interp(ours, centres, values[:, j]) for j in range(values.shape[1])]).astype(np.float32)


def compute(path: str | os.PathLike, cfg: FeatureConfig) -> np.ndarray:
    """load_audio + extract: the (T, F) features of one file, or AudioError."""
    return finish([prepare(load_audio(path, cfg), cfg)], cfg)[0]


def prepare(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """What a feature worker computes of audio y: the features, or for an encoder recipe its input
    (Whisper's log-mel), which ``finish`` turns into features in batches."""
    if cfg.recipe in ENCODER_RECIPES:
        y = np.nan_to_num(np.asarray(y, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        return whisper_frontend.log_mel(fit_length(y, cfg), encoders.describe(cfg.encoder).n_mels)
    return extract(y, cfg)


def storage_dtype(cfg: FeatureConfig) -> np.dtype:
    """How a cache stores the features: an encoder's hidden states as float16 (half the disk and
    memory; they were float16 weights' outputs), handcrafted features as float32."""
    return np.dtype(np.float16 if cfg.recipe in ENCODER_RECIPES else np.float32)


def needs_finish(cfg: FeatureConfig) -> bool:
    """True when ``prepare``'s output is not yet the features (an encoder recipe)."""
    return cfg.recipe in ENCODER_RECIPES


def finish(prepared: list[np.ndarray], cfg: FeatureConfig) -> list[np.ndarray]:
    """The features of several clips from what ``prepare`` gave for each (in this process: JAX)."""
    if cfg.recipe not in ENCODER_RECIPES:
        return list(prepared)
    from ser_jax.encoders import whisper

    states = [int(g[1:]) for g in cfg.groups]
    return whisper.encode(prepared, cfg.encoder, cfg.encoder_sha256, states, pool=cfg.encoder_pool,
                          stride=cfg.encoder_stride)


def window_starts(num_samples: int, window: int) -> list[int]:
    """First samples of the windows a clip of num_samples is cut into for prediction.

    One window at 0 when the clip fits; otherwise windows every window // 2 samples, plus one
    ending at the clip's end if the regular ones stop short of it.
    """
    if window < 1:
        raise ValueError(f"window must be at least one sample, got {window}")
    if num_samples <= window:
        return [0]
    hop = max(1, window // 2)
    starts = list(range(0, num_samples - window + 1, hop))
    if starts[-1] + window < num_samples:
        starts.append(num_samples - window)
    return starts


def window_features(path: str, cfg_dict: dict, window: int | None) -> list[np.ndarray] | str:
    """What ``prepare`` gives for each window of a whole file (one window when ``window`` is None), or
    the one-line reason it cannot be read. Predict's work, run in a feature worker (ser_jax.workers)."""
    cfg = FeatureConfig.from_dict(cfg_dict)
    try:
        y = load_audio(path, dataclasses.replace(cfg, duration=None))  # whole clip at the model's rate
        clips = [y] if window is None else [y[s : s + window] for s in window_starts(len(y), window)]
        return [np.ascontiguousarray(prepare(clip, cfg)) for clip in clips]
    except AudioError as e:
        return str(e).splitlines()[0]


def _needs(cfg: FeatureConfig, *groups: str) -> bool:
    return any(g in cfg.groups for g in groups)


def _deltas(mfcc: np.ndarray, rows: dict[str, np.ndarray], cfg: FeatureConfig) -> None:
    rows["mfcc"] = mfcc
    if _needs(cfg, "delta"):
        rows["delta"] = librosa.feature.delta(mfcc, width=DELTA_WIDTH)
    if _needs(cfg, "delta2"):
        rows["delta2"] = librosa.feature.delta(mfcc, width=DELTA_WIDTH, order=2)


def _time_domain(y: np.ndarray, rows: dict[str, np.ndarray], cfg: FeatureConfig) -> None:
    frames = dict(frame_length=cfg.n_fft, hop_length=cfg.hop_length)
    if _needs(cfg, "zcr"):
        zcr = _zero_crossing_rate if cfg.recipe == "fast" else librosa.feature.zero_crossing_rate
        rows["zcr"] = zcr(y, **frames)
    if _needs(cfg, "rms"):
        rows["rms"] = librosa.feature.rms(y=y, **frames)


def _seed_groups(y: np.ndarray, cfg: FeatureConfig) -> dict[str, np.ndarray]:
    """The notebook's per-feature librosa calls, each computing its own spectrogram."""
    sr, stft = cfg.sample_rate, dict(n_fft=cfg.n_fft, hop_length=cfg.hop_length)
    rows: dict[str, np.ndarray] = {}
    if _needs(cfg, "mfcc", "delta", "delta2"):
        _deltas(librosa.feature.mfcc(y=y, sr=sr, n_mfcc=cfg.n_mfcc, **stft), rows, cfg)
    if _needs(cfg, "chroma"):
        rows["chroma"] = librosa.feature.chroma_stft(y=y, sr=sr, **stft)
    if _needs(cfg, "mel"):
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=cfg.n_mels, **stft)
        rows["mel"] = librosa.power_to_db(mel) if cfg.mel_db else mel
    if _needs(cfg, "contrast"):
        rows["contrast"] = librosa.feature.spectral_contrast(y=y, sr=sr, **stft)
    if _needs(cfg, "tonnetz"):
        harmonic = librosa.effects.harmonic(y, **stft)
        rows["tonnetz"] = librosa.feature.tonnetz(y=harmonic, sr=sr, hop_length=cfg.hop_length)
    _time_domain(y, rows, cfg)
    return rows


def _zero_crossing_rate(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """librosa.feature.zero_crossing_rate(y) (centered, defaults), bit for bit, ~4x faster.

    librosa marks crossings frame by frame on a framed copy of the signal (frame_length values
    per frame); here each crossing is marked once and counted per frame with a cumulative sum.
    As in librosa: edge padding, |x| <= 1e-10 counts as +0, and the first sample of a frame
    never counts (pad=False). A test checks equality with librosa itself.
    """
    padded = np.pad(y.astype(np.float32, copy=False), frame_length // 2, mode="edge")
    negative = np.signbit(np.where(np.abs(padded) <= np.float32(1e-10), np.float32(0), padded))
    crossed = np.zeros(len(padded), dtype=np.int64)  # crossed[k]: crossings between 0 and k
    np.cumsum(negative[1:] != negative[:-1], out=crossed[1:])
    starts = np.arange(1 + (len(padded) - frame_length) // hop_length) * hop_length
    counts = crossed[starts + frame_length - 1] - crossed[starts]
    return (counts / frame_length)[np.newaxis, :]


@functools.lru_cache(maxsize=32)
def _mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    with _quiet():  # many bands on a small n_fft leave some empty: librosa warns, rows are zero
        fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
    fb.setflags(write=False)
    return fb


@functools.lru_cache(maxsize=512)
def _chroma_basis(sr: int, n_fft: int, tuning: float) -> np.ndarray:
    # tuning is a multiple of 0.01 in [-0.5, 0.5) (estimate_tuning's histogram), so few entries.
    fb = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=N_CHROMA)
    fb.setflags(write=False)
    return fb


@functools.lru_cache(maxsize=32)
def _tuning_band(sr: int, n_fft: int) -> tuple[int, int]:
    """FFT bins piptrack may report a pitch in (150 Hz <= f < 4 kHz): all interior bins."""
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    inside = np.flatnonzero((150.0 <= freqs) & (freqs < min(4000.0, sr / 2)))
    return int(inside[0]), int(inside[-1]) + 1


def _estimate_tuning(power: np.ndarray, sr: int, n_fft: int) -> float:
    """librosa.estimate_tuning(S=power, sr=sr, bins_per_octave=12), bit for bit, ~3x faster.

    piptrack's gradient, parabolic shift and local-maximum test are all 3-bin stencils, and
    only bins in [150 Hz, 4 kHz) can hold a pitch, so it is enough to evaluate them on that
    band (plus one neighbour each side) instead of the whole spectrogram. The arithmetic,
    dtypes included, copies librosa 0.11's piptrack and its numba stencils; a test checks
    equality with librosa itself.
    """
    lo, hi = _tuning_band(sr, n_fft)
    s = np.abs(power)
    ref = 0.1 * np.max(s, axis=-2, keepdims=True)  # piptrack's threshold * max over all bins
    x = s[lo - 1 : hi + 1]  # the band with one neighbour on each side
    below, mid, above = x[:-2], x[1:-1], x[2:]
    grad = (above - below) / 2.0  # np.gradient, interior
    a = (above + below).astype(np.float64) - 2 * mid.astype(np.float64)  # numba's float64 promotion
    b = (above - below).astype(np.float64) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(b) >= np.abs(a), 0.0, -b / a).astype(np.float32)
    dskew = 0.5 * grad * shift
    xt = x * (x > ref)  # localmax of the thresholded spectrum
    peak = (xt[1:-1] > xt[:-2]) & (xt[1:-1] >= xt[2:])
    f_idx, t_idx = np.nonzero(peak)
    pitch = ((f_idx + lo + shift[f_idx, t_idx]) * float(sr) / n_fft).astype(np.float32)
    mag = (mid[f_idx, t_idx] + dskew[f_idx, t_idx]).astype(np.float32)
    keep = pitch > 0
    threshold = np.median(mag[keep]) if keep.any() else 0.0
    return float(librosa.pitch_tuning(pitch[(mag >= threshold) & keep], resolution=0.01,
                                      bins_per_octave=N_CHROMA))


def _chroma(power: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """chroma_stft's last two steps, on a precomputed power spectrogram and filterbank."""
    raw = np.einsum("cf,...ft->...ct", fb, power, optimize=True)
    return librosa.util.normalize(raw, norm=np.inf, axis=-2)


def _fast_groups(y: np.ndarray, cfg: FeatureConfig) -> dict[str, np.ndarray]:
    """The seed's rows from one shared STFT; tonnetz from its chroma instead of a CQT.

    Each step is the librosa function the seed calls, handed the shared spectrogram, so all
    rows but tonnetz equal the seed's (same STFT, same filterbanks, same tuning estimate).
    """
    sr, n_fft = cfg.sample_rate, cfg.n_fft
    rows: dict[str, np.ndarray] = {}
    spectral = ("mfcc", "delta", "delta2", "chroma", "mel", "contrast", "tonnetz")
    if _needs(cfg, *spectral):
        mag = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=cfg.hop_length))
        power = mag**2  # what librosa's _spectrogram(power=2) computes
        if _needs(cfg, "mfcc", "delta", "delta2"):
            mel128 = np.einsum("...ft,mf->...mt", power, _mel_basis(sr, n_fft, MFCC_MELS), optimize=True)
            mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel128), n_mfcc=cfg.n_mfcc)
            _deltas(mfcc, rows, cfg)
        if _needs(cfg, "mel"):
            mel = np.einsum("...ft,mf->...mt", power, _mel_basis(sr, n_fft, cfg.n_mels), optimize=True)
            rows["mel"] = librosa.power_to_db(mel) if cfg.mel_db else mel
        if _needs(cfg, "chroma", "tonnetz"):
            tuning = _estimate_tuning(power, sr, n_fft)
            fb = _chroma_basis(sr, n_fft, float(tuning))
            chroma = _chroma(power, fb) if _needs(cfg, "chroma") or not cfg.fast_hpss else None
            if chroma is not None:
                rows["chroma"] = chroma
            if _needs(cfg, "tonnetz"):
                if cfg.fast_hpss:
                    harmonic, _ = librosa.decompose.hpss(mag)
                    chroma = _chroma(harmonic**2, fb)
                rows["tonnetz"] = librosa.feature.tonnetz(chroma=chroma)
        if _needs(cfg, "contrast"):
            rows["contrast"] = librosa.feature.spectral_contrast(S=mag, sr=sr, n_fft=n_fft)
    _time_domain(y, rows, cfg)
    return rows


# ------------------------------------------------------------------------------------------------
# The original


def seed_reference(path: str | os.PathLike) -> np.ndarray:
    """The seed notebook's feature function as it was (FACTS.md): the baseline for benchmarks.

    No config, no error handling, no warning control: the per-feature librosa calls on the
    first 3 s at 22050 Hz, stacked to (130, 187).
    """
    y, sr = librosa.load(path, sr=22050)
    target = 3 * sr
    if len(y) < target:
        y = np.pad(y, (0, target - len(y)))
    else:
        y = y[:target]
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=40)
    delta = librosa.feature.delta(mfcc)
    delta2 = librosa.feature.delta(mfcc, order=2)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=40)
    contrast = librosa.feature.spectral_contrast(y=y, sr=sr)
    tonnetz = librosa.feature.tonnetz(y=librosa.effects.harmonic(y), sr=sr)
    zcr = librosa.feature.zero_crossing_rate(y)
    rms = librosa.feature.rms(y=y)
    feats = np.vstack([mfcc, delta, delta2, chroma, mel, contrast, tonnetz, zcr, rms]).T
    return librosa.util.fix_length(feats, size=130, axis=0)
