"""What to compute per clip: :class:`FeatureConfig`, validated, and the key that names its caches.

The config says which recipe (``seed``, ``fast``, ``whisper``...: the modules of features/recipes/,
found by name) computes which feature groups at which rate, window and length, and which perturbation
a training copy gets. The fields every recipe reads are checked here; a recipe's own fields (``FIELDS``
of its module: ``fast_hpss``, the ``encoder_*`` fields) by the recipe's ``check``, and held at their
defaults for every other recipe; a perturbation's field by its module in ser_jax.perturb. Its
:meth:`FeatureConfig.to_dict` and :meth:`FeatureConfig.key` name feature caches, so they change only
when the features would: a config written before a field existed keeps its key. This module imports
neither librosa nor JAX, so any process may read configs.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from importlib import metadata
from typing import Any

import numpy as np
import soundfile as sf

from ser_jax import encoders, perturb, plugins
from ser_jax.features import recipes
from ser_jax.fields import setting

# The seed's row order.
ALL_GROUPS = ("mfcc", "delta", "delta2", "chroma", "mel", "contrast", "tonnetz", "zcr", "rms")
# Computed only when asked for (not in the defaults, so default cache keys never change):
# egemaps = the 25 low-level descriptors of openSMILE's eGeMAPSv02 set, compare = the 65 of its
# ComParE_2016 set (features/recipes/_opensmile.py), both read at the handcrafted recipes' frames.
OPTIONAL_GROUPS = ("egemaps", "compare")
OPENSMILE_GROUPS = {"egemaps": "eGeMAPSv02", "compare": "ComParE_2016"}  # group -> opensmile.FeatureSet
GROUP_ORDER = ALL_GROUPS + OPTIONAL_GROUPS
# How an encoder recipe stores a clip: every frame, or one frame holding the mean of the clip's frames
# (each hidden state pooled on its own). A head that mean-pools after a linear layer weighting (superb
# with --superb.pooling=mean) gives the same output on either, and the pooled cache is ~150x smaller, so
# training holds it in memory instead of streaming gigabytes. meanstd: each state's mean and standard
# deviation side by side (statistics pooling, as x-vectors), a state twice as wide.
ENCODER_POOLS = ("frames", "mean", "meanstd")
# Bump when the numbers an unchanged FeatureConfig produces change, so old caches are not reused.
FEATURES_VERSION = 1
MFCC_MELS = 128  # librosa.feature.mfcc computes its MFCC from a 128-band dB mel spectrogram

_SAMPLE_RATES = (16000, 96000)  # contrast needs bands up to 6.4 kHz, the seed's CQT up to 4.2 kHz
_N_FFT = (256, 16384)
_N_MFCC = (1, MFCC_MELS)
_N_MELS = (1, 512)
_MIN_HOP = 16


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """What to compute per clip. The defaults are exactly the seed notebook's features."""

    recipe: str = setting("seed", "seed: the original notebook's features exactly; fast: one shared STFT, tonnetz "
                          "from the STFT chroma (no harmonic separation); whisper: the hidden states of a "
                          "pretrained Whisper encoder (--encoder), 16 kHz, 50 frames/s, groups h0..hN (its "
                          "sample rate, n_fft and hop are fixed); whisper_egemaps: those states pooled over the "
                          "clip and openSMILE's 88 eGeMAPS functionals beside them (group egemaps88). Or the "
                          "import path of a recipe module of your own (e.g. my_lab.my_recipe).")
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
    # --copies, never directly; each is validated by its module in ser_jax.perturb.
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
        def check_int(field: str, lo: int, hi: int, extra: str = "") -> None:
            v = getattr(self, field)
            if not is_int(v) or not lo <= v <= hi:
                raise invalid(field, f"an integer in [{lo}, {hi}]{extra}", v)
            object.__setattr__(self, field, int(v))  # numpy integers would not survive json

        if self.recipe not in recipes.RECIPES and not plugins.is_path(self.recipe):
            raise invalid("recipe", " or ".join(repr(r) for r in recipes.RECIPES) + " (or a module's import path)",
                          self.recipe)
        recipe = recipes.get_recipe(self.recipe)
        for field, value in recipe.FIXED.items():  # e.g. an encoder's own front end: fixed, not chosen
            object.__setattr__(self, field, value)
        check_int("sample_rate", *_SAMPLE_RATES, " Hz")
        d = self.duration
        if d is not None:
            if isinstance(d, bool) or not isinstance(d, (int, float, np.integer, np.floating)):
                raise invalid("duration", "a positive number of seconds or None (full length)", d)
            if not math.isfinite(d) or d * self.sample_rate < 1:
                raise invalid("duration", "a positive number of seconds (at least one sample) or None", d)
            object.__setattr__(self, "duration", float(d))
        check_int("n_fft", *_N_FFT)
        if self.n_fft % 2:
            raise invalid("n_fft", f"an even integer in [{_N_FFT[0]}, {_N_FFT[1]}]", self.n_fft)
        check_int("hop_length", _MIN_HOP, self.n_fft, " (at most n_fft)")
        check_int("n_mfcc", *_N_MFCC, f" (MFCCs come from a {MFCC_MELS}-band mel spectrogram)")
        check_int("n_mels", *_N_MELS)
        if not isinstance(self.mel_db, (bool, np.bool_)):
            raise invalid("mel_db", "True or False", self.mel_db)
        object.__setattr__(self, "mel_db", bool(self.mel_db))
        self._check_recipe_fields(recipe)
        order = tuple(recipe.group_sizes(self))
        if tuple(self.groups) == ALL_GROUPS and not set(ALL_GROUPS) <= set(order):
            object.__setattr__(self, "groups", order)  # the default, for a recipe with other groups: all of its own
        groups = self.groups
        if isinstance(groups, str) or not isinstance(groups, (tuple, list)):
            raise invalid("groups", f"a non-empty tuple drawn from {order}", groups)
        unknown = [g for g in groups if g not in order]
        if not groups or unknown or len(set(groups)) != len(groups):
            raise invalid("groups", f"a non-empty tuple without repeats drawn from {order}", groups)
        object.__setattr__(self, "groups", tuple(g for g in order if g in groups))
        for p in perturb.PERTURBATIONS.values():  # speed, vtlp, noise_snr: each checked by its perturbation
            object.__setattr__(self, p.FIELD, p.check(getattr(self, p.FIELD)))

    def _check_recipe_fields(self, recipe: Any) -> None:
        """A recipe's own fields by the recipe's ``check``; those of other recipes held at their defaults
        (a setting the chosen recipe ignores would otherwise pass unnoticed)."""
        own = set(getattr(recipe, "FIELDS", ()))
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for field, names in recipes.owners().items():
            if field in own:
                continue
            value = getattr(self, field)
            if not _equals(value, defaults[field]):
                raise invalid(field, f"{defaults[field]!r} unless the recipe is "
                              + " or ".join(repr(n) for n in names), value)
            object.__setattr__(self, field, defaults[field])
        if own:
            checked = recipe.check(self)
            assert set(checked) <= own, f"recipe {self.recipe} set fields it does not own: {set(checked) - own}"
            for field, value in checked.items():
                object.__setattr__(self, field, value)

    @property
    def uses_encoder(self) -> bool:
        """True when the recipe's features are a pretrained encoder's hidden states (the encoder fields count)."""
        return recipes.get_recipe(self.recipe).ENCODER

    @property
    def perturbed(self) -> bool:
        """True for the config of a training copy (never used for validation, test or predict)."""
        return any(getattr(self, p.FIELD) != p.UNCHANGED for p in perturb.PERTURBATIONS.values())

    def to_dict(self) -> dict:
        """JSON-ready fields (groups as a list)."""
        d = dataclasses.asdict(self)
        d["groups"] = list(self.groups)
        # Left out at their defaults, so that unperturbed configs keep the keys (and caches) they had.
        for field in ("speed", "vtlp"):
            if d[field] == 1.0:
                del d[field]
        if not self.uses_encoder:  # keys of the other recipes stay as they were
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
        if self.uses_encoder:  # the encoder runs in JAX (its weights are in the config)
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


