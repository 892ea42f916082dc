"""Cache keys pinned as literals: every shipped preset's feature config (and the perturbed copies it asks
for), built as training builds it, and the configs around them (optional groups, other recipes, each
kind of copy), keep the key and the dict that name their caches and checkpoints.

A key that moves orphans every cache built under it, so a change of these literals must be deliberate
(FEATURES_VERSION, a new library) and said in the commit. Library versions are pinned to fixed strings
(through importlib.metadata and soundfile, beneath the package), so the keys do not depend on this
machine; the Whisper encoder's SHA-256 comes from the weights registry, without reading the weights.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest
import soundfile

from ser_jax import features, perturb

_PIN = """
import importlib.metadata, soundfile
importlib.metadata.version = lambda name: name + "-pinned"
soundfile.__libsndfile_version__ = "libsndfile-pinned"
"""

_PRESETS = _PIN + """
import json, sys
from absl import flags
from ser_jax import cli, features, flagfiles, perturb
features.library_versions.cache_clear()
cli.define_data_flags(); cli.define_feature_flags(); cli.define_train_flags()
out = {}
for name in flagfiles.presets():
    flags.FLAGS.unparse_flags()
    flags.FLAGS(flagfiles.expand(["train", f"--flagfile={name}", "--data_dir=" + sys.argv[1]]))
    cfg = cli.experiment_config_from_flags()
    out[name] = {tag: [c.key(), c.to_dict()] for tag, c in [("", cfg.features), *perturb.requested(cfg)]}
