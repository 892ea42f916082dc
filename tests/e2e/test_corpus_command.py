"""python -m ser_jax.corpus: a corpus folder's summary, and a one-line error for a folder that is not there."""

from __future__ import annotations

import subprocess
import sys

from corpora.helpers import _write


def test_command_line_summary(tmp_path):
    _write(tmp_path / "03-01-02-01-01-01-03.wav")
    out = subprocess.run([sys.executable, "-m", "ser_jax.corpus", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0
    assert "reader ravdess (auto" in out.stdout
    assert "1 files = 1 speech" in out.stdout
    assert "speakers: 1 (ravdess:03 1)" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "ser_jax.corpus", str(tmp_path / "no")], capture_output=True,
                         text=True)
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("error:")
