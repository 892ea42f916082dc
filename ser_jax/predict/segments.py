"""Stretches of speech cut into the segments a model takes, in samples of the recording.

A model trained on clips of a fixed ``duration`` sees windows of that duration, ``hop`` apart, over
each stretch (a shorter stretch is one segment, zero-padded by the model's own clip policy, as a
file of those samples would be). A full-length model sees each stretch whole, and a stretch longer
than ``max_segment`` is split at its quietest moments into near-equal parts, none longer than the
bound. Every stretch is first widened by ``context`` seconds each side: training clips have some
silence around their speech.
"""

from __future__ import annotations

import math

from ser_jax import features as features_lib
from ser_jax.predict import speech

CUT_SEARCH_SECONDS = 1.0  # a split of a long stretch moves at most this far to find a quiet frame


def widen(stretches: list[tuple[int, int]], rec: speech.Recording, context: float) -> list[tuple[int, int]]:
    """Each stretch with ``context`` seconds more each side, within the recording."""
    pad = int(round(context * rec.sample_rate))
    return [(max(0, a - pad), min(rec.num_samples, b + pad)) for a, b in stretches]


def windows(stretch: tuple[int, int], window: int, hop: int) -> list[tuple[int, int]]:
    """Fixed-duration models: windows of ``window`` samples every ``hop`` over the stretch."""
    a, b = stretch
    if b - a <= window:
        return [(a, b)]
    return [(a + s, a + s + window) for s in features_lib.window_starts(b - a, window, hop)]


def split(stretch: tuple[int, int], rec: speech.Recording, longest: int) -> list[tuple[int, int]]:
    """Full-length models: the stretch in parts of at most ``longest`` samples, cut at quiet frames.

    Parts are about 0.8 x ``longest`` before each cut moves to the quietest frame within
    min(1 s, 0.1 x longest) of it, so no part exceeds the bound.
    """
    a, b = stretch
    if b - a <= longest:
        return [stretch]
    parts = math.ceil((b - a) / (0.8 * longest))
    reach = int(min(CUT_SEARCH_SECONDS * rec.sample_rate, 0.1 * longest))
    cuts = [a]
    for k in range(1, parts):
        target = a + round(k * (b - a) / parts)
        cuts.append(max(cuts[-1] + 1, speech.quietest(rec, target - reach, target + reach)))
    cuts.append(b)
    return list(zip(cuts[:-1], cuts[1:]))


def cut(stretches: list[tuple[int, int]], rec: speech.Recording, duration: float | None, hop: float | None,
        max_segment: float, context: float) -> list[tuple[int, int]]:
    """The segments (first, stop) of the recording's speech for a model of this ``duration``
    (None: full length), in time order."""
    out: list[tuple[int, int]] = []
    for stretch in widen(stretches, rec, context):
        if duration is None:
            out += split(stretch, rec, max(1, int(round(max_segment * rec.sample_rate))))
        else:
            window = max(1, int(round(duration * rec.sample_rate)))
            step = max(1, int(round((duration / 2 if hop is None else hop) * rec.sample_rate)))
            out += windows(stretch, window, step)
    return out
