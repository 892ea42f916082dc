"""Behaviour of ser_jax.features: seed parity, the fast recipe, layout, config, bad audio."""

from __future__ import annotations

import dataclasses
import json
import warnings

import librosa
import numpy as np
import pytest
import soundfile as sf

from ser_jax import audio
from ser_jax import features as F
from ser_jax.features import config as feature_config
from ser_jax.features.recipes import fast, seed

SEED = F.FeatureConfig()
FAST = F.FeatureConfig(recipe="fast")


def tones(sr: int = 44100, seconds: float = 1.5, channels: int = 2, seed: int = 0) -> np.ndarray:
    """A sung-like test clip: three notes with five harmonics, fades, and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    f0 = np.select([t < seconds / 3, t < 2 * seconds / 3], [220.0, 261.63], 329.63)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    env = np.minimum(1, 10 * t) * np.minimum(1, 10 * (seconds - t))
    chans = [0.3 * env * tone + 0.01 * rng.standard_normal(len(t)) for _ in range(channels)]
    return np.stack(chans, axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> str:
    """44.1 kHz 16-bit stereo: loading must mix down and resample like librosa.load."""
    path = tmp_path_factory.mktemp("audio") / "03-02-03-01-01-01-01.wav"
    sf.write(path, tones(), 44100, subtype="PCM_16")
    return str(path)


@pytest.fixture(scope="module")
def clip_y(clip_path) -> np.ndarray:
    return F.load_clip(clip_path, SEED)


def naive_reference(path, sr=22050, seconds=3.0, n_fft=2048, hop=512, n_mfcc=40, n_mels=40,
                    mel_db=False) -> np.ndarray:
    """The FACTS.md notebook function, written out independently of ser_jax (knobs added)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa's own chatter (short CQT input, audioread import)
        return _naive_reference(path, sr, seconds, n_fft, hop, n_mfcc, n_mels, mel_db)


def _naive_reference(path, sr, seconds, n_fft, hop, n_mfcc, n_mels, mel_db) -> np.ndarray:
    y, sr = librosa.load(path, sr=sr)
    target = int(round(seconds * sr))
    y = np.pad(y, (0, target - len(y))) if len(y) < target else y[:target]
    kw = dict(n_fft=n_fft, hop_length=hop)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, **kw)
    delta = librosa.feature.delta(mfcc)
    delta2 = librosa.feature.delta(mfcc, order=2)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, **kw)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=n_mels, **kw)
    if mel_db:
        mel = librosa.power_to_db(mel)
    contrast = librosa.feature.spectral_contrast(y=y, sr=sr, **kw)
    tonnetz = librosa.feature.tonnetz(y=librosa.effects.harmonic(y, **kw), sr=sr, hop_length=hop)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop)
    rms = librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop)
    return np.vstack([mfcc, delta, delta2, chroma, mel, contrast, tonnetz, zcr, rms]).T


def assert_float32_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    scale = np.abs(expected).max(axis=0, keepdims=True) + 1e-12  # per row (feature)
    np.testing.assert_allclose(actual / scale, expected / scale, rtol=0, atol=2e-6)


# ------------------------------------------------------------------------------------------------
# seed parity


def test_seed_recipe_reproduces_the_notebook_function(clip_path):
    expected = naive_reference(clip_path)
    got = F.compute(clip_path, SEED)
    assert got.shape == (130, 187) and got.dtype == np.float32
    assert_float32_close(got, expected)


def test_seed_reference_is_the_notebook_function(clip_path):
    assert_float32_close(seed.seed_reference(clip_path).astype(np.float32), naive_reference(clip_path))


def test_seed_recipe_applies_every_knob(clip_path):
    cfg = F.FeatureConfig(sample_rate=16000, duration=1.0, n_fft=1024, hop_length=256, n_mfcc=20,
                          n_mels=64, mel_db=True)
    expected = naive_reference(clip_path, sr=16000, seconds=1.0, n_fft=1024, hop=256, n_mfcc=20,
                               n_mels=64, mel_db=True)
    got = F.compute(clip_path, cfg)
    assert (got.shape == (F.num_frames(16000, cfg), F.num_features(cfg))
            == (63, 3 * 20 + 12 + 64 + 7 + 6 + 2))
    assert_float32_close(got, expected)


