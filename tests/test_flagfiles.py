"""Flagfiles and presets (ser_jax.flagfiles): presets by name from any folder, files composed relative to their
includer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import ser_jax

PACKAGE = Path(ser_jax.__file__).parent
ROOT = PACKAGE.parent


_PARSE_EVERY_PRESET = """
import sys
from absl import flags
from ser_jax import cli, flagfiles
cli.define_data_flags(); cli.define_feature_flags(); cli.define_train_flags()
for name in flagfiles.presets():
    for spelling in (name, f"{name}.flags"):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(flagfiles.expand(["train", f"--flagfile={spelling}"]))  # raises on an unknown flag or value
        print(spelling, flags.FLAGS.split, flags.FLAGS.epochs)
"""


def test_every_preset_parses_from_any_folder_by_name(tmp_path):
    from ser_jax import flagfiles

    assert {"base", "demo", "holdout", "seed", "speaker_independent", "speaker_independent_v1"} <= set(
        flagfiles.presets())
    out = subprocess.run([sys.executable, "-c", _PARSE_EVERY_PRESET], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    parsed = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert len(parsed) == 2 * len(flagfiles.presets())
    assert parsed["holdout"] == parsed["holdout.flags"] == "holdout 80"
    assert parsed["speaker_independent"].startswith("speaker_kfold")


def test_flagfiles_compose_relative_to_the_file_that_includes_them(tmp_path):
    from ser_jax import flagfiles

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "common.flags").write_text("# shared\n--epochs=5\n--lstm_units=16\n")
    (tmp_path / "mine" / "exp.flags").write_text("--flagfile=common.flags\n--epochs=7\n")
    (tmp_path / "mine" / "on_preset.flags").write_text("--flagfile=holdout\n--epochs=9\n")
    argv = flagfiles.expand(["prog", f"--flagfile={tmp_path / 'mine' / 'exp.flags'}", "--seed=3"])
    assert argv == ["prog", "--epochs=5", "--lstm_units=16", "--epochs=7", "--seed=3"]  # later flags win
    on_preset = flagfiles.expand(["prog", f"--flagfile={tmp_path / 'mine' / 'on_preset.flags'}"])
    assert "--split=holdout" in on_preset and on_preset[-1] == "--epochs=9"
    (tmp_path / "loop.flags").write_text(f"--flagfile={tmp_path / 'loop.flags'}\n")
    with pytest.raises(flagfiles.FlagfileError, match="loop"):
        flagfiles.expand([f"--flagfile={tmp_path / 'loop.flags'}"])


def test_a_preset_is_a_file_of_the_top_level_experiments_folder_read_by_path_from_the_checkout():
    from ser_jax import flagfiles

    assert flagfiles.EXPERIMENTS_DIR == ROOT / "experiments"
    by_path = flagfiles.expand(["prog", "--flagfile=experiments/holdout.flags"])  # cwd: the checkout (pytest's)
    assert by_path == flagfiles.expand(["prog", "--flagfile=holdout"])


def test_a_path_that_names_no_file_is_not_looked_up_as_a_preset(tmp_path, monkeypatch):
    from ser_jax import flagfiles

    monkeypatch.chdir(tmp_path)
    with pytest.raises(flagfiles.FlagfileError, match="experiments/holdout.flags: no such file") as e:
        flagfiles.expand(["prog", "--flagfile=experiments/holdout.flags"])
    assert "holdout" in str(e.value).split(";")[-1]  # the presets are listed, by name
