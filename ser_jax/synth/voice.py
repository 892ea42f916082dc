"""The source-filter voice that renders one file: glottal pulses through formant resonators.

Each file is a take drawn from ``(seed, its name fields)`` only, so it is byte-identical whichever
other files are generated, in whichever process: its timeline of syllables (consonants as
band-passed noise, vowels through the formants of the two RAVDESS statements), its pitch track
(intonation for speech, held notes with vibrato on a melody for song), the glottal source with
jitter, shimmer, creak and aspiration, then level, silences, noise floor and quantisation.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import numpy as np
from scipy import signal

from ser_jax.synth.design import CHANNEL_CODE, MAX_SECONDS, MIN_SECONDS, FileSpec, SynthConfig
from ser_jax.synth.prosody import Prosody, actor_style, actor_voice, prosody

_CTRL = 1000.0  # control rate (Hz) of the pitch and envelope tracks
_LEVEL_FRAME_S = 0.0464  # frame for the loudness target (1024 samples at 22.05 kHz)

# Male adult vowel formants F1-F3 (Hz), after Peterson & Barney (1952).
_I, _A, _O, _E = (390, 1990, 2550), (730, 1090, 2440), (570, 840, 2410), (500, 1500, 2500)
_OR = (570, 900, 1800)  # r-coloured "door"
_AI = (_A, _I)  # diphthong "by": two halves
_BANDWIDTHS = (80.0, 100.0, 150.0, 250.0, 300.0)
_HIGHER_FORMANTS = (3500.0, 4500.0)

# kind, duration (s), noise band: "hi" (s, z, t) or "mid" (k, g, b, d, th)
_CONSONANTS = {
    "k": ("stop", 0.055, "mid"),
    "t": ("stop", 0.050, "hi"),
    "d": ("vstop", 0.040, "hi"),
    "b": ("vstop", 0.035, "mid"),
    "s": ("fric", 0.110, "hi"),
    "z": ("vfric", 0.080, "hi"),
    "dh": ("vfric", 0.035, "mid"),
}

# (onset, vowel, coda, stressed, ends a word, vowel seconds)
_STATEMENTS = {
    1: (  # "Kids are talking by the door"
        ("k", _I, "z", 1, True, 0.12),
        (None, _A, None, 0, True, 0.10),
        ("t", _O, "k", 1, False, 0.14),
        (None, _I, None, 0, True, 0.10),
        ("b", _AI, None, 0, True, 0.16),
        ("dh", _E, None, 0, True, 0.06),
        ("d", _OR, None, 1, True, 0.24),
    ),
    2: (  # "Dogs are sitting by the door"
        ("d", _O, "z", 1, True, 0.13),
        (None, _A, None, 0, True, 0.10),
        ("s", _I, "t", 1, False, 0.11),
        (None, _I, None, 0, True, 0.09),
        ("b", _AI, None, 0, True, 0.16),
        ("dh", _E, None, 0, True, 0.06),
        ("d", _OR, None, 1, True, 0.24),
    ),
}
# Song melodies, semitones above the tonic, one note per syllable.
_MELODIES = {1: (0, 2, 4, 4, 5, 4, 0), 2: (7, 5, 4, 4, 2, 2, 0)}
_MINOR = {4: 3, 9: 8}  # sad and fearful songs use the minor third and sixth
_SPEECH_STRETCH = 1.35  # the tables above are fast read speech; acted RAVDESS is slower
_MIN_LEAD_S, _MIN_TRAIL_S = 0.3, 0.1
_PHRASE_BREAK = 3  # syllable after which a phrase pause may fall ("talking | by the door")


@functools.lru_cache(maxsize=64)
def _band(sr: int, name: str) -> np.ndarray:
    lo, hi = {"hi": (3500.0, 9000.0), "mid": (1200.0, 4000.0)}[name]
    nyq = sr / 2
    hi = min(hi, 0.9 * nyq)
    lo = min(lo, 0.5 * hi)
    return signal.butter(2, [lo, hi], btype="bandpass", fs=sr, output="sos")


def _resonators(formants: Sequence[float], sr: int) -> np.ndarray:
    """A cascade of 2nd-order all-pole resonators (unit DC gain) as second-order sections."""
    sos = []
    for f, bw in zip(formants, _BANDWIDTHS):
        if f >= 0.45 * sr:
            continue
        r = np.exp(-np.pi * bw / sr)
        a1, a2 = -2 * r * np.cos(2 * np.pi * f / sr), r * r
        sos.append([1 + a1 + a2, 0.0, 0.0, 1.0, a1, a2])
    return np.asarray(sos) if sos else np.array([[1.0, 0, 0, 1.0, 0, 0]])


def _ramps(t: np.ndarray, starts, ends, ramp: float, gains=None) -> np.ndarray:
    """Max over segments of trapezoids that rise and fall over `ramp` seconds."""
    starts, ends = np.asarray(starts, float)[:, None], np.asarray(ends, float)[:, None]
    w = np.clip(np.minimum(t - starts, ends - t) / ramp + 0.5, 0.0, 1.0)
    if gains is not None:
        w = w * np.asarray(gains, float)[:, None]
    return w.max(axis=0) if len(w) else np.zeros_like(t)


def _timeline(
    syllables: Sequence[tuple],
    stretch: float,
    song: bool,
    gaps: np.ndarray,
    syl_jitter: np.ndarray,
    pause_s: float,
) -> tuple[np.ndarray, float]:
    """Rows of (onset start, vowel start, vowel end, coda end) seconds per syllable, and the length.

    Song holds its vowels (notes) about twice as long, with shorter consonants and gaps.
    """
    vmul, cmul, gmul = (2.1, 0.7, 0.4) if song else (1.0, 1.0, 1.0)
    t = 0.0
    rows = []
    for i, (on, _vowel, coda, _stress, word_end, vdur) in enumerate(syllables):
        on_d = _CONSONANTS[on][1] * cmul * stretch if on else 0.0
        co_d = _CONSONANTS[coda][1] * cmul * stretch if coda else 0.0
        v_d = vdur * vmul * stretch * syl_jitter[i]
        rows.append((t, t + on_d, t + on_d + v_d, t + on_d + v_d + co_d))
        t = rows[-1][3]
        if word_end:
            t += (0.02 + gaps[i]) * gmul * stretch
        if i == _PHRASE_BREAK:
            t += pause_s * stretch
    return np.asarray(rows), t + 0.05


def _level_db(y: np.ndarray, sr: int) -> float:
    n = max(int(_LEVEL_FRAME_S * sr), 16)
    frames = y[: len(y) // n * n].reshape(-1, n)
    return float(10 * np.log10(np.max(np.mean(frames**2, axis=1)) + 1e-20))


@dataclasses.dataclass(frozen=True)
class _Take:
    """One recording's drawn parameters: the emotion's profile as this actor did it this time."""

    p: Prosody
    song: bool
    f0_hz: float  # the actor's neutral pitch
    f0_st: float
    level_db: float
    range_st: float
    tilt: float
    jitter: float
    shimmer: float
    breath: float
    formant_scale: float
    trem_hz: float
    drift: tuple[np.ndarray, np.ndarray, np.ndarray]  # amplitudes, frequencies, phases (semitones)
    rows: np.ndarray  # per syllable: onset start, vowel start, vowel end, coda end (s)
    speech_s: float
    lead_s: float
    trail_s: float
    stereo: bool
    stereo_gain: float
    stereo_delay: int


def _draw_take(spec: FileSpec, config: SynthConfig, rng: np.random.Generator) -> _Take:
    """All scalar draws, always in this order, so the parameters do not depend on the sample rate."""
    song = spec.channel == "song"
    voice = actor_voice(config.seed, spec.actor)
    style = actor_style(config.seed, spec.actor, spec.emotion_code, spec.channel)
    p = prosody(spec.emotion_code, spec.intensity)
    dev = rng.normal(0, 1, 12)  # 9 used; the rest keep the stream stable for future parameters
    tempo = p.tempo * voice.tempo * np.exp(style[2] + 0.05 * dev[2])
    drift = (rng.normal(0, 0.5, 3), rng.uniform(0.3, 1.5, 3), rng.uniform(0, 2 * np.pi, 3))
    trem_hz = rng.uniform(5.0, 6.5) if song else rng.uniform(5.0, 7.5)
    lead_s = rng.uniform(_MIN_LEAD_S, 1.0)
    trail_s = rng.uniform(0.2, 0.8)
    gaps = rng.uniform(0.0, 0.04, 7)
    syl_jitter = np.exp(rng.normal(0, 0.08, 7))  # per-syllable duration variation
    stereo = rng.random() < config.stereo_fraction
    stereo_gain, stereo_delay = rng.uniform(0.7, 1.0), int(rng.integers(0, 4))

    syllables = _STATEMENTS[spec.statement]
    pause_s = max(p.pause_s, 0.0) * (0.3 if song else 1.0)
    stretch = _SPEECH_STRETCH * tempo
    rows, speech_s = _timeline(syllables, stretch, song, gaps, syl_jitter, pause_s)
    longest = MAX_SECONDS - _MIN_LEAD_S - _MIN_TRAIL_S
    if speech_s > longest:  # a very slow reading: speak faster rather than break the duration range
        stretch *= 0.99 * longest / speech_s
        rows, speech_s = _timeline(syllables, stretch, song, gaps, syl_jitter, pause_s)
    trail_s = min(trail_s, max(_MIN_TRAIL_S, MAX_SECONDS - speech_s - lead_s))
    lead_s = min(lead_s, MAX_SECONDS - speech_s - trail_s)
    return _Take(
        p=p,
        song=song,
        f0_hz=voice.f0_hz,
        f0_st=p.f0_st + style[0] + 0.7 * dev[0],
        level_db=p.level_db + voice.level_db + style[1] + 2.0 * dev[1],
        range_st=p.range_st * np.exp(style[3] + 0.15 * dev[3]),
        tilt=float(np.clip(p.tilt + voice.tilt + style[4] + 0.05 * dev[4], 0.02, 1.0)),
        jitter=p.jitter * np.exp(0.2 * dev[5]),
        shimmer=p.shimmer * np.exp(0.2 * dev[6]),
        breath=max(p.breath + voice.breath, 0.005) * np.exp(0.3 * dev[7]),
        # Formants vary with the actor (vocal tract length); the emotion adds its own shift.
        formant_scale=voice.formant_scale * np.exp(0.02 * dev[8]),
        trem_hz=trem_hz,
        drift=drift,
        rows=rows,
        speech_s=speech_s,
        lead_s=lead_s,
        trail_s=trail_s,
        stereo=stereo,
        stereo_gain=stereo_gain,
        stereo_delay=stereo_delay,
    )


def _pitch_semitones(take: _Take, statement: int, emotion_code: int, tc: np.ndarray) -> np.ndarray:
    """The f0 track (semitones re the actor's pitch): intonation for speech, held notes for song."""
    p, rows = take.p, take.rows
    u = tc / take.speech_s
    amp, freq, phase = take.drift
    drift = (amp[:, None] * np.sin(2 * np.pi * freq[:, None] * tc + phase[:, None])).sum(0)
    if take.song:
        melody = np.array(_MELODIES[statement])
        if emotion_code in (4, 6):
            melody = np.array([_MINOR.get(int(m), int(m)) for m in melody])
        idx = np.clip(np.searchsorted(rows[:, 0], tc, side="right") - 1, 0, len(rows) - 1)
        glide = np.hanning(int(0.06 * _CTRL) + 1)  # portamento between notes
        notes = np.convolve(np.pad(melody[idx].astype(float), len(glide)), glide / glide.sum(), "same")
        notes = notes[len(glide) : -len(glide)]
        grow = np.clip((tc - rows[idx, 1]) / 0.25, 0, 1)  # vibrato grows over each held note
        vib = (0.25 + p.tremor) * grow * np.sin(2 * np.pi * take.trem_hz * tc)
        return take.f0_st + notes - 3.0 + vib + 0.2 * drift + 0.05 * take.range_st * np.sin(np.pi * u)
    shape = {
        "fall": 0.5 - u,
        "rise": -0.3 + 1.3 * u**3,
        "arch": np.sin(np.pi * u) - 0.5,
        "flat": 0.1 * np.sin(2 * np.pi * u),
    }[p.contour]
    stressed = np.array([s[3] for s in _STATEMENTS[statement]], bool)
    vmid = (rows[stressed, 1] + rows[stressed, 2]) / 2
    vhalf = (rows[stressed, 2] - rows[stressed, 1]) / 2
    accents = np.exp(-0.5 * ((tc[None] - vmid[:, None]) / (vhalf[:, None] + 1e-3)) ** 2)
    accents = (accents * np.linspace(1.0, 0.6, stressed.sum())[:, None]).sum(0)
    tremor = p.tremor * np.sin(2 * np.pi * take.trem_hz * tc)
    return take.f0_st + take.range_st * (0.6 * shape + 0.5 * accents) + drift + tremor


def _envelopes(take: _Take, statement: int, tc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voicing gain and the two consonant-noise envelopes ("hi" and "mid" bands) on the control grid."""
    syllables, rows = _STATEMENTS[statement], take.rows
    stressed = np.array([s[3] for s in syllables], bool)
    stress_gain = np.where(stressed, 1.0, 0.85 if take.song else 0.6)
    voicing = _ramps(tc, rows[:, 1], rows[:, 2], 0.05 if take.song else 0.025, stress_gain)
    env = {"hi": np.zeros_like(tc), "mid": np.zeros_like(tc)}
    for i, (onset, _vowel, coda, *_rest) in enumerate(syllables):
        for cons, a, b in ((onset, rows[i, 0], rows[i, 1]), (coda, rows[i, 2], rows[i, 3])):
            if cons is None:
                continue
            kind, _dur, band = _CONSONANTS[cons]
            if kind in ("stop", "vstop"):  # closure, then a decaying burst
                t0 = a + 0.7 * (b - a)
                burst = np.where(tc >= t0, np.exp(-(tc - t0) / 0.012), 0.0)
                env[band] += (0.5 if kind == "stop" else 0.25) * burst * (tc < b + 0.03)
                if kind == "vstop":
                    voicing = np.maximum(voicing, 0.15 * _ramps(tc, [a], [b], 0.01))
            else:
                env[band] += (0.6 if kind == "fric" else 0.3) * _ramps(tc, [a], [b], 0.02)
                if kind == "vfric":
                    voicing = np.maximum(voicing, 0.35 * _ramps(tc, [a], [b], 0.015))
    voicing *= 10 ** (-4.0 * (tc / take.speech_s) / 20)  # the voice fades a little over the utterance
    return voicing, env["hi"], env["mid"]


def _glottal_source(
    take: _Take, f0: np.ndarray, voicing: np.ndarray, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """Rosenberg flow-derivative pulses with jitter, shimmer, creak and aspiration noise, tilted."""
    n = len(f0)
    phi0 = np.cumsum(f0) / sr
    per_jit = 1 + take.jitter * rng.standard_normal(int(phi0[-1]) + 2)
    phi = np.cumsum(f0 * per_jit[phi0.astype(np.int64)]) / sr
    k = phi.astype(np.int64)  # period index
    frac = phi - k
    oq = 0.75 - 0.35 * take.tilt  # open quotient: pressed voices close fast and early
    tp, tn = 0.72 * oq, 0.28 * oq
    rising = frac < tp
    falling = ~rising & (frac < tp + tn)
    dflow = np.zeros(n)
    dflow[rising] = (np.pi / (2 * tp)) * np.sin(np.pi * frac[rising] / tp)
    dflow[falling] = -(np.pi / (2 * tn)) * np.sin(0.5 * np.pi * (frac[falling] - tp) / tn)
    flow = np.zeros(n)
    flow[rising] = 0.5 * (1 - np.cos(np.pi * frac[rising] / tp))
    flow[falling] = np.cos(0.5 * np.pi * (frac[falling] - tp) / tn)
    per_amp = np.exp(take.shimmer * rng.standard_normal(int(k[-1]) + 1))
    if take.p.creak > 0:
        per_amp[1::2] *= 1 - take.p.creak
    src = dflow * per_amp[k]
    src *= 1.0 / (np.sqrt(np.mean(src**2)) + 1e-12)
    aspiration = np.diff(rng.standard_normal(n + 1)) * (0.3 + 0.7 * flow) * (3 * take.breath)
    src = (src + aspiration) * voicing
    fc = min(400.0 * 2 ** (4 * take.tilt), 0.4 * sr)  # spectral tilt: one-pole low-pass
    a = np.exp(-2 * np.pi * fc / sr)
    return signal.lfilter([1 - a], [1, -a], src)


def _vocal_tract(take: _Take, statement: int, src: np.ndarray, sr: int) -> np.ndarray:
    """Each syllable's stretch of source through its vowel's formants (diphthongs switch midway)."""
    n = len(src)
    tail = int(0.03 * sr)  # let each resonator ring out
    y = np.zeros(n + tail)
    bounds = (np.r_[take.rows[:, 0], take.speech_s] * sr).round().astype(int)
    bounds[0], bounds[-1] = 0, n
    f1m, f2m = take.p.formant
    for i, syl in enumerate(_STATEMENTS[statement]):
        vowel = syl[1]
        halves = vowel if isinstance(vowel[0], tuple) else (vowel,)
        cuts = np.linspace(bounds[i], bounds[i + 1], len(halves) + 1).round().astype(int)
        if len(halves) == 2:
            cuts[1] = int(round((take.rows[i, 1] + take.rows[i, 2]) / 2 * sr))
        for (f1, f2, f3), c0, c1 in zip(halves, cuts[:-1], cuts[1:]):
            if c1 <= c0:
                continue
            formants = np.array([f1 * f1m, f2 * f2m, f3, *_HIGHER_FORMANTS]) * take.formant_scale
            piece = np.concatenate([src[c0:c1], np.zeros(tail)])
            y[c0 : c1 + tail] += signal.sosfilt(_resonators(tuple(formants), sr), piece)
    return y[:n]


def render(spec: FileSpec, config: SynthConfig = SynthConfig()) -> np.ndarray:
    """One file's audio as int16, shape (n,) or (n, 2) for the few stereo files."""
    sr = config.sample_rate
    rng = np.random.default_rng(
        [config.seed, 0, CHANNEL_CODE[spec.channel], spec.emotion_code, spec.intensity,
         spec.statement, spec.repetition, spec.actor]
    )
    take = _draw_take(spec, config, rng)
    tc = np.arange(0.0, take.speech_s, 1 / _CTRL)  # control-rate grid
    f0_ctrl = take.f0_hz * 2 ** (_pitch_semitones(take, spec.statement, spec.emotion_code, tc) / 12)
    voicing, hi_env, mid_env = _envelopes(take, spec.statement, tc)

    n = int(round(take.speech_s * sr))
    ta = np.arange(n) / sr
    src = _glottal_source(take, np.interp(ta, tc, f0_ctrl), np.interp(ta, tc, voicing), sr, rng)
    y = _vocal_tract(take, spec.statement, src, sr)
    voice_rms = np.sqrt(np.mean(y**2)) + 1e-12
    white = rng.standard_normal((2, n))
    for env, band, noise in ((hi_env, "hi", white[0]), (mid_env, "mid", white[1])):
        if env.any():  # consonant noise, 10-20 dB below the vowels as in real speech
            noise_band = signal.sosfilt(_band(sr, band), noise)
            noise_band *= 1.0 / (np.sqrt(np.mean(noise_band**2)) + 1e-12)
            y += 0.5 * voice_rms * noise_band * np.interp(ta, tc, env)

    # Level, silences, noise floor, quantisation.
    y *= 10 ** ((take.level_db - _level_db(y, sr)) / 20)
    peak = np.max(np.abs(y))
    if peak > 0.97:  # a limiter, as a recording engineer would set the gain
        y *= 0.97 / peak
    lead, trail = int(round(take.lead_s * sr)), int(round(take.trail_s * sr))
    total = int(np.clip(lead + n + trail, np.ceil(MIN_SECONDS * sr), np.floor(MAX_SECONDS * sr)))
    out = rng.standard_normal((2 if take.stereo else 1, total)) * 10 ** (config.noise_dbfs / 20)
    out[0, lead : lead + n] += y
    if take.stereo:  # a second microphone: a little quieter and later
        d = take.stereo_delay
        out[1, lead + d : lead + d + n] += take.stereo_gain * y
    pcm = np.clip(np.round(out.T * 32767.0), -32768, 32767).astype(np.int16)
    return pcm if take.stereo else pcm[:, 0]