# ------------------------------------------------------------------------------------------------
# fast recipe


def test_fast_equals_seed_on_every_group_but_tonnetz(clip_y):
    seed, fast = F.prepare(clip_y, SEED), F.prepare(clip_y, FAST)
    for name, a, b in F.feature_layout(SEED):
        if name == "tonnetz":
            continue
        assert_float32_close(fast[:, a:b], seed[:, a:b])


def test_fast_tonnetz_is_a_close_cousin_of_the_seeds(clip_y):
    (a, b), = [(a, b) for name, a, b in F.feature_layout(SEED) if name == "tonnetz"]
    seed, fast = F.prepare(clip_y, SEED)[:, a:b], F.prepare(clip_y, FAST)[:, a:b]
    assert np.all(np.isfinite(fast)) and np.abs(fast).max() <= 1.0  # L1-normalised chroma projected
    assert not np.allclose(fast, seed)  # a different chroma (STFT, no harmonic separation)...
    assert np.corrcoef(fast.ravel(), seed.ravel())[0, 1] > 0.8  # ...measuring the same harmony


def test_fast_hpss_changes_only_tonnetz(clip_y):
    plain = F.prepare(clip_y, FAST)
    hpss = F.prepare(clip_y, dataclasses.replace(FAST, fast_hpss=True))
    (a, b), = [(a, b) for name, a, b in F.feature_layout(FAST) if name == "tonnetz"]
    np.testing.assert_array_equal(np.delete(hpss, np.s_[a:b], axis=1), np.delete(plain, np.s_[a:b], axis=1))
    assert np.all(np.isfinite(hpss)) and not np.allclose(hpss[:, a:b], plain[:, a:b])


