"""python -m ser_jax.predict on the tiny run's checkpoint: JSON with warnings for leaky k-fold
checkpoints and exit status 1 when a file fails, --ensemble over folds, CSV and exit status 0.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from predict.helpers import SR, _pcm, _test_clips

from ser_jax import checkpoint

# The trained runs (run in tests/conftest.py, speaker_run in tests/predict/conftest.py) are built once
# per session: the tests that use them all go to one xdist worker.
pytestmark = pytest.mark.xdist_group("predict_runs")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ser_jax.predict", *map(str, args)], capture_output=True, text=True)


@pytest.mark.slow
def test_cli_json_warns_on_leaky_k_fold_checkpoints_and_exits_1_when_a_file_fails(run, tmp_path):
    cfg, run_dir, _ = run
    # A k-fold layout whose fold_0 holds this run's best checkpoint, marked as selected on its test set.
    tree, meta = checkpoint.load_best(run_dir)
    ckpts = checkpoint.RunCheckpoints(tmp_path / "kfold" / "fold_0")
    ckpts.save("best", 1, tree, {**meta, "leaky": True, "protocol": "seed_leaky"})
    ckpts.close()
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    clips = _test_clips(run, 2)
    sf.write(folder / "sub" / "b.flac", _pcm(clips[1]), SR)
    sf.write(folder / "a.wav", _pcm(clips[0]), SR)
    (folder / "notes.txt").write_text("not audio: skipped by extension")
    (folder / "broken.wav").write_bytes(b"\0" * 100)

    out = _cli("--checkpoint", tmp_path / "kfold", "--format=json", folder)
    assert out.returncode == 1, out.stderr
    got = json.loads(out.stdout)
    assert [os.path.relpath(p["path"], folder) for p in got] == ["a.wav", os.path.join("sub", "b.flac")]
    assert all(list(p["probabilities"]) == meta["label_names"] and p["seconds"] > 1 for p in got)
    err = out.stderr.splitlines()
    assert sum("fold_0" in line and "k-fold" in line for line in err) == 1
    assert sum(line.startswith("warning: LEAKY") for line in err) == 1
    failed = [line for line in err if line.startswith("error:")]
    assert len(failed) == 1 and "broken.wav" in failed[0] and "cannot decode" in failed[0]

    # --ensemble: every fold votes; two copies of one model vote as that model.
    ckpts = checkpoint.RunCheckpoints(tmp_path / "kfold" / "fold_1")
    ckpts.save("best", 1, tree, {**meta, "leaky": True, "protocol": "seed_leaky"})
    ckpts.close()
    both = _cli("--checkpoint", tmp_path / "kfold", "--ensemble", "--format=json", folder)
    assert both.returncode == 1
    assert sum(line.startswith("member:") for line in both.stderr.splitlines()) == 2
    for a, b in zip(json.loads(both.stdout), got):
        np.testing.assert_allclose(list(a["probabilities"].values()), list(b["probabilities"].values()), atol=1e-6)


@pytest.mark.slow
def test_cli_csv_parses_and_exits_0_when_every_file_is_predicted(run, predictor):
    clips = _test_clips(run, 2)
    out = _cli(f"--checkpoint={run[1]}", "--format=csv", *clips)
    assert out.returncode == 0, out.stderr
    assert "LEAKY" not in out.stderr and "error" not in out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["path"] for r in rows] == clips
    want = predictor.predict_files(clips)
    for r, p in zip(rows, want):
        assert r["emotion"] == p.emotion and float(r["seconds"]) == pytest.approx(p.seconds, abs=1e-3)
        np.testing.assert_allclose([float(r[n]) for n in predictor.label_names],
                                   list(p.probabilities.values()), atol=1e-5)
