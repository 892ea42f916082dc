"""python -m ser_jax.train: its usage errors, one line each naming the flag."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _train_tcn(corpus, tmp_path, flag: str) -> subprocess.CompletedProcess:
    """python -m ser_jax.train --model=tcn with one more flag, on the tiny corpus."""
    return subprocess.run(
        [sys.executable, "-m", "ser_jax.train", f"--data_dir={corpus}", "--model=tcn", flag,
         f"--run_dir={tmp_path}/r", f"--cache_dir={tmp_path}/c"],
        capture_output=True, text=True, timeout=120)


def test_the_train_command_names_a_bad_model_setting_in_one_line(tiny_corpus, tmp_path):
    proc = _train_tcn(tiny_corpus, tmp_path, "--model_config=width=3")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --model_config=width=3: model 'tcn' has no setting 'width'; it has filters, "
        "kernel_size, dilations, dropout, head_dropout")


def test_crnn_flags_given_to_another_model_are_refused_not_ignored(tiny_corpus, tmp_path):
    proc = _train_tcn(tiny_corpus, tmp_path, "--lstm_units=32")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --lstm_units is a setting of --model=crnn, not of --model=tcn; drop it or set tcn's own flags")


def test_each_models_own_flags_set_its_fields(tiny_corpus, tmp_path):
    """Every model's Config fields are flags (--tcn.filters); a new field needs no CLI code."""
    proc = _train_tcn(tiny_corpus, tmp_path, "--tcn.filters=0")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "error: --tcn.filters: it must be an integer >= 1, got 0"


@pytest.mark.slow
@pytest.mark.parametrize(
    "flag,message",
    [
        ("--data_dir={missing}", "error: --data_dir={missing}: no such folder or file"),
        ("--fold=7", "fold"),
        ("--learning_rate=-1", "error: --learning_rate: must be a finite number > 0, got -1.0"),
        ("--b1=1.5", "error: --b1: must be in [0, 1), got 1.5"),  # settable since flags come from the configs
        ("--conv_kernels=3,3", "error: --conv_kernels: 2 kernel sizes for 1 conv_filters"),  # not crnn.conv_kernels
        ("--split=speakers", "error: --train_speakers is empty"),  # not SplitConfig.train_speakers
        ("--tcn.filters=8", "error: --tcn.filters is a setting of --model=tcn, not of --model=crnn"),
        ("--duration=soon", "error: --duration='soon'"),
        ("--duration=0", "error: --duration=0: must be a positive number of seconds; for each clip's full length"),
        ("--copies=noise:30:10", "error: --copies=noise:30:10: noise:30:10: the SNR must be an SNR in dB or a range"),
        ("--copies=speed:1", "error: --copies=speed:1: speed:1: give a factor in [0.5, 2] other than 1"),
        ("--copies=pitch:2", "error: --copies=pitch:2: unknown kind of copy 'pitch'; kinds: speed (e.g. speed:0.9)"),
        # Spellings of earlier versions that flagfiles may still hold: each names the new one.
        ("--speed_perturb=0.9,1.1", "error: --speed_perturb=0.9,1.1 is spelled --copies=speed:0.9,speed:1.1 now"),
        ("--noise_snr=10:30", "error: --noise_snr=10:30 is spelled --copies=noise:10:30 now"),
        ("--vtlp=1.1", "error: --vtlp=1.1 is spelled --copies=vtlp:1.1 now"),
        ("--time_masks=-2", "error: --time_masks=-2: must be >= 0"),
        ("--corpus=bogus", "error: --corpus=bogus: unknown reader 'bogus'"),
        ("--split=cross_corpus", "test_corpus"),
        ("--emotions=joyful", "unknown emotion 'joyful'"),
    ],
)
def test_bad_flags_are_one_line_errors_naming_the_flag(tiny_corpus, tmp_path, flag, message):
    missing = tmp_path / "missing"
    args = [f"--data_dir={tiny_corpus}", f"--run_dir={tmp_path / 'run'}", flag.format(missing=missing)]
    out = subprocess.run([sys.executable, "-m", "ser_jax.train", *args], capture_output=True, text=True)
    assert out.returncode != 0
    err = [line for line in out.stderr.splitlines() if line.strip() and not line.startswith("Pass --help")]
    assert len(err) == 1, out.stderr
    assert message.format(missing=missing) in err[0]