@pytest.mark.parametrize("sr,n_fft", [(22050, 2048), (16000, 512), (44100, 4096)])
def test_fast_tuning_estimate_matches_librosa_exactly(sr, n_fft):
    rng = np.random.default_rng(1)
    t = np.arange(sr) / sr
    cases = {
        "detuned tones": sum(np.sin(2 * np.pi * f * 1.013 * t) for f in (196.0, 440.0, 1318.5)),
        "noise": rng.standard_normal(sr),
        "silence": np.zeros(sr),
    }
    for name, y in cases.items():
        power = np.abs(librosa.stft(y.astype(np.float32), n_fft=n_fft, hop_length=n_fft // 4)) ** 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # silence: "estimate tuning from empty frequency set"
            expected = librosa.estimate_tuning(S=power, sr=sr, n_fft=n_fft, bins_per_octave=12)
            assert fast._estimate_tuning(power, sr, n_fft) == expected, name


@pytest.mark.parametrize("frame_length,hop", [(2048, 512), (256, 64), (1024, 1000)])
def test_fast_zero_crossing_rate_matches_librosa_exactly(frame_length, hop):
    rng = np.random.default_rng(2)
    near_zero = np.float32([1e-11, -1e-11, 0.0, -0.0, 1.0, -1.0, -1e-10, 1e-10, 2e-10, -2e-10])
    for y in (rng.standard_normal(5000).astype(np.float32), np.tile(near_zero, 300),
              np.zeros(700, np.float32), np.float32([-0.5, 0.5, -0.5])):
        expected = librosa.feature.zero_crossing_rate(y, frame_length=frame_length, hop_length=hop)
        np.testing.assert_array_equal(fast._zero_crossing_rate(y, frame_length, hop), expected)


# ------------------------------------------------------------------------------------------------
# layout, groups, lengths


def test_default_layout_is_the_seeds_187_rows():
    assert F.feature_layout(SEED) == (
        ("mfcc", 0, 40), ("delta", 40, 80), ("delta2", 80, 120), ("chroma", 120, 132),
        ("mel", 132, 172), ("contrast", 172, 179), ("tonnetz", 179, 185), ("zcr", 185, 186),
        ("rms", 186, 187),
    )
    assert F.num_features(SEED) == 187
    assert F.num_frames(66150, SEED) == 130
    assert F.num_frames(10, SEED) == F.num_frames(10**6, SEED) == 130  # duration crops/pads


def test_layout_follows_sizes_and_groups():
    cfg = F.FeatureConfig(n_mfcc=13, n_mels=64, groups=("mel", "delta"))
    assert F.feature_layout(cfg) == (("delta", 0, 13), ("mel", 13, 77))
    assert F.num_features(cfg) == 77


@pytest.mark.parametrize("recipe", ["seed", "fast"])
def test_groups_subset_keeps_those_rows_in_canonical_order(clip_y, recipe):
    full_cfg = F.FeatureConfig(recipe=recipe, groups=("mfcc", "delta2", "chroma", "contrast", "rms"))
    sub_cfg = F.FeatureConfig(recipe=recipe, groups=("rms", "delta2", "chroma"))  # any order in
    assert sub_cfg.groups == ("delta2", "chroma", "rms")  # ALL_GROUPS order out
    full, sub = F.prepare(clip_y, full_cfg), F.prepare(clip_y, sub_cfg)
    full_rows = {n: full[:, a:b] for n, a, b in F.feature_layout(full_cfg)}
    for name, a, b in F.feature_layout(sub_cfg):
        np.testing.assert_array_equal(sub[:, a:b], full_rows[name])
    assert sub.shape[1] == 40 + 12 + 1


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


# ------------------------------------------------------------------------------------------------
# config


@pytest.mark.parametrize(
    "field,value",
    [
        ("recipe", "turbo"), ("sample_rate", 8000), ("sample_rate", 22050.0), ("duration", 0.0),
        ("duration", -1.0), ("duration", float("nan")), ("duration", "3"), ("n_fft", 2047),
        ("n_fft", 128), ("hop_length", 0), ("hop_length", 4096), ("n_mfcc", 0), ("n_mfcc", 129),
        ("n_mels", 0), ("mel_db", 1), ("groups", ()), ("groups", ("mfcc", "pitch")),
        ("groups", ("mfcc", "mfcc")), ("groups", "mfcc"), ("fast_hpss", True),  # with recipe seed
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"FeatureConfig\.{field} must be"):
        F.FeatureConfig(**{field: value})


def test_the_features_package_imports_no_package_that_imports_it():
    """Package-level, not only module-level: features/ and perturb/ import packages that never import
    them back (type hints aside), so no import of one ever waits on the other."""
    from test_layout import GRAPH

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    def deps(pkg: str) -> set[str]:
        return {package(d) for m, ds in GRAPH.items() if package(m) == pkg for d in ds} - {pkg}

    for pkg in ("ser_jax.features", "ser_jax.perturb"):
        back = {q for q in deps(pkg) if pkg in deps(q)}
        assert not back, f"{pkg} imports {back}, which import it"
    assert deps("ser_jax.audio") == set()  # loading and resampling only


def test_config_round_trips_through_json():
    cfg = F.FeatureConfig(recipe="fast", duration=None, n_mels=64, mel_db=True, fast_hpss=True,
                          groups=["tonnetz", "mfcc"])
    again = F.FeatureConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.groups == ("mfcc", "tonnetz")
    assert F.FeatureConfig(duration=3) == SEED  # an int duration means the same seconds
    with pytest.raises(ValueError, match="no field"):
        F.FeatureConfig.from_dict({"recipie": "fast"})


def test_key_is_stable_and_short():
    assert SEED.key() == F.FeatureConfig().key() == F.FeatureConfig.from_dict(SEED.to_dict()).key()
    assert F.FeatureConfig(groups=("rms", "mfcc")).key() == F.FeatureConfig(groups=("mfcc", "rms")).key()
    assert len(SEED.key()) == 12 and int(SEED.key(), 16) >= 0


CHANGED = {
    "recipe": "seed", "sample_rate": 16000, "duration": None, "n_fft": 1024, "hop_length": 256,
    "n_mfcc": 20, "n_mels": 64, "mel_db": True, "groups": ("mfcc",), "fast_hpss": True,
    "speed": 1.1, "noise_snr": (10.0, 20.0), "vtlp": 0.9,
}


# The encoder's fields change the key of encoder recipes only: tests/test_encoders.py checks them
# (test_cache_keys_change_with_the_weights_and_the_layers_but_not_for_other_recipes and
# test_pooled_caches_have_one_frame_a_key_of_their_own_and_only_a_mean_head).
ENCODER_FIELDS = {"encoder", "encoder_sha256", "encoder_pool", "encoder_stride"}


def test_key_changes_with_every_field():
    fields = {f.name for f in dataclasses.fields(F.FeatureConfig)}
    assert set(CHANGED) | ENCODER_FIELDS == fields  # new field? add it
    base = F.FeatureConfig(recipe="fast")
    keys = {base.key()}
    for field, value in CHANGED.items():
        keys.add(dataclasses.replace(base, **{field: value}).key())
    assert len(keys) == len(CHANGED) + 1


def test_key_changes_with_library_versions(monkeypatch):
    before, versions = SEED.key(), F.library_versions()
    monkeypatch.setattr(feature_config, "library_versions", lambda: {**versions, "librosa": "9.9"})
    assert SEED.key() != before


# ------------------------------------------------------------------------------------------------
# bad and odd audio


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


def test_egemaps_group_is_opensmiles_descriptors_on_our_frames_and_optional():
    import scipy.signal

    cfg = F.FeatureConfig(recipe="fast", sample_rate=16000, duration=1.0, n_fft=512, hop_length=256,
                                 n_mfcc=13, n_mels=16, groups=("egemaps", "mfcc"))
    assert F.feature_layout(cfg) == (("mfcc", 0, 13), ("egemaps", 13, 38))
    t = np.arange(16000) / 16000
    y = (0.3 * scipy.signal.sawtooth(2 * np.pi * 220 * t)).astype(np.float32)
    x = F.prepare(y, cfg)
    assert x.shape == (F.num_frames(16000, cfg), 38) and np.isfinite(x).all()
    f0 = x[10:50, 13 + 10]  # F0 in semitones above 27.5 Hz: 220 Hz is 36
    np.testing.assert_allclose(f0, 36.0, atol=0.2)
    # Not computed unless asked, and naming it changes no other config's key.
    assert "egemaps" not in F.FeatureConfig().groups
    assert F.FeatureConfig(groups=("mfcc",)).key() != cfg.key()


def test_compare_group_is_opensmiles_compare_descriptors_on_our_frames():
    cfg = F.FeatureConfig(recipe="fast", sample_rate=16000, duration=1.0, n_fft=512, hop_length=256,
                          n_mfcc=13, n_mels=16, groups=("mfcc", "compare", "egemaps"))
    assert F.feature_layout(cfg) == (("mfcc", 0, 13), ("egemaps", 13, 38), ("compare", 38, 103))
    t = np.arange(16000) / 16000
    loud, quiet = (a * np.sin(2 * np.pi * 220 * t).astype(np.float32) for a in (0.3, 0.03))
    x, q = F.prepare(loud, cfg), F.prepare(quiet, cfg)
    assert x.shape == (F.num_frames(16000, cfg), 103) and np.isfinite(x).all()
    np.testing.assert_allclose(x[10:50, 38 + 0], 220.0, atol=1.0)  # F0final_sma, in Hz
    # pcm_RMSenergy_sma follows the signal: a tenth of the amplitude, a tenth of it.
    np.testing.assert_allclose(q[10:50, 38 + 8] / x[10:50, 38 + 8], 0.1, rtol=0.02)
    assert "compare" not in F.FeatureConfig().groups
