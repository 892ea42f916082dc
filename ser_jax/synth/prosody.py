"""How emotions and actors sound: the prosody of each emotion and the voice and style of each actor.

The emotion profiles follow the acoustic correlates reported for acted emotions (pitch level and
range, contour, tempo, loudness, voice quality), so the emotion is really in the signal; actors
differ in voice (pitch, vocal tract length, loudness, tempo) and in how they portray each emotion,
so a classifier cannot learn the emotions perfectly.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ser_jax.corpora.ravdess import EMOTIONS


@dataclasses.dataclass(frozen=True)
class Prosody:
    """How an emotion is spoken: the acoustic correlates reported for acted emotions."""

    f0_st: float  # mean pitch relative to the actor's neutral pitch, semitones
    range_st: float  # size of pitch accents and contour, semitones
    contour: str  # "fall", "rise", "arch" or "flat" over the utterance
    tempo: float  # duration multiplier (> 1 slower)
    level_db: float  # loudest-frame RMS, dBFS
    tilt: float  # 0 breathy/dark ... 1 pressed/bright voice
    jitter: float  # relative period-to-period f0 perturbation
    shimmer: float  # relative period-to-period amplitude perturbation
    breath: float  # aspiration noise relative to the voice
    tremor: float  # 5-8 Hz f0 modulation depth, semitones (vibrato depth in song)
    creak: float  # alternate-period damping (vocal fry), 0..1
    formant: tuple[float, float]  # F1, F2 multipliers (smiling raises F2, shouting F1)
    pause_s: float  # extra phrase pause mid-utterance


_NEUTRAL = Prosody(0.0, 2.0, "fall", 1.00, -33.0, 0.45, 0.008, 0.03, 0.03, 0.00, 0.0, (1.0, 1.0), 0.00)
PROSODY = {
    1: _NEUTRAL,
    2: Prosody(-0.6, 1.7, "fall", 1.06, -36.0, 0.40, 0.008, 0.03, 0.05, 0.00, 0.0, (0.99, 0.99), 0.05),
    3: Prosody(2.4, 5.0, "arch", 0.95, -26.0, 0.60, 0.010, 0.04, 0.03, 0.10, 0.0, (1.03, 1.07), 0.00),
    4: Prosody(1.2, 1.4, "fall", 1.18, -32.0, 0.22, 0.020, 0.06, 0.09, 0.20, 0.0, (0.96, 0.95), 0.12),
    5: Prosody(2.3, 4.0, "fall", 0.96, -21.0, 0.90, 0.015, 0.05, 0.02, 0.00, 0.1, (1.10, 1.03), 0.00),
    6: Prosody(4.6, 3.0, "flat", 0.88, -24.0, 0.55, 0.030, 0.07, 0.08, 0.45, 0.0, (1.02, 1.02), 0.03),
    7: Prosody(0.8, 3.0, "fall", 1.14, -30.0, 0.50, 0.025, 0.06, 0.05, 0.00, 0.35, (0.98, 0.97), 0.06),
    8: Prosody(4.3, 7.0, "rise", 0.97, -28.0, 0.60, 0.010, 0.04, 0.04, 0.05, 0.0, (1.04, 1.03), 0.00),
}
assert set(PROSODY) == set(EMOTIONS)
STRONG_GAIN = 1.6  # strong intensity exaggerates each deviation from neutral by this factor
STRONG_LEVEL_DB = 4.0  # ... except loudness, which rises by this much (acted strong is louder)


def prosody(emotion_code: int, intensity: int) -> Prosody:
    """The emotion's profile; strong intensity moves every field further from neutral."""
    p = PROSODY[emotion_code]
    if intensity == 1:
        return p
    k = STRONG_GAIN

    def ex(a: float, n: float) -> float:
        return n + k * (a - n)

    return dataclasses.replace(
        p,
        f0_st=ex(p.f0_st, _NEUTRAL.f0_st),
        range_st=ex(p.range_st, _NEUTRAL.range_st) * 1.15,
        tempo=ex(p.tempo, _NEUTRAL.tempo),
        level_db=p.level_db + STRONG_LEVEL_DB,
        tilt=float(np.clip(ex(p.tilt, _NEUTRAL.tilt), 0.05, 1.0)),
        jitter=max(ex(p.jitter, _NEUTRAL.jitter), 0.002),
        shimmer=max(ex(p.shimmer, _NEUTRAL.shimmer), 0.01),
        breath=max(ex(p.breath, _NEUTRAL.breath), 0.0),
        tremor=max(ex(p.tremor, _NEUTRAL.tremor), 0.0),
        creak=min(ex(p.creak, _NEUTRAL.creak), 0.6),
        formant=(ex(p.formant[0], 1.0), ex(p.formant[1], 1.0)),
        pause_s=ex(p.pause_s, _NEUTRAL.pause_s),
    )


@dataclasses.dataclass(frozen=True)
class Voice:
    """An actor's voice: what stays the same across their recordings."""

    f0_hz: float
    formant_scale: float
    level_db: float
    tempo: float
    breath: float
    tilt: float


def actor_voice(seed: int, actor: int) -> Voice:
    rng = np.random.default_rng([seed, 1, actor])
    male = actor % 2 == 1
    return Voice(
        f0_hz=(115.0 if male else 205.0) * 2 ** (rng.normal(0, 2.0) / 12),
        formant_scale=(1.0 if male else 1.16) * float(np.exp(rng.normal(0, 0.04))),
        level_db=float(rng.normal(0, 2.0)),
        tempo=float(np.exp(rng.normal(0, 0.07))),
        breath=float(rng.normal(0, 0.015)),
        tilt=float(rng.normal(0, 0.06)),
    )


def actor_style(seed: int, actor: int, emotion_code: int, channel: str) -> np.ndarray:
    """How this actor portrays this emotion differently from others (f0, level, tempo, range, tilt)."""
    rng = np.random.default_rng([seed, 2, actor, emotion_code, 1 if channel == "speech" else 2])
    return rng.normal(0, 1, 5) * np.array([1.0, 2.5, 0.06, 0.2, 0.07])