print(json.dumps(out))
"""

_SHA = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"  # whisper-base
SEED = {"recipe": "seed", "sample_rate": 22050, "duration": 3.0, "n_fft": 2048, "hop_length": 512, "n_mfcc": 40,
        "n_mels": 40, "mel_db": False, "groups": ["mfcc", "delta", "delta2", "chroma", "mel", "contrast", "tonnetz",
                                                   "zcr", "rms"], "fast_hpss": False}
FAST = {**SEED, "recipe": "fast"}
WHISPER = {"recipe": "whisper", "sample_rate": 16000, "duration": None, "n_fft": 400, "hop_length": 320,
           "n_mfcc": 40, "n_mels": 40, "mel_db": False, "groups": ["h0", "h1", "h2", "h3", "h4", "h5", "h6"],
           "fast_hpss": False, "encoder": "whisper-base", "encoder_sha256": _SHA, "encoder_pool": "mean"}
MEANSTD = {**WHISPER, "encoder_pool": "meanstd"}

# preset -> copy tag ("" = the base features) -> (key, to_dict()), recorded before features/ existed.
PRESETS = {
    "base": {"": ("5c06ac9b6a95", SEED)},
    "demo": {"": ("49d15e990c4e", FAST)},
    "holdout": {"": ("5c06ac9b6a95", SEED)},
    "seed": {"": ("5c06ac9b6a95", SEED)},
    "speaker_independent": {"": ("5c06ac9b6a95", SEED), "speed0.9": ("b12120c59f73", {**SEED, "speed": 0.9}),
                            "speed1.1": ("7404f335b228", {**SEED, "speed": 1.1})},
    "speaker_independent_v1": {"": ("5c06ac9b6a95", SEED)},
    "whisper": {"": ("f71bfaa65845", WHISPER)},
    "whisper_multi": {"": ("42ad2297b5c3", MEANSTD), "speed0.9": ("b5193c8af1a7", {**MEANSTD, "speed": 0.9}),
                      "speed1.1": ("913ceae4e511", {**MEANSTD, "speed": 1.1})},
    "whisper_unseen": {"": ("42ad2297b5c3", MEANSTD), "speed0.9": ("b5193c8af1a7", {**MEANSTD, "speed": 0.9}),
                       "speed1.1": ("913ceae4e511", {**MEANSTD, "speed": 1.1})},
}


def _others() -> dict[str, tuple[features.FeatureConfig, str, dict]]:
    """name -> (config, its key, its to_dict()): the settings around the presets."""
    F = features.FeatureConfig
    whisper_mean = F(recipe="whisper", encoder_pool="mean", duration=None)
    frames = {k: v for k, v in WHISPER.items() if k != "encoder_pool"}
    out = {
        "seed": (F(), "5c06ac9b6a95", SEED),
        "seed_full_opensmile": (F(duration=None, groups=features.ALL_GROUPS + ("egemaps", "compare")),
                                "1a1ab125c90b", {**SEED, "duration": None,
                                                 "groups": SEED["groups"] + ["egemaps", "compare"]}),
        "seed_16k_mel_db": (F(sample_rate=16000, n_fft=1024, hop_length=256, n_mfcc=20, n_mels=64, mel_db=True,
                              groups=("mfcc", "mel")), "36a993df6469",
                            {**SEED, "sample_rate": 16000, "n_fft": 1024, "hop_length": 256, "n_mfcc": 20,
                             "n_mels": 64, "mel_db": True, "groups": ["mfcc", "mel"]}),
        "fast_hpss": (F(recipe="fast", fast_hpss=True), "9fb1367250f3", {**FAST, "fast_hpss": True}),
        "whisper_frames_stride4": (F(recipe="whisper", duration=None, encoder_stride=4, groups=("h4", "h5")),
                                   "17e9593a5cfe", {**frames, "groups": ["h4", "h5"], "encoder_stride": 4}),
        "whisper_frames_3s": (F(recipe="whisper"), "879559d9486b", {**frames, "duration": 3.0}),
        "whisper_egemaps_meanstd": (F(recipe="whisper_egemaps", duration=None, encoder_pool="meanstd"),
                                    "47b936c0a06e", {**MEANSTD, "recipe": "whisper_egemaps",
                                                     "groups": MEANSTD["groups"] + ["egemaps88"]}),
    }
    copies = dict(perturb.variants(F(), ("speed:0.9", "vtlp:1.1", "noise:10:30", "noise:15")))
    out["seed_speed0.9"] = (copies["speed0.9"], "b12120c59f73", {**SEED, "speed": 0.9})
    out["seed_vtlp1.1"] = (copies["vtlp1.1"], "c3bdb2e8588b", {**SEED, "vtlp": 1.1})
    out["seed_noise10-30"] = (copies["noise10-30dB"], "86f83717df6f", {**SEED, "noise_snr": [10.0, 30.0]})
    out["seed_noise15"] = (copies["noise15-15dB"], "b49b6bd210c5", {**SEED, "noise_snr": [15.0, 15.0]})
    (_, whisper_vtlp), = perturb.variants(whisper_mean, ("vtlp:0.9",))
    out["whisper_vtlp0.9"] = (whisper_vtlp, "bd789a58be45", {**WHISPER, "vtlp": 0.9})
    return out


@pytest.fixture
def pinned_libraries(monkeypatch):
    monkeypatch.setattr(importlib.metadata, "version", lambda name: name + "-pinned")
    monkeypatch.setattr(soundfile, "__libsndfile_version__", "libsndfile-pinned", raising=False)
    features.library_versions.cache_clear()
    yield
    features.library_versions.cache_clear()  # the real versions again for the tests after this one


def test_every_shipped_preset_keeps_its_cache_keys(tmp_path):
    out = subprocess.run([sys.executable, "-c", _PRESETS, str(tmp_path)], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert set(got) == set(PRESETS), "a preset was added or removed: pin its keys here"
    for name, copies in PRESETS.items():
        assert set(got[name]) == set(copies), name
        for tag, (key, d) in copies.items():
            assert got[name][tag][1] == d, (name, tag)
            assert got[name][tag][0] == key, f"{name} {tag or 'base'}: the cache key moved"


@pytest.mark.parametrize("name", sorted(_others()))
def test_configs_around_the_presets_keep_their_keys_and_dicts(name, pinned_libraries):
    cfg, key, d = _others()[name]
    assert cfg.to_dict() == d
    assert json.loads(json.dumps(cfg.to_dict())) == d  # as a cache or checkpoint stores it
    assert cfg.key() == key
    assert features.FeatureConfig.from_dict(d) == cfg  # an old cache's or checkpoint's dict still loads
