"""The per-emotion report (ser_jax.tables.per_emotion): seeds pooled from their confusion matrices."""

from __future__ import annotations

import numpy as np
from experiments.helpers import write_spec

from ser_jax import rundir
from ser_jax.experiments.spec import load_spec
from ser_jax.tables.per_emotion import render_per_emotion, write_confusion_png
from ser_jax.tables.results import collect

from .helpers import _metrics


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
