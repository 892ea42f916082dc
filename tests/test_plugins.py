"""Plug-ins outside ser_jax: a model and a corpus reader, one file each in a folder of the user's, named
by their import paths, are taken by the train command's flags, train, and predict from the checkpoint,
with nothing in ser_jax edited; and every plug-in package is found the same way, by its files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ser_jax import config as config_lib
from ser_jax import corpora, encoders, models, plugins, predict, splits
from ser_jax.features import recipes
from ser_jax.testing import corpora as synthetic
from ser_jax.testing.tiny import TINY_FEATURES
from ser_jax.train import loop as train_lib

MODEL = '''
"""tiny_gru: the mean valid frame through one hidden layer (a model of the user's, outside ser_jax)."""
import dataclasses

import flax.linen as nn
import jax.numpy as jnp

TINY = {"hidden": 4}


@dataclasses.dataclass(frozen=True)
class Config:
    num_classes: int = 8
    hidden: int = 16  # hidden units

    def __post_init__(self):
        if self.hidden < 1:
            raise ValueError(f"tiny_gru.hidden: must be >= 1, got {self.hidden}")


class Model(nn.Module):
    config: Config

    @nn.compact
    def __call__(self, x, lengths, *, train):
        mask = (jnp.arange(x.shape[1])[None, :] < lengths[:, None])[..., None]
        mean = jnp.sum(jnp.where(mask, x, 0.0), 1) / lengths[:, None]
        h = nn.relu(nn.Dense(self.config.hidden, name="dense_0")(mean))
        return nn.Dense(self.config.num_classes, name="logits")(h)
'''

READER = '''
"""mycorpus: SPEAKER__EMOTION__TAKE.wav (a corpus of the user's, outside ser_jax)."""
from pathlib import Path

from ser_jax import corpora

NAME = "mycorpus"
DESCRIPTION = "SPEAKER__EMOTION__TAKE.wav, e.g. s1__angry__0.wav"
COLUMNS = {"take": int}


def parse(path, root=None):
    parts = Path(path).stem.split("__")
    if len(parts) != 3 or not parts[2].isdigit():
        raise ValueError(f"{path}: not a mycorpus name: expected SPEAKER__EMOTION__TAKE")
    speaker, emotion, take = parts
    return corpora.Record(path=str(path), corpus=NAME, speaker=f"{NAME}:{speaker}",
                          emotion=corpora.canonical_emotion(emotion), extra=(("take", int(take)),))
'''

EMOTIONS = ("neutral", "happy", "sad", "angry")


@pytest.fixture()
def lab(tmp_path, monkeypatch):
    """The user's folder on sys.path (and PYTHONPATH, for the commands): my_lab/tiny_gru.py, my_lab/mycorpus.py."""
    folder = tmp_path / "lab"
    (folder / "my_lab").mkdir(parents=True)  # a namespace package: no __init__.py needed
    (folder / "my_lab" / "tiny_gru.py").write_text(textwrap.dedent(MODEL).lstrip())
    (folder / "my_lab" / "mycorpus.py").write_text(textwrap.dedent(READER).lstrip())
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])))
    yield folder
    for name in [m for m in sys.modules if m == "my_lab" or m.startswith("my_lab.")]:
        del sys.modules[name]


_FLAGS = """
import sys
from absl import flags
from ser_jax import cli
from ser_jax.train import command as train
train.define_flags()
flags.FLAGS(["train", f"--data_dir={sys.argv[1]}", "--corpus=my_lab.mycorpus", "--model=my_lab.tiny_gru",
             "--model_config=hidden=8"])
cfg = cli.experiment_config_from_flags()
print(cfg.model, cfg.corpus, repr(cfg.model_config))
flags.FLAGS(["train", f"--data_dir={sys.argv[1]}", "--model=my_lab.tiny_gru", "--model_config=hidden=0"])
try:
    cli.experiment_config_from_flags()
except cli.UsageError as e:
    print("error:", e)
"""


def test_a_model_and_a_reader_of_ones_own_train_and_predict_by_their_import_paths(lab, tmp_path):
    corpus = tmp_path / "corpus"
    for i in range(2):
        for emotion in EMOTIONS:
            for take in range(3):
                synthetic.write_wav(corpus / f"s{i}__{emotion}__{take}.wav", emotion, speaker=i, take=take)
    # The train command takes them by path: --model_config sets an outside model's fields.
    out = subprocess.run([sys.executable, "-c", _FLAGS, str(corpus)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.splitlines() == [
        "my_lab.tiny_gru ('my_lab.mycorpus',) Config(num_classes=8, hidden=8)",
        "error: --model_config=hidden: must be >= 1, got 0"]

    cfg = config_lib.ExperimentConfig(
        data_dir=str(corpus), corpus="my_lab.mycorpus", cache_dir=str(tmp_path / "cache"), features=TINY_FEATURES,
        split=splits.SplitConfig(protocol="holdout", val_size=0.2), model="my_lab.tiny_gru",
        model_config={"hidden": 8}, train=config_lib.TrainConfig(epochs=2, patience=0, batch_size=8), workers=2)
    run_dir = tmp_path / "run"
    train_lib.train_and_evaluate(cfg, run_dir, progress=False)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"] == "my_lab.tiny_gru" and config["model_config"]["hidden"] == 8
    assert config["corpus"] == ["my_lab.mycorpus"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["history"]) == 2 and metrics["n_train"] > 0

    # The checkpoint names the model by its path, so predict imports it again and rebuilds it.
    for name in [m for m in sys.modules if m.startswith("my_lab")]:
        del sys.modules[name]
    predictor = predict.load_predictor(run_dir)
    assert predictor.model_name == "my_lab.tiny_gru" and predictor.model_config.hidden == 8
    clips = [str(corpus / rel) for rel in metrics["test_predictions"]["paths"][:3]]
    got = predictor.predict_files(clips)
    assert [p.emotion for p in got] == [predictor.label_names[i] for i in metrics["test_predictions"]["y_pred"][:3]]
    assert set(predictor.label_names) == set(EMOTIONS)

    # The reader reads the corpus as the library reads any (detection tries only the readers ser_jax has).
    read = corpora.read(corpus, "my_lab.mycorpus")
    assert read.name == "mycorpus" and len(read) == 24 and read.records[0].speaker.startswith("mycorpus:s")
    assert corpora.name_of(corpus, "my_lab.mycorpus") == "mycorpus"
    assert models.tiny("my_lab.tiny_gru").hidden == 4


def test_a_name_that_is_no_plug_in_is_one_line_naming_the_flag(lab):
    with pytest.raises(ValueError, match=r"^--corpus=my_lab.tiny_gru: module my_lab.tiny_gru is not a corpus reader"):
        corpora.reader("my_lab.tiny_gru")
    with pytest.raises(ValueError, match=r"^--model=my_lab.mycorpus: module my_lab.mycorpus is not a model: it "
                                         r"lacks Config, Model$"):
        models.module("my_lab.mycorpus")
    with pytest.raises(ValueError, match=r"^--corpus=my_lab.nothere: no module my_lab.nothere on the Python path"):
        corpora.reader("my_lab.nothere")
    with pytest.raises(ValueError, match=r"^--corpus=nothere: unknown corpus reader; choose from auto, crema_d, "):
        corpora.reader("nothere")


@pytest.mark.parametrize("registry, package", [(models.MODELS, models), (corpora.READERS, corpora),
                                               (encoders.ENCODERS, encoders)])
def test_every_plug_in_package_is_its_files_not_starting_with_an_underscore(registry, package):
    files = sorted(p.stem for p in Path(package.__file__).parent.glob("*.py") if not p.name.startswith("_"))
    assert sorted(registry.values()) == [f"{package.__name__}.{f}" for f in files]
    assert isinstance(registry, plugins.Registry) and not hasattr(registry, "__setitem__")
    for name in registry:
        assert registry.module(name).__name__ == registry[name]
    assert set(recipes.RECIPES) == {p.stem for p in Path(recipes.__file__).parent.glob("*.py")
                                    if not p.name.startswith("_")}  # the recipes' rule, which the others follow
