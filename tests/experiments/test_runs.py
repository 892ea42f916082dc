"""A table's runs (ser_jax.experiments.runs): their directories, flags in order, resume and retry, the corpora
a row trains on.
"""

from __future__ import annotations

import pytest

from ser_jax.experiments.runs import expand_runs, run_status, train_command, train_flags
from ser_jax.experiments.spec import SpecError, load_spec

from .helpers import write_spec


def test_run_directories_and_flag_order(tmp_path):
    spec = load_spec(write_spec(
        tmp_path / "t.json", base_flags=["--flagfile=base.flags"], fixed_flags=["--epochs=2"],
        rows=[{"name": "a", "flagfile": "a.flags", "flags": ["--lstm_layers=0"]}, {"name": "b"}],
        columns=[{"name": "speech", "flags": ["--channels=speech"]}, {"name": "song", "flags": ["--channels=song"]}]))
    runs = expand_runs(spec, tmp_path / "runs")
    assert [r.key for r in runs[:3]] == ["a/speech/seed_0", "a/speech/seed_1", "a/song/seed_0"]
    assert len(runs) == spec.num_runs == 8
    assert runs[0].run_dir == tmp_path / "runs" / "t" / "a" / "speech" / "seed_0"
    flags = train_flags(spec, runs[0], "DATA", ["--workers=1"])
    # Later flags win in absl: base, row (its flagfile first), column, fixed, extra, then the runner's own.
    assert flags == ["--flagfile=base.flags", "--flagfile=a.flags", "--lstm_layers=0", "--channels=speech",
                     "--epochs=2", "--workers=1", "--data_dir=DATA", f"--run_dir={runs[0].run_dir}", "--seed=0"]
    assert len(expand_runs(spec, tmp_path, only_rows=["b"], seeds=[1])) == 2
    with pytest.raises(SpecError, match=r"no row\(s\) \['c'\]"):
        expand_runs(spec, tmp_path, only_rows=["c"])


def test_resume_and_retry_choose_their_flags_from_the_run_directory(tmp_path):
    spec = load_spec(write_spec(tmp_path / "t.json"))
    run = expand_runs(spec, tmp_path / "runs")[0]
    assert run_status(run.run_dir) == "missing"
    assert train_command(spec, run, "D")[-1] == "--seed=0"
    (run.run_dir / "fold_0" / "checkpoints").mkdir(parents=True)
    assert run_status(run.run_dir) == "unfinished"
    assert train_command(spec, run, "D")[-1] == "--resume"
    (run.run_dir / "FAILED").write_text("x")
    assert run_status(run.run_dir) == "failed"
    (run.run_dir / "fold_0" / "checkpoints").rmdir()
    assert train_command(spec, run, "D")[-1] == "--overwrite"  # leftovers only: start again
    (run.run_dir / "metrics.json").write_text("{}")
    assert run_status(run.run_dir) == "done"


def test_a_row_names_the_corpora_of_data_dir_it_trains_on(tiny_corpus, tmp_path):
    emodb = tmp_path / "emodb"
    from ser_jax.testing import corpora as synthetic

    synthetic.write("emodb", emodb, speakers=1, per_emotion=1)
    spec = load_spec(write_spec(tmp_path / "t.json", rows=[
        {"name": "e", "corpora": ["emodb"]}, {"name": "both"}, {"name": "x", "corpora": ["savee"]}]))
    runs = {r.row.name: r for r in expand_runs(spec, tmp_path / "runs", seeds=[0])}
    data = f"{tiny_corpus},{emodb}"
    assert f"--data_dir={emodb}" in train_flags(spec, runs["e"], data)
    assert f"--data_dir={data}" in train_flags(spec, runs["both"], data)
    with pytest.raises(SpecError,
                       match=r"row x uses corpora \['savee'\] but --data_dir holds ravdess, emodb"):
        train_flags(spec, runs["x"], data)
