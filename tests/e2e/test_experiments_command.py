"""python -m ser_jax.experiments: a dry run prints the commands and runs nothing; a tiny table end to end,
with a failing row (the renderer: tests/tables/).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from experiments.helpers import write_spec

from ser_jax.experiments import runner
from ser_jax.experiments.runs import table_progress
from ser_jax.experiments.spec import load_spec
from ser_jax.tables.render import render_latex, render_markdown
from ser_jax.tables.results import collect
from ser_jax.testing.tiny import TINY_FEATURES

TINY_FLAGS = [
    "--recipe=fast", f"--sample_rate={TINY_FEATURES.sample_rate}", f"--duration={TINY_FEATURES.duration}",
    f"--n_fft={TINY_FEATURES.n_fft}", f"--hop_length={TINY_FEATURES.hop_length}",
    f"--n_mfcc={TINY_FEATURES.n_mfcc}", f"--n_mels={TINY_FEATURES.n_mels}", "--conv_filters=8", "--conv_kernels=3",
    "--lstm_units=8", "--dense_units=8", "--split=holdout", "--batch_size=16", "--learning_rate=0.003",
    "--epochs=2", "--patience=0", "--workers=1",
]


def _tiny_spec(tmp_path, cache_dir, rows):
    return write_spec(tmp_path / "tiny.json", base_flags=[*TINY_FLAGS, f"--cache_dir={cache_dir}"], rows=rows,
                      columns=[{"name": "both", "label": "speech + song", "flags": ["--channels=both"]}])


def _experiments(*args, cwd):
    return subprocess.run([sys.executable, "-m", "ser_jax.experiments", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def test_dry_run_prints_the_commands_and_runs_nothing(tiny_corpus, tmp_path):
    spec = _tiny_spec(tmp_path, tmp_path / "cache", [{"name": "a"}, {"name": "b", "flags": ["--noattention"]}])
    out = _experiments("run", spec, f"--data_dir={tiny_corpus}", f"--runs_dir={tmp_path / 'runs'}", "--dry_run",
                       "--only=b", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    commands = [line for line in out.stdout.splitlines() if not line.startswith("#")]
    assert len(commands) == 2 and all("-m ser_jax.train" in c and "--noattention" in c for c in commands)
    assert "--seed=1" in commands[1]
    assert f"--run_dir={tmp_path / 'runs' / 'tiny' / 'b' / 'both' / 'seed_1'}" in commands[1]
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_a_tiny_table_end_to_end_with_a_failing_row(tiny_corpus, tiny_cache_dir, tmp_path, monkeypatch):
    rows = [{"name": "attention", "label": "attention"},
            {"name": "meanpool", "label": "mean pooling", "flags": ["--noattention", "--learning_rate=0.01"]},
            {"name": "broken", "label": "invalid flag", "flags": ["--lstm_units=0"]}]
    spec_path = _tiny_spec(tmp_path, tiny_cache_dir, rows)
    runs = tmp_path / "runs"
    out = _experiments("run", spec_path, f"--data_dir={tiny_corpus}", f"--runs_dir={runs}", cwd=tmp_path)

    # The broken row failed (both seeds) and was recorded; the others all finished.
    assert out.returncode == 1, out.stderr
    for seed in (0, 1):
        for row in ("attention", "meanpool"):
            assert (runs / "tiny" / row / "both" / f"seed_{seed}" / "metrics.json").is_file()
        failed_dir = runs / "tiny" / "broken" / "both" / f"seed_{seed}"
        assert (failed_dir / "FAILED").is_file() and not (failed_dir / "metrics.json").exists()
        failed = json.loads((failed_dir / "failed.json").read_text())
        assert failed["returncode"] == 2 and "lstm_units" in failed["error"] and failed["stderr_tail"]
    assert re.search(r"\[\d/6\] attention/both/seed_0: accuracy \d+\.\d%, macro F1 \d+\.\d% in \d+ s", out.stdout)
    assert "broken/both/seed_1: FAILED (exit 2)" in out.stdout
    assert "tiny: 6 runs: 4 trained now, 0 already finished, 2 failed; total" in out.stdout

    # A second invocation skips every finished run: nothing is trained.
    monkeypatch.setattr(runner, "execute", lambda *a, **k: pytest.fail("a finished run was started again"))
    spec = load_spec(spec_path)
    summary = runner.run_table(spec, data_dir=str(tiny_corpus), runs_dir=runs, only_rows=["attention", "meanpool"],
                                    progress=False, echo=lambda s: None)
    assert summary.count("skipped") == 4 and not summary.failed
    assert table_progress(spec, runs) == {"done": 4, "failed": 2, "unfinished": 0, "missing": 0}

    # The renderer reads those runs: mean +- std per cell, the better row bold, the failed row "-".
    results = collect(spec, runs)
    md, tex = render_markdown(results), render_latex(results)
    accs = {r: results.cells[r, "both"].values["accuracy"] for r in ("attention", "meanpool")}
    best = max(accs, key=lambda r: round(100 * np.mean(accs[r]), 1))
    label = {"attention": "attention", "meanpool": "mean pooling"}[best]
    cell = f"{100 * np.mean(accs[best]):.1f} ± {100 * np.std(accs[best], ddof=1):.1f}"
    assert f"| {label} | **{cell}** |" in md
    assert "| invalid flag | - | - |" in md and "Protocol: holdout" in md
    assert f"{label} & $\\mathbf{{{cell.replace('±', chr(92) + 'pm')}}}$" in tex
