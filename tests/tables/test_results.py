"""A table's results (ser_jax.tables.results): sub-rows per tested corpus and per channel, and ensemble rows
scored from the runs' probabilities.
"""

from __future__ import annotations

import numpy as np
import pytest
from experiments.helpers import write_spec

from ser_jax import rundir
from ser_jax.experiments.spec import load_spec
from ser_jax.tables.render import render_markdown
from ser_jax.tables.results import collect

from .helpers import _metrics


def test_a_per_corpus_row_gains_a_sub_row_for_each_tested_corpus(tmp_path):
    spec = load_spec(write_spec(tmp_path / "pc.json", seeds=[0, 1], metrics=["accuracy"], rows=[
        {"name": "both", "label": "both corpora", "per_corpus": True, "corpora": ["ravdess", "emodb"]}]))
    assert spec.rows[0].corpora == ("ravdess", "emodb")
    for seed, (r, e) in enumerate(((0.6, 0.5), (0.7, 0.7))):
        m = _metrics(0.65, 0.6, protocol="speaker_kfold", folds=True)
        m["per_corpus"] = {"ravdess": {"accuracy": {"mean": r, "std": 0.0}},
                           "emodb": {"accuracy": {"mean": e, "std": 0.0}}}
        rundir.write_json(tmp_path / "runs" / "pc" / "both" / "all" / f"seed_{seed}" / "metrics.json", m)
    md = render_markdown(collect(spec, tmp_path / "runs"))
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
        rundir.write_json(run_dir / name / "metrics.json", {
            "label_names": ["a", "b"], "accuracy": accs[-1], "test_predictions": _predictions(name, y_true, probs),
            **({"val_predictions": _predictions(f"val_{name}", *val[name])} if val else {})})
    rundir.write_json(run_dir / "metrics.json", {
        "accuracy": {"mean": float(np.mean(accs))}, "macro_f1": {"mean": 0.5}, "uar": {"mean": 0.5},
        "best_val_accuracy": {"mean": 0.5}, "protocol": "emobox", "leaky": False})


def test_an_ensemble_row_scores_the_mean_probabilities_of_its_seeds_fold_by_fold(tmp_path):
    spec = load_spec(write_spec(tmp_path / "en.json", seeds=[0, 1, 2], metrics=["best_val_accuracy",
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
    md = render_markdown(collect(spec, tmp_path / "runs"))
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
    md = render_markdown(collect(spec, tmp_path / "runs"))
    assert "| model: ensemble of its seeds | 75.0 | 75.0 |" in md


def test_an_ensemble_refuses_runs_that_tested_other_clips(tmp_path):
    from ser_jax import ensemble

    _fold_run(tmp_path / "a", {"fold_1": ([0, 1], [[.9, .1], [.1, .9]])})
    _fold_run(tmp_path / "b", {"fold_2": ([0, 1], [[.9, .1], [.1, .9]])})
    assert ensemble.score([tmp_path / "a"])["accuracy"] == 1.0
    with pytest.raises(ValueError, match="must share their splits"):
        ensemble.score([tmp_path / "a", tmp_path / "b"])


def test_an_ensemble_of_rows_scores_each_seed_as_the_mean_of_its_members_runs(tmp_path):
    """Members may be other recipes (a Whisper head, a from-scratch crnn): only their probabilities meet."""
    spec = load_spec(write_spec(tmp_path / "mix.json", seeds=[0, 1], metrics=["best_val_accuracy", "accuracy"], rows=[
        {"name": "whisper", "label": "whisper"}, {"name": "crnn", "label": "crnn"},
        {"name": "both", "label": "whisper + crnn", "members": ["whisper", "crnn"]}]))
    assert [r.trains for r in spec.rows] == [True, True, False] and spec.num_runs == 4
    y = [0, 0, 1, 1]
    # Each is unsure and wrong on one clip where the other is sure and right: their mean is right on all.
    probs = {"whisper": [[.9, .1], [.4, .6], [.1, .9], [.2, .8]], "crnn": [[.6, .4], [.8, .2], [.4, .6], [.6, .4]]}
    for seed in (0, 1):
        for row, p in probs.items():
            _fold_run(tmp_path / "runs" / "mix" / row / "all" / f"seed_{seed}", {"fold_0": (y, p)},
                      val={"fold_0": (y, p)})
    rm = tmp_path / "runs" / "mix" / "crnn" / "all" / "seed_1" / "metrics.json"
    rm.unlink()  # an unfinished member run: that seed is not scored
    results = collect(spec, tmp_path / "runs")
    cell = results.cells["both", "all"]
    assert cell.n == 1 and cell.values == {"best_val_accuracy": [1.0], "accuracy": [1.0]}
    md = render_markdown(results)
    assert "| whisper + crnn | **100.0** (n=1) | **100.0** (n=1) |" in md
    assert "trains nothing" in md and "whisper + crnn: whisper + crnn" in md
    with pytest.raises(ValueError, match=r"rows\[1\].members: expected a list of 2 or more names of earlier rows"):
        load_spec(write_spec(tmp_path / "bad.json", rows=[{"name": "a"}, {"name": "b", "members": ["a", "c"]}]))


def test_a_per_channel_row_gains_a_sub_row_for_speech_and_for_song(tmp_path):
    spec = load_spec(write_spec(tmp_path / "ch.json", seeds=[0, 1], metrics=["best_val_accuracy", "accuracy"],
                                rows=[{"name": "both", "label": "speech + song", "per_channel": True}]))
    for seed, (sp, so) in enumerate(((0.8, 0.6), (0.9, 0.7))):
        m = _metrics(0.75, 0.6, protocol="speaker_kfold", folds=True)
        m["best_val_accuracy"] = {"mean": 0.8}
        m["per_channel"] = {"speech": {"accuracy": {"mean": sp, "std": 0.0}},
                            "song": {"accuracy": {"mean": so, "std": 0.0}}}
        rundir.write_json(tmp_path / "runs" / "ch" / "both" / "all" / f"seed_{seed}" / "metrics.json", m)
    md = render_markdown(collect(spec, tmp_path / "runs"))
    rows = {c[0]: c[1:] for c in ([x.strip() for x in line.strip().strip("|").split(" | ")]
                                  for line in md.splitlines() if line.startswith("| speech"))}
    assert rows["speech + song: song clips"] == ["-", f"65.0 ± {100 * np.std([.6, .7], ddof=1):.1f}"]
    assert rows["speech + song: speech clips"][1].startswith("85.0 ± 7.1")  # validation: not split by channel
