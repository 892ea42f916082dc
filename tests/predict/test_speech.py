"""Where a long recording has speech (ser_jax.predict.speech): frame energies read in blocks of any
size give the same frames, and the threshold finds stretches of sound between silences."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from ser_jax import audio
from ser_jax.predict import speech


def _blocks(y: np.ndarray, sizes: list[int]):
    i = 0
    for n in sizes:
        yield y[i : i + n]
        i += n
    if i < len(y):
        yield y[i:]


@pytest.mark.parametrize("n", [7, 400, 401, 1234, 16000])
def test_frame_power_does_not_depend_on_how_the_samples_are_blocked(n):
    rng = np.random.default_rng(n)
    y = rng.standard_normal(n).astype(np.float32)
    whole = speech.frame_power([y], 400, 160)
    for sizes in ([1] * 50, [399, 2, 161], list(rng.integers(1, 700, size=40))):
        assert np.array_equal(speech.frame_power(_blocks(y, sizes), 400, 160), whole)
    if n >= 560:  # every full frame is the mean square of its own samples
        assert whole[1] == pytest.approx(np.mean(y[160:560].astype(np.float64) ** 2))
        assert len(whole) >= 1 + (n - 400) // 160


def _tone_bursts(tmp_path, bursts, sr=8000, seconds=6.0):
    y = np.zeros(int(seconds * sr), np.float32)
    t = np.arange(len(y)) / sr
    for a, b in bursts:
        on = (t >= a) & (t < b)
        y[on] = 0.3 * np.sin(2 * np.pi * 220 * t[on])
    path = tmp_path / "bursts.wav"
    sf.write(path, y, sr, subtype="PCM_16")
    return path, sr


def test_regions_find_sound_between_silences_close_short_gaps_and_drop_clicks(tmp_path):
    # Two words 0.2 s apart (one stretch), a pause of 1 s, a third word; a 50 ms click at the end.
    path, sr = _tone_bursts(tmp_path, [(0.5, 1.2), (1.4, 2.0), (3.0, 4.0), (5.0, 5.05)])
    rec = speech.read(path, block_seconds=0.33)
    assert rec.sample_rate == sr and rec.num_samples == 6 * sr
    found = [(a / sr, b / sr) for a, b in speech.regions(rec, top_db=40, floor_db=-60, min_pause=0.5,
                                                         min_speech=0.2)]
    assert len(found) == 2
    for (a, b), (ta, tb) in zip(found, [(0.5, 2.0), (3.0, 4.0)]):
        assert abs(a - ta) <= 0.03 and abs(b - tb) <= 0.03
    # With a shorter pause rule the two words are two stretches; without the click rule, the click counts.
    assert len(speech.regions(rec, 40, -60, min_pause=0.1, min_speech=0.2)) == 3
    assert len(speech.regions(rec, 40, -60, min_pause=0.5, min_speech=0.0)) == 3


def test_a_recording_of_silence_has_no_speech_and_a_damaged_file_is_one_line(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(8000, np.float32), 8000)
    assert speech.regions(speech.read(silent), 40, -60, 0.5, 0.2) == []
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt nonsense")
    with pytest.raises(audio.AudioError) as e:
        speech.read(bad)
    assert "\n" not in str(e.value) and str(e.value).startswith("cannot decode")
    with pytest.raises(audio.AudioError, match="no such file"):
        speech.read(tmp_path / "missing.wav")


def test_a_truncated_file_is_damaged_not_silently_shorter(tmp_path):
    path, _ = _tone_bursts(tmp_path, [(0.5, 1.0)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header still promises every frame
    try:
        rec = speech.read(path)
    except audio.AudioError as e:
        assert "\n" not in str(e)
    else:  # libsndfile may report the frames it finds: then the recording is what is there
        assert rec.num_samples <= 3 * 8000


def test_the_quietest_frame_is_found_within_the_range(tmp_path):
    path, sr = _tone_bursts(tmp_path, [(0.0, 2.0), (2.3, 6.0)])
    rec = speech.read(path)
    cut = speech.quietest(rec, int(1.5 * sr), int(3.0 * sr))
    assert 2.0 <= cut / sr <= 2.3
