"""Flags are derived from the config dataclasses: every field is settable, a new field needs no CLI code."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
from absl import flags

from ser_jax import config_flags
from ser_jax.fields import setting


@dataclasses.dataclass(frozen=True)
class Toy:
    """A config as a library module would write it."""

    steps: int = 3  # how many steps
    rate: float = setting(0.5, "A rate.")
    name: str = setting("a", "One of a, b.", choices=("a", "b"))
    label: str = ""  # free text
    on: bool = True  # a switch
    sizes: tuple[int, ...] = (4, 8)  # one per layer
    limit: float | None = None  # none by default
    derived: int = setting(0, cli=False)

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"Toy.steps must be >= 1, got {self.steps}")


@dataclasses.dataclass(frozen=True)
class ToyWithNewField(Toy):
    added: int = 7  # a field added later


def _parse(cls, argv, prefix=""):
    fv = flags.FlagValues()
    config_flags.define(cls, prefix=prefix, flag_values=fv)
    fv(["prog", *argv])
    return fv


def test_every_field_becomes_a_typed_flag_with_its_default_and_help():
    fv = _parse(Toy, [])
    assert {n for n in fv} == {"steps", "rate", "name", "label", "on", "sizes", "limit"}  # not the derived field
    assert config_flags.build(Toy, flag_values=fv) == Toy()
    assert fv["steps"].help == "how many steps" and fv["rate"].help == "A rate."  # comment or setting()
    assert fv["name"].flag_type() == "string enum"


def test_flags_parse_into_the_fields_types():
    fv = _parse(Toy, ["--steps=5", "--rate=0.1", "--name=b", "--label=x y", "--noon", "--sizes=1,2,3", "--limit=2"])
    assert config_flags.build(Toy, flag_values=fv) == Toy(5, 0.1, "b", "x y", False, (1, 2, 3), 2.0)


def test_a_new_field_is_a_flag_without_any_cli_code():
    fv = _parse(ToyWithNewField, ["--added=9"])
    assert config_flags.build(ToyWithNewField, flag_values=fv).added == 9


def test_prefixed_flags_for_configs_that_share_field_names():
    fv = _parse(Toy, ["--toy.steps=2"], prefix="toy.")
    assert config_flags.build(Toy, "toy.", flag_values=fv).steps == 2
    assert config_flags.changed(Toy, "toy.", flag_values=fv) == ["toy.steps"]


def test_errors_name_the_flag_as_typed_not_the_field():
    fv = _parse(Toy, ["--toy.steps=0"], prefix="toy.")
    with pytest.raises(config_flags.UsageError, match=r"^--toy\.steps must be >= 1, got 0$"):
        config_flags.build(Toy, "toy.", flag_values=fv)
    fv = _parse(Toy, ["--sizes=1,x"])
    with pytest.raises(config_flags.UsageError, match=r"^--sizes=1,x: expected comma-separated int values$"):
        config_flags.build(Toy, flag_values=fv)


_TRAIN_FLAGS = """
import dataclasses, json
from absl import flags
from ser_jax import config_flags, models, cli
from ser_jax.train import command as train
from ser_jax.config import ExperimentConfig
train.define_flags()
flags.FLAGS(["prog", "--data_dir=."])
missing, helpless = [], []
def walk(cls, prefix=""):
    names = config_flags.flag_names(cls, prefix)
    for f in config_flags.bindable(cls):
        if f.name == "num_classes" and cls.__module__.startswith("ser_jax.models"):
            continue
        if f.name not in names:
            missing.append(f"{cls.__module__}.{cls.__qualname__}.{f.name}")
        elif not flags.FLAGS[names[f.name]].help:
            helpless.append(names[f.name])
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.default):
            walk(type(f.default))
walk(ExperimentConfig)
for name in models.MODELS:
    walk(models.config_class(name), cli.model_prefix(name))
cfg = cli.experiment_config_from_flags()
print(json.dumps({"missing": missing, "helpless": helpless,
                  "same": cfg == ExperimentConfig(data_dir=".", features=cfg.features)}))
"""


def test_every_field_of_the_training_configs_is_a_train_flag_with_help():
    out = subprocess.run([sys.executable, "-c", _TRAIN_FLAGS], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["missing"] == []
    assert result["helpless"] == []
    assert result["same"]  # flags at their defaults give the dataclasses' defaults


_PRESET_SIZES = """
import json
from absl import flags
from ser_jax import cli, flagfiles
from ser_jax.train import command as train
train.define_flags()
for preset, extra in (("whisper_unseen", []), ("whisper", []), ("whisper_unseen", ["--recipe=whisper_egemaps"]),
                      ("whisper_unseen", ["--superb.state_width=1024"]), ("whisper_unseen", ["--superb.state_width=512"])):
    flags.FLAGS.unparse_flags()
    flags.FLAGS(flagfiles.expand(["train", f"--flagfile={preset}", "--data_dir=.", *extra]))
    try:
        m = cli.experiment_config_from_flags().model_config
        print(json.dumps([m.state_width, m.extra]))
    except cli.UsageError as e:
        print(json.dumps(str(e)))
"""


def test_the_presets_head_sizes_follow_from_the_features_as_they_were_typed_and_a_wrong_one_is_one_line():
    """whisper_unseen.flags no longer types --superb.state_width=1024: mean + std pooling of Whisper base's
    512-wide states gives it, so config.json (and the run) is what it was; typed, it must agree."""
    out = subprocess.run([sys.executable, "-c", _PRESET_SIZES], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    got = [json.loads(line) for line in out.stdout.strip().splitlines()]
    assert got[:4] == [[1024, 0], [512, 0], [1024, 88], [1024, 0]]
    assert got[4] == ("--superb.state_width=512: each hidden state of --encoder=whisper-base with "
                      "--encoder_pool=meanstd is 1024 wide; set --superb.state_width=1024")
