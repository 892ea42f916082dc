"""The renderer of a table's results (ser_jax.tables): Markdown, LaTeX, sub-rows and the per-emotion report."""

from __future__ import annotations

import numpy as np
import pytest
from test_experiments import write_spec

from ser_jax import rundir
from ser_jax.experiments.spec import load_spec
from ser_jax.tables.per_emotion import render_per_emotion, write_confusion_png
from ser_jax.tables.render import render_latex, render_markdown
from ser_jax.tables.results import collect

# ----------------------------------------------------------------------------------------------
# Rendering fabricated results (the renderer only reads metrics.json files)


def _metrics(acc, f1, *, protocol="holdout", leaky=False, folds=False):
    if folds:
        return {"accuracy": {"mean": acc, "std": 0.1}, "macro_f1": {"mean": f1, "std": 0.1}, "uar": {"mean": acc},
                "n_folds": 5, "protocol": protocol, "leaky": leaky}
    return {"accuracy": acc, "macro_f1": f1, "uar": acc, "protocol": protocol, "leaky": leaky}


def _fake_table(tmp_path):
    spec = load_spec(write_spec(
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
                rundir.write_json(tmp_path / "runs" / "fake" / row / col / f"seed_{seed}" / "metrics.json",
                                  _metrics(acc + shift, acc + shift - 0.05, **kw))
    return collect(spec, tmp_path / "runs")


def test_markdown_shows_mean_and_sample_std_marks_the_best_and_flags_leaky_rows(tmp_path):
    md = render_markdown(_fake_table(tmp_path))
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


def test_latex_is_a_booktabs_table_with_escaped_labels(tmp_path):
    tex = render_latex(_fake_table(tmp_path))
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
    spec = load_spec(write_spec(tmp_path / "pe.json", kind="per_emotion", seeds=[0, 1, 2]))
    names = ["angry", "calm", "sad"]
    cms = [np.array([[8, 2, 0], [1, 9, 0], [0, 0, 0]]), np.array([[6, 4, 0], [0, 10, 0], [0, 0, 0]])]
    for seed, cm in enumerate(cms):
        rundir.write_json(tmp_path / "runs" / "pe" / "a" / "all" / f"seed_{seed}" / "metrics.json",
                          {**_metrics(np.trace(cm) / cm.sum(), 0.5), "label_names": names,
                           "confusion_matrix": cm.tolist()})
    results = collect(spec, tmp_path / "runs")
    png = write_confusion_png(results, tmp_path / "cm.png")
    assert png.is_file() and png.stat().st_size > 1000
    md = render_per_emotion(results, "markdown", png)
    assert "| Emotion | Precision | Recall | F1-Score | Support |" in md
    # angry: precision 8/9 and 6/6, recall 0.8 and 0.6; sad has no test examples: no row.
    p = [8 / 9, 1.0]
    assert f"| angry | {np.mean(p):.2f} ± {np.std(p, ddof=1):.2f} | 0.70 ± 0.14 |" in md
    assert "| sad |" not in md
    acc = [17 / 20, 16 / 20]
    assert f"| accuracy |  |  | {np.mean(acc):.2f} ± {np.std(acc, ddof=1):.2f} | 20 |" in md
    assert "2 of 3 training seeds" in md and str(png) in md
    assert r"\toprule" in render_per_emotion(results, "latex", png)
