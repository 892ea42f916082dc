"""The encoders package (ser_jax/encoders/__init__.py): every named encoder is a module with its record
and a tiny stand-in, an encoder outside ser_jax by import path, and a run on encoder features that
trains, resumes to the same result and predicts new files.
"""

from __future__ import annotations

import os
import sys

import pytest

from ser_jax import encoders, features
from ser_jax.testing.encoders import write_tiny_whisper


def test_every_named_encoder_is_a_module_with_its_record_and_a_tiny_stand_in(tmp_path):
    from ser_jax.testing.encoders import write_tiny

    assert "whisper-base" in encoders.ENCODERS and encoders.DEFAULT in encoders.ENCODERS
    assert encoders.ENCODERS["whisper-base"] == "ser_jax.encoders.whisper_base"  # the name runs recorded, kept
    assert not any(n.startswith("_") for n in encoders.ENCODERS)  # the shared modules are no encoders
    for name in encoders.ENCODERS:
        w = encoders.WEIGHTS[name]
        assert isinstance(w, encoders.Weights) and len(w.sha256) == 64
        desc = encoders.describe(name)
        assert (desc.layers, desc.width, desc.n_mels, desc.heads, desc.ffn) == (w.layers, w.width, w.n_mels,
                                                                                   w.heads, w.ffn)
        tiny = encoders.describe(str(write_tiny(name, tmp_path / name / "model.bin")))
        want = encoders.ENCODERS.module(name).TINY
        assert (tiny.layers, tiny.width, tiny.heads, tiny.ffn) == (want["layers"], want["width"], want["heads"],
                                                                   want["ffn"])
        assert tiny.n_mels == w.n_mels  # the real encoder's front end feeds its stand-in
    with pytest.raises(TypeError):
        encoders.WEIGHTS["whisper-test"] = None  # derived from the modules, never hand-kept


def test_a_named_encoder_whose_extra_is_not_installed_says_which_extra(monkeypatch):
    import types

    module = types.ModuleType("lab_encoders.whisper_test")  # an encoder module outside ser_jax, by import path
    module.WEIGHTS = encoders.Weights(
        parts=(("ser_jax_no_such_wheel", "data/model.bin"),), sha256="0" * 64, extra="whisper", layers=1, width=4,
        n_mels=80, heads=1, ffn=8, licence="-")
    monkeypatch.setitem(sys.modules, "lab_encoders.whisper_test", module)
    assert encoders.describe("lab_encoders.whisper_test").width == 4
    with pytest.raises(encoders.EncoderError, match=r"not installed: pip install 'ser_jax\[whisper\]'"):
        encoders.load("lab_encoders.whisper_test", "0" * 64)
    with pytest.raises(ValueError, match="neither a known encoder"):
        features.FeatureConfig(recipe="whisper", encoder=os.path.join("no", "such", "model.bin"))


@pytest.mark.slow
@pytest.mark.parametrize("model", ["superb", "whisper_top"])  # frozen states; the top block fine-tuned
def test_a_run_on_encoder_features_trains_resumes_to_the_same_result_and_predicts_new_files(
        tiny_corpus, tmp_path, monkeypatch, model):
    import soundfile as sf

    from ser_jax.testing.runs import whole_and_resumed

    from ser_jax import config as config_lib
    from ser_jax import optim, predict, splits
    from ser_jax.models import superb, whisper_top

    encoder = write_tiny_whisper(tmp_path / "weights" / "model.bin")
    feats = features.FeatureConfig(recipe="whisper", encoder=str(encoder), duration=1.0)
    model_config, groups = {"superb": (superb.Config(state_width=16, hidden=(8,)), ("h1", "h2")),
                            "whisper_top": (whisper_top.Config(heads=2, ffn=32, hidden=(8,)), ("h1",))}[model]
    cfg = config_lib.ExperimentConfig(
        data_dir=str(tiny_corpus), cache_dir=str(tmp_path / "cache"), features=feats, feature_groups=groups,
        split=splits.SplitConfig(protocol="holdout"), model=model,
        model_config=model_config, optim=optim.OptimConfig(learning_rate=3e-3),
        train=config_lib.TrainConfig(epochs=2, patience=0, batch_size=32), workers=2)
    full, resumed = whole_and_resumed(cfg, tmp_path, monkeypatch)
    assert resumed["history"] == full["history"]

    predictor = predict.load_predictor(tmp_path / "full")
    assert predictor.feature_config.encoder_sha256 == encoders.describe(str(encoder)).sha256
    assert f"whisper ({encoder}, frames) features" in predictor.describe()
    paths = []
    for i, rel in enumerate(full["test_predictions"]["paths"][:6]):  # the second the cache holds of each
        audio, sr = sf.read(tiny_corpus / rel, dtype="int16")
        paths.append(str(tmp_path / f"clip_{i}.wav"))
        sf.write(paths[-1], audio[:sr], sr, subtype="PCM_16")
    preds = predictor.predict_files(paths)
    assert [p.emotion for p in preds] == [predictor.label_names[i] for i in full["test_predictions"]["y_pred"][:6]]