def cache_groups(wanted: tuple[str, ...] = (), recipe: str = "seed", encoder: str = encoders.DEFAULT,
                 encoder_pool: str = "mean") -> tuple[str, ...]:
    """The groups a feature cache holds for a job using ``wanted``: every default group (so runs on
    different subsets share one cache) plus the optional groups named; for an encoder recipe, every
    hidden state, except in a frame cache (``encoder_pool=frames``, ~150x a pooled one per state),
    which holds only the states named (all when none are)."""
    if recipes.get_recipe(recipe).ENCODER:
        try:
            encoders.describe(encoder)
        except encoders.EncoderError as e:
            raise ValueError(f"--encoder: {e}") from None
        order = FeatureConfig(recipe=recipe, encoder=encoder, encoder_pool=encoder_pool).groups  # all the recipe has
        unknown = sorted(set(wanted) - set(order))
        if unknown:
            raise ValueError(f"--feature_groups: unknown group(s) {', '.join(unknown)} for --recipe={recipe}; "
                             f"choose from its hidden states {', '.join(order)}")
        if encoder_pool == "frames" and wanted:
            return tuple(g for g in order if g in wanted)
        return order
    unknown = sorted(set(wanted) - set(GROUP_ORDER))
    if unknown:
        raise ValueError(f"--feature_groups: unknown group(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(GROUP_ORDER)}")
    return ALL_GROUPS + tuple(g for g in OPTIONAL_GROUPS if g in wanted)


def invalid(field: str, allowed: str, value: Any) -> ValueError:
    """The one-line error for a bad value of a FeatureConfig field (recipes' checks raise it too)."""
    return ValueError(f"FeatureConfig.{field} must be {allowed}, got {value!r}")


def is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _equals(value: Any, default: Any) -> bool:
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # e.g. an array
        return False


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
