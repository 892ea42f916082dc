"""python -m ser_jax.train: its usage errors, one line each naming the flag."""

from __future__ import annotations

import subprocess
import sys


def test_the_train_command_names_a_bad_model_setting_in_one_line(tiny_corpus, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ser_jax.train", f"--data_dir={tiny_corpus}", "--model=tcn",
         "--model_config=width=3", f"--run_dir={tmp_path}/r", f"--cache_dir={tmp_path}/c"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --model_config=width=3: model 'tcn' has no setting 'width'; it has filters, "
        "kernel_size, dilations, dropout, head_dropout")


def test_crnn_flags_given_to_another_model_are_refused_not_ignored(tiny_corpus, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ser_jax.train", f"--data_dir={tiny_corpus}", "--model=tcn", "--lstm_units=32",
         f"--run_dir={tmp_path}/r", f"--cache_dir={tmp_path}/c"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --lstm_units is a setting of --model=crnn, not of --model=tcn; drop it or set tcn's own flags")


def test_each_models_own_flags_set_its_fields(tiny_corpus, tmp_path):
    """Every model's Config fields are flags (--tcn.filters); a new field needs no CLI code."""
    proc = subprocess.run(
        [sys.executable, "-m", "ser_jax.train", f"--data_dir={tiny_corpus}", "--model=tcn", "--tcn.filters=0",
         f"--run_dir={tmp_path}/r", f"--cache_dir={tmp_path}/c"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "error: --tcn.filters: it must be an integer >= 1, got 0"
