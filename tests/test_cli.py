"""The command-line edge: help, usage errors, entry points, process setup."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ser_jax

PACKAGE = Path(ser_jax.__file__).parent
ROOT = PACKAGE.parent


def _run(*args, env=None):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_train_help_lists_its_own_flags_by_group_with_defaults():
    out = _run("-m", "ser_jax.train", "--help")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for group in ("data:", "features:", "split:", "model:", "optimiser:", "training:", "augmentation:"):
        assert f"\n{group}\n" in text
    assert "  --data_dir\n" in text and "  --epochs=80\n" in text and "  --[no]speaker_norm\n" in text
    # Only ser_jax's flags: absl's and orbax's are behind --helpfull.
    assert "--verbosity" not in text and "--only_check_args" not in text
    assert text.index("\ndata:") < text.index("\nmodel:") < text.index("\ntraining:")


@pytest.mark.parametrize("args, names", [
    (["--bogus=1"], "'bogus'"),
    (["--split=bogus"], "--split=bogus"),
    (["--epochs=x"], "--epochs=x"),
])
def test_a_bad_flag_is_one_line_and_exit_status_2(args, names):
    out = _run("-m", "ser_jax.train", *args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and names in lines[0], out.stderr


def test_the_console_script_dispatches_to_the_same_commands():
    listing = _run("-m", "ser_jax.main", "--help")
    assert listing.returncode == 0 and "train" in listing.stdout and "predict" in listing.stdout
    unknown = _run("-m", "ser_jax.main", "trian")
    assert unknown.returncode == 2 and "unknown command 'trian'" in unknown.stderr
    via_script = _run("-m", "ser_jax.main", "train", "--help")
    via_module = _run("-m", "ser_jax.train", "--help")
    assert via_script.returncode == 0 and via_script.stdout == via_module.stdout


def test_importing_ser_jax_leaves_the_process_alone_even_as_python_dash_m_would():
    check = "import sys; sys.argv = ['-m']; import ser_jax, ser_jax.corpus, ser_jax.runtime as r; print(r.done)"
    assert _run("-c", check).stdout.strip() == "False"


_AS_COMMAND = """
import runpy, sys
sys.argv = ["{command}", "--help"]
try:
    runpy.run_module("ser_jax.{command}", run_name="__main__")  # what python -m ser_jax.{command} runs
except SystemExit:
    pass
import ser_jax.runtime as r
print(r.done, r.jax_loaded_before_setup)
"""


@pytest.mark.parametrize("command", ["train", "predict"])
def test_a_command_sets_its_process_up_before_anything_imports_jax(command):
    script = _AS_COMMAND.format(command=command)
    assert _run("-c", script).stdout.strip().splitlines()[-1] == "True False"
    assert _run("-c", script, env={"SER_JAX_PROCESS_SETUP": "0"}).stdout.strip().splitlines()[-1] == "False False"


def test_the_compilation_cache_flag(tmp_path):
    from ser_jax import runtime

    assert runtime.compilation_cache_dir("", tmp_path / "xla") == str(tmp_path / "xla")
    assert runtime.compilation_cache_dir("off", tmp_path / "xla") is None
    assert runtime.compilation_cache_dir("~/x", "unused") == os.path.expanduser("~/x")


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


def test_a_missing_flagfile_is_one_line_naming_it_and_the_presets(tmp_path):
    out = subprocess.run([sys.executable, "-m", "ser_jax.train", "--flagfile=holdot"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert "--flagfile=holdot: no such file" in out.stderr and "holdout" in out.stderr


def test_the_run_directory_layout_is_named_in_one_module_only():
    from ser_jax import rundir

    names = {rundir.CONFIG, rundir.METRICS, rundir.HISTORY, rundir.REPORT, rundir.CHECKPOINTS, rundir.CONFUSION,
             rundir.CONFUSION_NORMALIZED, rundir.CURVES}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "rundir.py":
            continue
        literals = {n.value for n in ast.walk(ast.parse(path.read_text()))
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        assert not literals & names, f"{path} spells {literals & names}; use ser_jax.rundir"


def test_fold_directories_come_in_fold_order(tmp_path):
    from ser_jax import rundir

    for k in (10, 2, 0):
        rundir.fold_dir(tmp_path, k).mkdir()
    (tmp_path / "fold_notes").mkdir()
    assert [p.name for p in rundir.fold_dirs(tmp_path)] == ["fold_0", "fold_2", "fold_10"]
