"""The command-line edge (ser_jax.cli, ser_jax.main, python -m ser_jax.COMMAND): help, usage errors,
entry points, process setup.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


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


def test_a_missing_flagfile_is_one_line_naming_it_and_the_presets(tmp_path):
    out = subprocess.run([sys.executable, "-m", "ser_jax.train", "--flagfile=holdot"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert "--flagfile=holdot: no such file" in out.stderr and "holdout" in out.stderr
