"""Features of a file or an array (ser_jax.features.compute): full-length clips, raw arrays, bad and odd
audio, and the windows of a long clip.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import soundfile as sf

from ser_jax import audio, features
from ser_jax import features as F

from .helpers import FAST, tones


def test_full_length_keeps_the_true_frame_count(clip_path):
    cfg = F.FeatureConfig(recipe="fast", duration=None)
    y = F.load_clip(clip_path, cfg)
    assert len(y) == int(np.ceil(1.5 * 44100 * 22050 / 44100))  # 1.5 s, nothing padded or cut
    feats = F.compute(clip_path, cfg)
    assert feats.shape == (1 + len(y) // 512, 187) == (F.num_frames(len(y), cfg), 187)
    # The first frames do not depend on where the clip is cut.
    np.testing.assert_array_equal(feats[:40, :120], F.compute(clip_path, FAST)[:40, :120])


def test_full_length_pads_a_very_short_clip_to_the_minimum(tmp_path):
    path = tmp_path / "blip.wav"
    sf.write(path, tones(sr=22050, seconds=0.05, channels=1), 22050)
    cfg = F.FeatureConfig(recipe="fast", duration=None)
    assert len(F.load_clip(path, cfg)) == F.min_samples(cfg) == 8 * 512
    assert F.compute(path, cfg).shape == (9, 187)


def test_extract_crops_or_pads_raw_arrays_and_rejects_multichannel():
    assert F.prepare(np.ones(100, np.float32), FAST).shape == (130, 187)
    with pytest.raises(ValueError, match=r"mono audio of shape \(n,\)"):
        F.prepare(np.zeros((2, 1000), np.float32), FAST)


def _write_bytes(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _wav_bytes(tmp_path, samples=22050) -> bytes:
    path = tmp_path / "ok.wav"
    sf.write(path, tones(sr=22050, seconds=samples / 22050, channels=1), 22050, subtype="PCM_16")
    return path.read_bytes()


@pytest.mark.parametrize(
    "kind,expected",
    [
        ("empty file", "cannot decode: empty file"),
        ("garbage", "cannot decode"),
        ("text", "cannot decode"),
        ("truncated header", "cannot decode"),
        ("header only", "empty audio"),
        ("missing", "cannot read"),
    ],
)
def test_unusable_files_raise_audio_error_with_one_line_reason(tmp_path, kind, expected):
    rng = np.random.default_rng(0)
    wav = _wav_bytes(tmp_path)
    data = {
        "empty file": b"",
        "garbage": rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "text": b"0.1 0.2 0.3\nMFCC dump, not audio\n" * 20,
        "truncated header": wav[:20],
        "header only": wav[:44],
    }
    path = tmp_path / "missing.wav" if kind == "missing" else _write_bytes(tmp_path, "x.wav", data[kind])
    with pytest.raises(audio.AudioError) as err:
        F.compute(path, FAST)
    message = str(err.value)
    assert message.startswith(expected) and "\n" not in message and str(tmp_path) not in message


def _finite_and_quiet(path, cfg) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # librosa's short-input / silent-tuning warnings stay inside
        feats = F.compute(path, cfg)
    assert feats.shape == (F.num_frames(len(F.load_clip(path, cfg)), cfg), F.num_features(cfg))
    assert np.all(np.isfinite(feats))
    return feats


@pytest.mark.parametrize(
    "sr,subtype,channels",
    [(22050, "PCM_U8", 1), (48000, "PCM_24", 1), (44100, "FLOAT", 2), (8000, "PCM_16", 1),
     (96000, "PCM_16", 2)],
)
def test_odd_but_readable_formats_work(tmp_path, sr, subtype, channels):
    path = tmp_path / "clip.wav"
    sf.write(path, tones(sr=sr, seconds=0.5, channels=channels), sr, subtype=subtype)
    assert len(F.load_clip(path, F.FeatureConfig(duration=None))) == int(np.ceil(0.5 * 22050))
    feats = _finite_and_quiet(path, FAST)
    assert feats[:5, 0].std() > 0  # real content, not zeros


def test_truncated_data_chunk_reads_what_is_there(tmp_path):
    wav = _wav_bytes(tmp_path, samples=22050)
    path = _write_bytes(tmp_path, "cut.wav", wav[: 44 + 2 * 5000])  # header + 5000 of 22050 samples
    assert len(F.load_clip(path, F.FeatureConfig(duration=None))) == 5000
    _finite_and_quiet(path, FAST)


@pytest.mark.parametrize("recipe", ["seed", "fast"])
@pytest.mark.parametrize("duration", [3.0, None])
def test_digital_silence_gives_finite_features(tmp_path, recipe, duration):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(11025, np.int16), 22050, subtype="PCM_16")
    cfg = F.FeatureConfig(recipe=recipe, duration=duration)
    feats = _finite_and_quiet(path, cfg)
    (a, b), = [(a, b) for n, a, b in F.feature_layout(cfg) if n == "chroma"]
    assert np.all(feats[:, a:b] == 0)  # zero chroma stays zero instead of 0/0


@pytest.mark.parametrize("recipe", ["seed", "fast"])
@pytest.mark.parametrize("duration", [3.0, None])
def test_a_clip_of_three_samples_works(tmp_path, recipe, duration):
    path = tmp_path / "three.wav"
    sf.write(path, np.array([0.1, -0.2, 0.3], np.float32), 44100, subtype="FLOAT")
    _finite_and_quiet(path, F.FeatureConfig(recipe=recipe, duration=duration))


def test_non_finite_samples_are_zeroed(tmp_path):
    y = tones(sr=22050, seconds=0.5, channels=1)
    y[100:200] = np.nan
    y[300] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, y, 22050, subtype="FLOAT")
    assert np.all(np.isfinite(F.load_clip(path, FAST)))
    _finite_and_quiet(path, FAST)
    assert np.all(np.isfinite(F.prepare(np.where(np.arange(5000) % 7, np.nan, 0.1), FAST)))


def test_window_starts_cover_the_clip_with_half_overlapping_windows():
    assert features.window_starts(500, 1000) == [0]
    assert features.window_starts(1000, 1000) == [0]
    assert features.window_starts(2000, 1000) == [0, 500, 1000]
    assert features.window_starts(2200, 1000) == [0, 500, 1000, 1200]  # the last one ends at the end
    assert features.window_starts(2200, 1000, hop=400) == [0, 400, 800, 1200]
    with pytest.raises(ValueError, match="hop"):
        features.window_starts(2200, 1000, hop=0)


def test_a_span_of_a_file_is_read_as_a_clip_of_its_own(tmp_path):
    """A timeline's segment: the same samples written as a file give the same clip."""
    y = tones(sr=22050, seconds=2.0, channels=2)
    path = tmp_path / "long.wav"
    sf.write(path, y, 22050, subtype="FLOAT")
    part = tmp_path / "part.wav"
    sf.write(part, y[5000:30000], 22050, subtype="FLOAT")
    np.testing.assert_array_equal(F.load_clip(path, FAST, span=(5000, 30000)), F.load_clip(part, FAST))
    with pytest.raises(audio.AudioError, match="outside the file"):
        audio.load_audio(path, 16000, span=(40000, 50000))
