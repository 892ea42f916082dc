"""python -m ser_jax.predict --timeline on the tiny run's checkpoint: subtitles on stdout, a plot,
one file per recording in --out_dir, the real-time factor; a bad recording is one line and exit
status 1 while the others are written; flags that only make sense with --timeline say so.
"""

from __future__ import annotations

import csv
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from predict.helpers import SR, _test_clips

from ser_jax.testing import recordings

pytestmark = pytest.mark.xdist_group("predict_runs")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ser_jax.predict", *map(str, args)], capture_output=True, text=True)


@pytest.mark.slow
def test_timeline_command_prints_subtitles_draws_the_plot_and_writes_one_file_per_recording(run, predictor,
                                                                                             tmp_path):
    rec = tmp_path / "session.wav"
    recordings.join(_test_clips(run, 3), [1.0, 1.5, 1.0], rec, SR, lead=0.5)
    out = _cli(f"--checkpoint={run[1]}", "--timeline", "--format=vtt", f"--plot={tmp_path / 'session.png'}", rec)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("WEBVTT\n") and " --> " in out.stdout
    assert (tmp_path / "session.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "x real time" in out.stderr and "Traceback" not in out.stderr

    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVE")
    other = tmp_path / "other.wav"
    recordings.join(_test_clips(run, 5)[3:], [1.0, 1.0], other, SR)
    done = _cli(f"--checkpoint={run[1]}", "--timeline", "--format=csv", f"--out_dir={tmp_path / 'out'}", rec, bad,
                other)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.wav" in errors[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["other.csv", "session.csv"]
    rows = list(csv.DictReader((tmp_path / "out" / "session.csv").open()))
    want = predictor.timeline(rec)
    assert [float(r["start"]) for r in rows] == pytest.approx([s.start for s in want.segments], abs=1e-3)
    np.testing.assert_allclose([[float(r[n]) for n in predictor.label_names] for r in rows],
                               want.probabilities(), atol=1e-5)


@pytest.mark.slow
def test_timeline_only_flags_are_one_line_usage_errors_without_it(run, tmp_path):
    clip = _test_clips(run, 1)[0]
    for flag in ("--format=srt", f"--plot={tmp_path / 'x.png'}", f"--out_dir={tmp_path}"):
        out = _cli(f"--checkpoint={run[1]}", flag, clip)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and "--timeline" in out.stderr, out.stderr
    out = _cli(f"--checkpoint={run[1]}", "--timeline", "--top_db=-3", clip)
    assert out.returncode == 2 and "--top_db" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_only_whole_files(run, tmp_path):
    rec = tmp_path / "session.wav"
    recordings.join(_test_clips(run, 3), [1.0, 1.0, 1.0], rec, SR)
    copies = []
    for i in range(12):
        copies.append(tmp_path / f"session_{i:02d}.wav")
        shutil.copy(rec, copies[-1])
    out_dir = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "ser_jax.predict", f"--checkpoint={run[1]}", "--timeline",
                             "--format=srt", f"--out_dir={out_dir}", *map(str, copies)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and not (out_dir.exists() and any(out_dir.glob("*.srt"))):
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    written = sorted(out_dir.iterdir())
    assert 1 <= len(written) < len(copies) and all(p.suffix == ".srt" for p in written)  # no temporary file left
    assert all(p.read_text().startswith("1\n") for p in written)
