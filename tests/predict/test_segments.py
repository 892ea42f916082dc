"""How stretches of speech become the segments a model takes (ser_jax.predict.segments)."""

from __future__ import annotations

import numpy as np

from ser_jax.predict import segments, speech


def _rec(seconds: float, sr: int = 1000, quiet_at: tuple[float, ...] = ()) -> speech.Recording:
    hop, frame = 10, 25
    n = int(seconds * sr)
    power = np.ones(1 + (n - frame) // hop)
    for q in quiet_at:
        power[int(q * sr) // hop] = 1e-6
    return speech.Recording("x.wav", sr, n, power, frame, hop)


def test_fixed_duration_models_get_windows_of_their_duration_over_each_stretch():
    rec = _rec(30.0)
    got = segments.cut([(1000, 2500), (5000, 10000)], rec, duration=2.0, hop=1.0, max_segment=6.0, context=0.0)
    assert got[0] == (1000, 2500)  # shorter than the window: one segment, the model pads it
    assert got[1:] == [(5000, 7000), (6000, 8000), (7000, 9000), (8000, 10000)]
    # The default hop is half the duration; the last window ends at the stretch's end.
    assert segments.cut([(0, 5500)], rec, 2.0, None, 6.0, 0.0) == [(0, 2000), (1000, 3000), (2000, 4000),
                                                                    (3000, 5000), (3500, 5500)]


def test_context_widens_each_stretch_within_the_recording():
    rec = _rec(10.0)
    assert segments.cut([(100, 1000), (5000, 9950)], rec, None, None, 20.0, context=0.2) == [(0, 1200), (4800, 10000)]


def test_full_length_models_see_stretches_whole_and_long_ones_split_at_quiet_frames_within_the_bound():
    rec = _rec(60.0, quiet_at=(8.7, 16.5, 31.0))
    assert segments.cut([(0, 5000)], rec, None, None, max_segment=6.0, context=0.0) == [(0, 5000)]
    parts = segments.cut([(0, 40000)], rec, None, None, max_segment=10.0, context=0.0)
    assert parts[0][0] == 0 and parts[-1][1] == 40000
    assert all(b == c for (_, b), (c, _) in zip(parts, parts[1:]))  # contiguous, no overlap
    assert all(b - a <= 10000 for a, b in parts)
    cuts = [b / 1000 for _, b in parts[:-1]]
    assert any(abs(c - 8.7) < 0.05 for c in cuts) and any(abs(c - 31.0) < 0.05 for c in cuts)
