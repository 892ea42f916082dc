"""Table specs, the runner that trains every run of a table, and the renderer of its results."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ser_jax import experiments, report, tables
from ser_jax.features import ALL_GROUPS

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
    by_path = experiments.load_spec("experiments/tables/protocols.json")  # from the checkout
    monkeypatch.chdir(tmp_path)
    by_name = experiments.load_spec("protocols")
    assert experiments.load_spec("protocols.json") == by_name
    assert Path(by_name.path) == ROOT / "experiments" / "tables" / "protocols.json" and by_path.rows == by_name.rows
    with pytest.raises(experiments.SpecError, match=r"no spec of that name; by name, from any folder: corpora, "):
        experiments.load_spec("nonesuch")
    with pytest.raises(experiments.SpecError, match=r"experiments/tables/protocols.json: no such table spec"):
        experiments.load_spec("experiments/tables/protocols.json")  # a path is a path: no lookup by its name


def test_the_four_ravdess_specs_load_and_name_existing_flagfiles(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # flagfiles are presets: found from any folder
    specs = {p.stem: experiments.load_spec(p) for p in experiments.find_specs()}
    assert {"protocols", "features", "model", "per_emotion"} <= set(specs)
    for spec in specs.values():
        experiments.check_flagfiles(spec)
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
    with pytest.raises(experiments.SpecError, match=message) as e:
        experiments.load_spec(path)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


def test_run_directories_and_flag_order(tmp_path):
    spec = experiments.load_spec(write_spec(
        tmp_path / "t.json", base_flags=["--flagfile=base.flags"], fixed_flags=["--epochs=2"],
        rows=[{"name": "a", "flagfile": "a.flags", "flags": ["--lstm_layers=0"]}, {"name": "b"}],
        columns=[{"name": "speech", "flags": ["--channels=speech"]}, {"name": "song", "flags": ["--channels=song"]}]))
    runs = experiments.expand_runs(spec, tmp_path / "runs")
    assert [r.key for r in runs[:3]] == ["a/speech/seed_0", "a/speech/seed_1", "a/song/seed_0"]
    assert len(runs) == spec.num_runs == 8
    assert runs[0].run_dir == tmp_path / "runs" / "t" / "a" / "speech" / "seed_0"
    flags = experiments.train_flags(spec, runs[0], "DATA", ["--workers=1"])
    # Later flags win in absl: base, row (its flagfile first), column, fixed, extra, then the runner's own.
    assert flags == ["--flagfile=base.flags", "--flagfile=a.flags", "--lstm_layers=0", "--channels=speech",
                     "--epochs=2", "--workers=1", "--data_dir=DATA", f"--run_dir={runs[0].run_dir}", "--seed=0"]
    assert len(experiments.expand_runs(spec, tmp_path, only_rows=["b"], seeds=[1])) == 2
    with pytest.raises(experiments.SpecError, match=r"no row\(s\) \['c'\]"):
        experiments.expand_runs(spec, tmp_path, only_rows=["c"])


def test_resume_and_retry_choose_their_flags_from_the_run_directory(tmp_path):
    spec = experiments.load_spec(write_spec(tmp_path / "t.json"))
    run = experiments.expand_runs(spec, tmp_path / "runs")[0]
    assert experiments.run_status(run.run_dir) == "missing"
    assert experiments.train_command(spec, run, "D")[-1] == "--seed=0"
    (run.run_dir / "fold_0" / "checkpoints").mkdir(parents=True)
    assert experiments.run_status(run.run_dir) == "unfinished"
    assert experiments.train_command(spec, run, "D")[-1] == "--resume"
    (run.run_dir / "FAILED").write_text("x")
    assert experiments.run_status(run.run_dir) == "failed"
    (run.run_dir / "fold_0" / "checkpoints").rmdir()
    assert experiments.train_command(spec, run, "D")[-1] == "--overwrite"  # leftovers only: start again
    (run.run_dir / "metrics.json").write_text("{}")
    assert experiments.run_status(run.run_dir) == "done"


# ----------------------------------------------------------------------------------------------
# Rendering fabricated results (the renderer only reads metrics.json files)


def _metrics(acc, f1, *, protocol="holdout", leaky=False, folds=False):
    if folds:
        return {"accuracy": {"mean": acc, "std": 0.1}, "macro_f1": {"mean": f1, "std": 0.1}, "uar": {"mean": acc},
                "n_folds": 5, "protocol": protocol, "leaky": leaky}
    return {"accuracy": acc, "macro_f1": f1, "uar": acc, "protocol": protocol, "leaky": leaky}


def _fake_table(tmp_path):
    spec = experiments.load_spec(write_spec(
        tmp_path / "fake.json", seeds=[0, 1, 2],
        rows=[{"name": "leaky", "label": "original_protocol"}, {"name": "good", "label": "holdout"},
              {"name": "partial", "label": "k-fold"}, {"name": "never", "label": "not run"}],
        columns=[{"name": "speech", "label": "speech"}, {"name": "song", "label": "song"}]))
    values = {
        "leaky": ([0.90, 0.92, 0.94], dict(protocol="seed_leaky", leaky=True)),
        "good": ([0.70, 0.74, 0.72], {}),
        "partial": ([0.60, 0.80], dict(protocol="actor_kfold", folds=True)),
    }
    for row, (accs, kw) in values.items():
        for col, shift in (("speech", 0.0), ("song", -0.1)):
            for seed, acc in enumerate(accs):
                report.write_json(tmp_path / "runs" / "fake" / row / col / f"seed_{seed}" / "metrics.json",
                                  _metrics(acc + shift, acc + shift - 0.05, **kw))
    return tables.collect(spec, tmp_path / "runs")


def test_markdown_shows_mean_and_sample_std_marks_the_best_and_flags_leaky_rows(tmp_path):
    md = tables.render_markdown(_fake_table(tmp_path))
    lines = md.splitlines()
    assert lines[0] == "**Tiny table**"
    assert lines[2] == ("| Configuration | speech: accuracy | speech: macro F1 | song: accuracy | song: macro F1 |")
    cells = [[c.strip() for c in line.strip().strip("|").split(" | ")] for line in lines[4:8]]
    rows = {c[0]: c[1:] for c in cells}
    # good: 0.70, 0.74, 0.72 -> 72.0 +- 2.0 (sample std), the best non-leaky cell: bold.
    assert rows["holdout"][0] == f"**72.0 ± {100 * np.std([.70, .74, .72], ddof=1):.1f}**"
    assert rows["holdout"][2].startswith("**62.0 ± 2.0**")
    # The leaky row scores higher but is not eligible; it carries a dagger and a footnote.
    assert rows["original_protocol †"][0] == "92.0 ± 2.0"
    assert "† LEAKY: early stopping chose the epoch on the test set" in md
    # Two of three seeds finished; a k-fold run's sample is its mean over folds.
    assert rows["k-fold"][0] == f"70.0 ± {100 * np.std([.6, .8], ddof=1):.1f} (n=2)"
    assert rows["not run"] == ["-", "-", "-", "-"]
    caption = lines[9]
    assert caption.startswith("A test of the table machinery.") and "3 training seeds (0, 1, 2)" in caption
    assert "original_protocol: seed_leaky" in caption and "k-fold: actor_kfold" in caption
    assert "not run: not run yet" in caption


def test_a_per_corpus_row_gains_a_sub_row_for_each_tested_corpus(tmp_path):
    spec = experiments.load_spec(write_spec(tmp_path / "pc.json", seeds=[0, 1], metrics=["accuracy"], rows=[
        {"name": "both", "label": "both corpora", "per_corpus": True, "corpora": ["ravdess", "emodb"]}]))
    assert spec.rows[0].corpora == ("ravdess", "emodb")
    for seed, (r, e) in enumerate(((0.6, 0.5), (0.7, 0.7))):
        m = _metrics(0.65, 0.6, protocol="speaker_kfold", folds=True)
        m["per_corpus"] = {"ravdess": {"accuracy": {"mean": r, "std": 0.0}},
                           "emodb": {"accuracy": {"mean": e, "std": 0.0}}}
        report.write_json(tmp_path / "runs" / "pc" / "both" / "all" / f"seed_{seed}" / "metrics.json", m)
    md = tables.render_markdown(tables.collect(spec, tmp_path / "runs"))
    rows = {c[0]: c[1] for c in ([x.strip() for x in line.strip().strip("|").split(" | ")]
                                 for line in md.splitlines() if line.startswith("| both"))}
    assert rows["both corpora"] == "**65.0 ± 0.0**"
    # a sub-row scores another test set: it never competes for bold
    assert rows["both corpora: ravdess test speakers"] == f"65.0 ± {100 * np.std([.6, .7], ddof=1):.1f}"
    assert rows["both corpora: emodb test speakers"].startswith("60.0 ± 14.1")


def _predictions(name, y_true, probs):
    return {"paths": [f"{name}/{i}.wav" for i in range(len(y_true))], "y_true": list(y_true),
            "y_pred": np.argmax(probs, -1).tolist(), "probabilities": probs}


def _fold_run(run_dir, folds, val=None):
    """A fabricated finished k-fold run: per fold (y_true, probabilities) of its test clips, and of
    its validation clips when ``val`` gives them (runs written before they were kept have none)."""
    accs = []
    for name, (y_true, probs) in folds.items():
        accs.append(float(np.mean(np.argmax(probs, -1) == np.asarray(y_true))))
        report.write_json(run_dir / name / "metrics.json", {
            "label_names": ["a", "b"], "accuracy": accs[-1], "test_predictions": _predictions(name, y_true, probs),
            **({"val_predictions": _predictions(f"val_{name}", *val[name])} if val else {})})
    report.write_json(run_dir / "metrics.json", {
        "accuracy": {"mean": float(np.mean(accs))}, "macro_f1": {"mean": 0.5}, "uar": {"mean": 0.5},
        "best_val_accuracy": {"mean": 0.5}, "protocol": "emobox", "leaky": False})


def test_an_ensemble_row_scores_the_mean_probabilities_of_its_seeds_fold_by_fold(tmp_path):
    spec = experiments.load_spec(write_spec(tmp_path / "en.json", seeds=[0, 1, 2], metrics=["best_val_accuracy",
                                                                                          "accuracy"],
                                            rows=[{"name": "m", "label": "model", "ensemble": True}]))
    y = [0, 0, 1, 1]
    # Each seed is right on 3 of 4 clips of fold_1, each wrong on a different clip; the mean is right on all.
    seeds = [
        [[.4, .6], [.9, .1], [.2, .8], [.3, .7]],
        [[.9, .1], [.4, .6], [.2, .8], [.3, .7]],
        [[.9, .1], [.8, .2], [.6, .4], [.3, .7]],
    ]
    for seed, probs in enumerate(seeds):
        _fold_run(tmp_path / "runs" / "en" / "m" / "all" / f"seed_{seed}",
                  {"fold_1": (y, probs), "fold_4": (y, [[.5, .5]] * 4)})  # fold_4: always "a", 50%
    md = tables.render_markdown(tables.collect(spec, tmp_path / "runs"))
    rows = {c[0]: c[1:] for c in ([x.strip() for x in line.strip().strip("|").split(" | ")]
                                  for line in md.splitlines() if line.startswith("| model"))}
    assert rows["model"] == ["**50.0 ± 0.0**", "**62.5 ± 0.0**"]  # seeds: (75 + 50) / 2 each
    assert rows["model: ensemble of its seeds"] == ["-", "75.0"]  # ensemble: (100 + 50) / 2; no validation kept
    assert "An ensemble row scores the mean probabilities" in md

    # Runs that kept their validation probabilities: the ensemble gets a validation accuracy too, so
    # it can be chosen on validation like any row (here the same clips and probabilities as the test).
    for seed, probs in enumerate(seeds):
        folds = {"fold_1": (y, probs), "fold_4": (y, [[.5, .5]] * 4)}
        _fold_run(tmp_path / "runs" / "en" / "m" / "all" / f"seed_{seed}", folds, val=folds)
    md = tables.render_markdown(tables.collect(spec, tmp_path / "runs"))
    assert "| model: ensemble of its seeds | 75.0 | 75.0 |" in md


def test_an_ensemble_refuses_runs_that_tested_other_clips(tmp_path):
    from ser_jax import ensemble

    _fold_run(tmp_path / "a", {"fold_1": ([0, 1], [[.9, .1], [.1, .9]])})
    _fold_run(tmp_path / "b", {"fold_2": ([0, 1], [[.9, .1], [.1, .9]])})
    assert ensemble.score([tmp_path / "a"])["accuracy"] == 1.0
    with pytest.raises(ValueError, match="must share their splits"):
        ensemble.score([tmp_path / "a", tmp_path / "b"])


def test_a_row_names_the_corpora_of_data_dir_it_trains_on(tiny_corpus, tmp_path):
    emodb = tmp_path / "emodb"
    from ser_jax.testing import corpora as synthetic

    synthetic.write("emodb", emodb, speakers=1, per_emotion=1)
    spec = experiments.load_spec(write_spec(tmp_path / "t.json", rows=[
        {"name": "e", "corpora": ["emodb"]}, {"name": "both"}, {"name": "x", "corpora": ["savee"]}]))
    runs = {r.row.name: r for r in experiments.expand_runs(spec, tmp_path / "runs", seeds=[0])}
    data = f"{tiny_corpus},{emodb}"
    assert f"--data_dir={emodb}" in experiments.train_flags(spec, runs["e"], data)
    assert f"--data_dir={data}" in experiments.train_flags(spec, runs["both"], data)
    with pytest.raises(experiments.SpecError,
                       match=r"row x uses corpora \['savee'\] but --data_dir holds ravdess, emodb"):
        experiments.train_flags(spec, runs["x"], data)


def test_latex_is_a_booktabs_table_with_escaped_labels(tmp_path):
    tex = tables.render_latex(_fake_table(tmp_path))
    assert tex.startswith(r"\begin{table}[t]") and tex.rstrip().endswith(r"\end{table}")
    assert r"\multicolumn{2}{c}{speech} & \multicolumn{2}{c}{song} \\" in tex
    assert r"\cmidrule(lr){2-3} \cmidrule(lr){4-5}" in tex
    assert r"original\_protocol$^\dagger$ & $92.0 \pm 2.0$" in tex
    assert r"holdout & $\mathbf{72.0 \pm 2.0}$" in tex
    assert r"$70.0 \pm 14.1$\,{\scriptsize (n=2)}" in tex
    assert r"not run & - & - & - & - \\" in tex
    assert r"\caption{Tiny table. A test of the table machinery." in tex and r"seed\_leaky" in tex
    assert "±" not in tex and "†" not in tex  # all turned into LaTeX


def test_per_emotion_report_pools_seeds_from_their_confusion_matrices(tmp_path):
    spec = experiments.load_spec(write_spec(tmp_path / "pe.json", kind="per_emotion", seeds=[0, 1, 2]))
    names = ["angry", "calm", "sad"]
    cms = [np.array([[8, 2, 0], [1, 9, 0], [0, 0, 0]]), np.array([[6, 4, 0], [0, 10, 0], [0, 0, 0]])]
    for seed, cm in enumerate(cms):
        report.write_json(tmp_path / "runs" / "pe" / "a" / "all" / f"seed_{seed}" / "metrics.json",
                          {**_metrics(np.trace(cm) / cm.sum(), 0.5), "label_names": names,
                           "confusion_matrix": cm.tolist()})
    results = tables.collect(spec, tmp_path / "runs")
    png = tables.write_confusion_png(results, tmp_path / "cm.png")
    assert png.is_file() and png.stat().st_size > 1000
    md = tables.render_per_emotion(results, "markdown", png)
    assert "| Emotion | Precision | Recall | F1-Score | Support |" in md
    # angry: precision 8/9 and 6/6, recall 0.8 and 0.6; sad has no test examples: no row.
    p = [8 / 9, 1.0]
    assert f"| angry | {np.mean(p):.2f} ± {np.std(p, ddof=1):.2f} | 0.70 ± 0.14 |" in md
    assert "| sad |" not in md
    acc = [17 / 20, 16 / 20]
    assert f"| accuracy |  |  | {np.mean(acc):.2f} ± {np.std(acc, ddof=1):.2f} | 20 |" in md
    assert "2 of 3 training seeds" in md and str(png) in md
    assert r"\toprule" in tables.render_per_emotion(results, "latex", png)


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
    monkeypatch.setattr(experiments, "execute", lambda *a, **k: pytest.fail("a finished run was started again"))
    spec = experiments.load_spec(spec_path)
    summary = experiments.run_table(spec, data_dir=str(tiny_corpus), runs_dir=runs, only_rows=["attention", "meanpool"],
                                    progress=False, echo=lambda s: None)
    assert summary.count("skipped") == 4 and not summary.failed
    assert experiments.table_progress(spec, runs) == {"done": 4, "failed": 2, "unfinished": 0, "missing": 0}

    # The renderer reads those runs: mean +- std per cell, the better row bold, the failed row "-".
    results = tables.collect(spec, runs)
    md, tex = tables.render_markdown(results), tables.render_latex(results)
    accs = {r: results.cells[r, "both"].values["accuracy"] for r in ("attention", "meanpool")}
    best = max(accs, key=lambda r: round(100 * np.mean(accs[r]), 1))
    label = {"attention": "attention", "meanpool": "mean pooling"}[best]
    cell = f"{100 * np.mean(accs[best]):.1f} ± {100 * np.std(accs[best], ddof=1):.1f}"
    assert f"| {label} | **{cell}** |" in md
    assert "| invalid flag | - | - |" in md and "Protocol: holdout" in md
    assert f"{label} & $\\mathbf{{{cell.replace('±', chr(92) + 'pm')}}}$" in tex
