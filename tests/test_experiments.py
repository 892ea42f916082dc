"""Table specs, their runs and the runner that trains them (the renderer: tests/test_tables.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ser_jax.experiments import runner
from ser_jax.experiments.runs import expand_runs, run_status, table_progress, train_command, train_flags
from ser_jax.experiments.spec import SpecError, check_flagfiles, find_specs, load_spec
from ser_jax.features import ALL_GROUPS
from ser_jax.tables.render import render_latex, render_markdown
from ser_jax.tables.results import collect

from conftest import TINY_FEATURES

ROOT = Path(__file__).resolve().parents[1]


def write_spec(path: Path, **fields) -> Path:
    spec = {"title": "Tiny table", "caption": "A test of the table machinery.", "metrics": ["accuracy", "macro_f1"],
            "seeds": [0, 1], "rows": [{"name": "a", "label": "row a"}], **fields}
    path.write_text(json.dumps(spec))
    return path


# ----------------------------------------------------------------------------------------------
# Specs


def test_specs_live_in_experiments_tables_and_load_by_name_from_any_folder(monkeypatch, tmp_path):
    by_path = load_spec("experiments/tables/protocols.json")  # from the checkout
    monkeypatch.chdir(tmp_path)
    by_name = load_spec("protocols")
    assert load_spec("protocols.json") == by_name
    assert Path(by_name.path) == ROOT / "experiments" / "tables" / "protocols.json" and by_path.rows == by_name.rows
    with pytest.raises(SpecError, match=r"no spec of that name; by name, from any folder: corpora, "):
        load_spec("nonesuch")
    with pytest.raises(SpecError, match=r"experiments/tables/protocols.json: no such table spec"):
        load_spec("experiments/tables/protocols.json")  # a path is a path: no lookup by its name


def test_the_four_ravdess_specs_load_and_name_existing_flagfiles(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # flagfiles are presets: found from any folder
    specs = {p.stem: load_spec(p) for p in find_specs()}
    assert {"protocols", "features", "model", "per_emotion"} <= set(specs)
    for spec in specs.values():
        check_flagfiles(spec)
        assert len(spec.seeds) >= 3 and spec.caption
    assert [c.name for c in specs["protocols"].columns] == ["speech", "song", "both"]
    assert len(specs["protocols"].rows) == 3 and set(specs["protocols"].metrics) == {"accuracy", "macro_f1", "uar"}
    assert len(specs["features"].rows) == 13  # all, 9 leave-one-out, MFCC only, fast recipe, full length
    assert specs["per_emotion"].kind == "per_emotion"
    # Each feature group is left out by exactly one row.
    dropped = []
    for row in specs["features"].rows:
        groups = [f.split("=", 1)[1].split(",") for f in row.flags if f.startswith("--feature_groups=")]
        if groups and len(groups[0]) == 8:
            dropped += sorted(set(ALL_GROUPS) - set(groups[0]))
    assert sorted(dropped) == sorted(ALL_GROUPS)


@pytest.mark.parametrize("change,message", [
    ({"rows": [{"name": "a", "flags": ["--seed=3"]}]}, r"rows\[0\]\.flags: '--seed=3': --seed is set by the runner"),
    ({"rows": [{"name": "a b"}]}, r"rows\[0\]\.name: 'a b' is not a usable name"),
    ({"rows": [{"name": "a"}, {"name": "a"}]}, r"rows\[1\]\.name: 'a' appears twice"),
    ({"rows": [{"name": "a", "flag": []}]}, r"rows\[0\]: unknown key\(s\) \['flag'\]"),
    ({"rows": [{"name": "a", "flags": ["epochs=3"]}]}, r"'epochs=3' is not a flag"),
    ({"metrics": ["acc"]}, r"metrics: expected a non-empty list drawn from"),
    ({"seeds": [0, 0]}, r"seeds: expected a non-empty list of distinct integers"),
    ({"kind": "per_emotion", "rows": [{"name": "a"}, {"name": "b"}]}, r"exactly one row and one column"),
])
def test_bad_specs_are_one_line_errors_naming_file_and_field(tmp_path, change, message):
    path = write_spec(tmp_path / "bad.json", **change)
    with pytest.raises(SpecError, match=message) as e:
        load_spec(path)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


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


# ----------------------------------------------------------------------------------------------
# The runner, end to end on the tiny corpus


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
