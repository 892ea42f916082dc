"""Rendering a table's results (ser_jax.tables.render): Markdown and LaTeX of fabricated finished runs (the
renderer only reads metrics.json files).
"""

from __future__ import annotations

import numpy as np
from experiments.helpers import write_spec

from ser_jax import rundir
from ser_jax.experiments.spec import load_spec
from ser_jax.tables.render import render_latex, render_markdown
from ser_jax.tables.results import collect

from .helpers import _metrics


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
