"""python -m ser_jax.synth writes a corpus and rejects bad flags in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from synth.helpers import SR

from ser_jax import corpora


@pytest.mark.slow
def test_cli_writes_a_corpus_and_rejects_bad_flags(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ser_jax.synth", *args], capture_output=True, text=True, timeout=120
        )

    ok = run("--out", str(tmp_path), "--actors", "1", "--sample_rate", str(SR), "--emotions", "angry",
             "--channels", "song")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().count("\n") == 0 and ok.stdout.startswith("wrote 8 files (0 speech + 8 song")
    assert len(corpora.read(tmp_path)) == 8  # angry: 2 intensities x 2 statements x 2 repetitions
    bad = run("--out", str(tmp_path), "--actors", "0")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1].startswith("error: --actors=0")
