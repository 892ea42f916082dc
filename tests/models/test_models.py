"""The model zoo (ser_jax/models/__init__.py): every model of the package, in its TINY configuration,
through initialisation, padding, gradients, dropout and the L2 penalty, found by name and configured
field by field, trained, resumed and predicted from its checkpoint; a model outside ser_jax by its
import path. Each model's own tests: test_<model>.py.
"""

from __future__ import annotations

import dataclasses
import pathlib
import subprocess
import sys
import types

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import soundfile as sf

from ser_jax import config as config_lib
from ser_jax import models, optim, predict, splits
from ser_jax.models import conformer, superb, tcn, whisper_top
from ser_jax.testing.runs import whole_and_resumed
from ser_jax.testing.tiny import TINY_FEATURES, TINY_MODEL
from ser_jax.train import loop as train_lib

from .helpers import _init

# Every model's tiny configuration, as its module's TINY gives it: a new model file is tested here as it is.
TINY = {name: models.tiny(name) for name in models.MODELS}


def test_every_model_carries_its_tiny_test_config():
    assert set(TINY) == set(models.MODELS)
    for name, cfg in TINY.items():
        assert isinstance(cfg, models.config_class(name))
        assert isinstance(models.module(name).TINY, dict) and cfg != models.config_class(name)()
    assert TINY["crnn"] == TINY_MODEL  # the tests' shared tiny crnn (conftest) is crnn's own
    assert TINY["tcn"] == tcn.Config(filters=8, dilations=2)
    assert TINY["conformer"] == conformer.Config(dim=8, heads=2, blocks=1, ff_mult=2, conv_kernel=3)
    assert TINY["superb"] == superb.Config(state_width=3, hidden=(8,), pooling="attention", blocks=1, block_dim=8)
    assert TINY["whisper_top"] == whisper_top.Config(heads=2, ffn=8, hidden=(8,), pooling="attention")


def test_models_are_every_module_of_the_package_not_starting_with_an_underscore_and_read_only():
    folder = pathlib.Path(models.__file__).parent
    assert list(models.MODELS) == sorted(p.stem for p in folder.glob("*.py") if not p.name.startswith("_"))
    assert {"crnn", "tcn", "conformer", "superb", "whisper_top"} <= set(models.MODELS)  # names checkpoints hold
    assert models.MODELS["crnn"] == "ser_jax.models.crnn" and models.DEFAULT in models.MODELS
    with pytest.raises(TypeError):
        models.MODELS["linear"] = "toy_linear"  # derived from the files, never hand-kept


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_a_training_initialises_its_model_bit_identically_to_op_by_op_init(name):
    """create_train_state compiles the initialisers as one program (a faster start); the numbers must
    be exactly those of flax's op-by-op init, or every published seed would change."""
    state = train_lib.create_train_state(jax.random.key(0), TINY[name], optim.OptimConfig(), num_frames=20,
                                         num_features=6, total_steps=10, model_name=name)
    key = jax.random.key(0)
    eager = models.build(name, TINY[name]).init({"params": key, "dropout": key}, jnp.zeros((1, 20, 6)),
                                                jnp.full((1,), 20, jnp.int32), train=False)
    for a, b in zip(jax.tree.leaves(eager["params"]), jax.tree.leaves(state.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_padding_never_changes_a_clips_logits(name):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((3, 20, 6)), jnp.float32)
    lengths = jnp.array([20, 13, 4])
    model = models.build(name, TINY[name])
    variables = _init(name, TINY[name], x, lengths)
    logits = model.apply(variables, x, lengths, train=False)
    # Wider batch, garbage (even NaN) in every padded frame.
    wide = jnp.concatenate([x, jnp.full((3, 9, 6), 7.0)], axis=1)
    wide = wide.at[1, 13:].set(jnp.nan).at[2, 4:].set(-1e4)
    np.testing.assert_allclose(model.apply(variables, wide, lengths, train=False), logits, atol=1e-5)
    # The short clip alone, cut to its own length, gives the same logits.
    alone = model.apply(variables, x[2:, :4], lengths[2:], train=False)
    np.testing.assert_allclose(alone, logits[2:], atol=1e-5)
    assert logits.shape == (3, TINY[name].num_classes) and np.all(np.isfinite(logits))


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_training_gradients_match_finite_differences(name):
    """The compiled gradient of the training loss (dropout, BatchNorm over the batch, padding) agrees
    with central differences along a random direction in each parameter array. crnn's max-pooling,
    written as a max over a reshape, once compiled to a wrong gradient for the conv layer under it
    (XLA on CPU, jax 0.10.2): every crnn result before the fix trained its conv layer on it."""
    rng = np.random.default_rng(0)
    b, t, f = (16, 40, 30) if name == "crnn" else (8, 24, 12)  # smaller shapes missed the crnn bug
    x = jnp.asarray(rng.standard_normal((b, t, f)), jnp.float32)
    lengths = jnp.asarray(rng.integers(5, t + 1, b), jnp.int32)
    y = jnp.asarray(rng.integers(0, 4, b), jnp.int32)
    cfg = dataclasses.replace(TINY[name], num_classes=4)
    model = models.build(name, cfg)
    variables = model.init({"params": jax.random.key(0), "dropout": jax.random.key(0)}, x, lengths, train=False)

    @jax.jit
    def loss(params):
        logits, _ = model.apply({**variables, "params": params}, x, lengths, train=True,
                                rngs={"dropout": jax.random.key(3)}, mutable=["batch_stats"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    params = variables["params"]
    grads = jax.jit(jax.grad(loss))(params)
    flat, tree = jax.tree_util.tree_flatten(params)
    eps = 1e-2
    for i, (path, g) in enumerate(jax.tree_util.tree_leaves_with_path(grads)):
        v = rng.standard_normal(flat[i].shape).astype(np.float32)
        v /= np.linalg.norm(v)

        def shifted(sign, i=i, v=v):
            return jax.tree_util.tree_unflatten(tree, [p + sign * eps * v if j == i else p for j, p in enumerate(flat)])

        numeric = (float(loss(shifted(1))) - float(loss(shifted(-1)))) / (2 * eps)
        analytic = float(np.sum(np.asarray(g) * v))
        assert abs(numeric - analytic) <= 2e-3 + 0.05 * abs(numeric), (jax.tree_util.keystr(path), numeric, analytic)


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_training_mode_uses_dropout_and_updates_batch_statistics(name):
    x = jnp.asarray(np.random.default_rng(1).standard_normal((4, 16, 6)), jnp.float32)
    lengths = jnp.array([16, 16, 9, 5])
    model = models.build(name, TINY[name])
    variables = _init(name, TINY[name], x, lengths)
    a, state = model.apply(variables, x, lengths, train=True, rngs={"dropout": jax.random.key(3)},
                           mutable=["batch_stats"])
    b, _ = model.apply(variables, x, lengths, train=True, rngs={"dropout": jax.random.key(4)}, mutable=["batch_stats"])
    assert not np.allclose(a, b)  # different dropout masks
    if "batch_stats" in variables:
        changed = jax.tree_util.tree_map(lambda u, v: not np.allclose(u, v), state["batch_stats"],
                                         variables["batch_stats"])
        assert any(jax.tree_util.tree_leaves(changed))


def test_the_l2_penalty_reaches_conv_and_hidden_dense_kernels_of_every_model_and_nothing_else():
    x, lengths = jnp.zeros((1, 16, 6)), jnp.array([16])

    def decayed(name):
        params = _init(name, TINY[name], x, lengths)["params"]
        flat = jax.tree_util.tree_flatten_with_path(optim.l2_mask(params))[0]
        return {"/".join(str(k.key) for k in path) for path, on in flat if on}

    assert decayed("crnn") == {"conv_0/kernel", "dense_0/kernel"}
    tcn_decayed = decayed("tcn")
    assert "forward_block_0/causal_0/conv_0/kernel" in tcn_decayed
    assert not any(p.startswith("logits") or "bn_" in p for p in tcn_decayed)
    conf = decayed("conformer")
    assert "block_0/ff_in/dense_0/kernel" in conf
    assert not any("attention" in p or p.startswith("logits") for p in conf)


def test_models_are_found_by_name_and_configured_field_by_field():
    assert models.make_config("tcn", {"filters": 16, "dropout": 0.25}) == tcn.Config(filters=16, dropout=0.25)
    assert models.config_from_dict("conformer", dataclasses.asdict(TINY["conformer"])) == TINY["conformer"]
    with pytest.raises(ValueError, match=r"--model=resnet: unknown model; choose from conformer, crnn, superb, tcn"):
        models.build("resnet", {})
    with pytest.raises(ValueError, match=r"--model=no_lab.gru: no module no_lab on the Python path"):
        models.build("no_lab.gru", {})
    with pytest.raises(ValueError, match=r"--model=ser_jax.optim: module ser_jax.optim is not a model: it lacks "
                                         r"Config, Model"):
        models.build("ser_jax.optim", {})
    with pytest.raises(ValueError, match=r"model 'tcn' has no setting\(s\) width"):
        models.make_config("tcn", {"width": 3})


_MODEL_FLAGS = """
import sys, tempfile
from absl import flags
from ser_jax import cli
data = tempfile.mkdtemp()
cli.define_data_flags(); cli.define_feature_flags(); cli.define_train_flags()
for args in (["--model=tcn", "--tcn.filters=16", "--tcn.dilations=3"],
             ["--model=tcn", "--model_config=filters=16,dilations=3"],
             ["--conv_filters=32,16", "--conv_kernels=5,3", "--attention=false"],
             ["--model_config=conv_filters=32:16,conv_kernels=5:3,attention=false"],
             ["--model=tcn", "--model_config=filters=many"], ["--model=tcn", "--model_config=filters"]):
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train", f"--data_dir={data}", *args])
    try:
        print(repr(cli.experiment_config_from_flags().model_config))
    except cli.UsageError as e:
        print("error:", e)
"""


def test_model_settings_come_from_the_models_own_flags_or_the_model_config_shorthand():
    out = subprocess.run([sys.executable, "-c", _MODEL_FLAGS], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0] == lines[1] == repr(dataclasses.replace(tcn.Config(), filters=16, dilations=3))
    assert lines[2] == lines[3] and "conv_filters=(32, 16)" in lines[2] and "attention=False" in lines[2]
    assert lines[4] == "error: --model_config=filters=many: 'many' is not a valid value of --tcn.filters"
    assert lines[5] == "error: --model_config=filters: expected FIELD=VALUE (e.g. dropout=0.2)"


@pytest.mark.parametrize("name, bad, match", [
    ("tcn", {"filters": 0}, r"tcn\.filters: it must be an integer >= 1"),
    ("tcn", {"dropout": 1.0}, r"tcn\.dropout: a dropout rate must be in \[0, 1\)"),
    ("conformer", {"dim": 30, "heads": 4}, r"conformer\.heads: dim=30 does not divide into 4 heads"),
    ("conformer", {"blocks": 0}, r"conformer\.blocks"),
])
def test_bad_model_settings_are_one_line_errors_naming_the_field(name, bad, match):
    with pytest.raises(ValueError, match=match):
        models.make_config(name, bad)


def test_the_experiment_config_refuses_another_models_config():
    with pytest.raises(ValueError, match=r"--model=tcn: the model config given is a ser_jax.models.crnn.Config"):
        config_lib.ExperimentConfig(data_dir="x", model="tcn", model_config=TINY_MODEL)
    assert config_lib.ExperimentConfig(data_dir="x", model="tcn").model_config == tcn.Config()


def _config(corpus, cache_dir, name, **train):
    return config_lib.ExperimentConfig(
        data_dir=str(corpus), cache_dir=str(cache_dir), features=TINY_FEATURES,
        split=splits.SplitConfig(protocol="holdout"), model=name, model_config=TINY[name],
        optim=optim.OptimConfig(learning_rate=3e-3),
        train=config_lib.TrainConfig(**{"epochs": 3, "patience": 0, "batch_size": 32, **train}), workers=2)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tcn", "conformer"])  # crnn: tests/train/test_loop.py, tests/predict/
def test_every_model_trains_resumes_to_the_same_result_and_predicts_from_its_checkpoint(
        name, tiny_corpus, tiny_cache_dir, tmp_path, monkeypatch):
    cfg = _config(tiny_corpus, tiny_cache_dir, name, epochs=2)  # cut inside the second, the last
    full, resumed = whole_and_resumed(cfg, tmp_path, monkeypatch)
    assert resumed["history"] == full["history"]
    assert resumed["test_predictions"] == full["test_predictions"]

    predictor = predict.load_predictor(tmp_path / "full")
    assert predictor.model_name == name and predictor.model_config == dataclasses.replace(TINY[name], num_classes=8)
    assert f"{name} model" in predictor.describe()
    # The first second of test clips (what the cache holds of them) is predicted as the run predicted it.
    crop = int(TINY_FEATURES.duration * TINY_FEATURES.sample_rate)
    paths = []
    for i, rel in enumerate(full["test_predictions"]["paths"][:6]):
        audio, sr = sf.read(tiny_corpus / rel, dtype="int16")
        paths.append(str(tmp_path / f"clip_{i}.wav"))
        sf.write(paths[-1], audio[:crop], sr, subtype="PCM_16")
    preds = predictor.predict_files(paths)
    assert [p.emotion for p in preds] == [predictor.label_names[i] for i in full["test_predictions"]["y_pred"][:6]]


class _Linear(nn.Module):
    config: object

    @nn.compact
    def __call__(self, x, lengths, *, train):
        mask = (jnp.arange(x.shape[1])[None, :] < lengths[:, None])[..., None]
        return nn.Dense(self.config.num_classes, name="logits")(jnp.sum(x * mask, 1) / lengths[:, None])


@dataclasses.dataclass(frozen=True)
class _LinearConfig:
    num_classes: int = 8


@pytest.mark.slow
def test_a_new_model_is_one_module_named_by_its_import_path(tiny_corpus, tiny_cache_dir, tmp_path, monkeypatch):
    module = types.ModuleType("toy_lab.linear")
    module.__doc__ = "``linear``: the mean frame through one dense layer."
    module.Config, module.Model = _LinearConfig, _Linear
    monkeypatch.setitem(sys.modules, "toy_lab.linear", module)  # as if toy_lab/linear.py were on sys.path
    cfg = dataclasses.replace(_config(tiny_corpus, tiny_cache_dir, "crnn", epochs=2), model="toy_lab.linear",
                              model_config=_LinearConfig())
    metrics = train_lib.train_and_evaluate(cfg, tmp_path / "run", progress=False).metrics
    assert metrics["config"]["model"] == "toy_lab.linear" and len(metrics["history"]) == 2
    predictor = predict.load_predictor(tmp_path / "run")
    assert predictor.model_name == "toy_lab.linear"
    assert predictor.predict_file(str(tiny_corpus / metrics["test_predictions"]["paths"][0])).emotion
