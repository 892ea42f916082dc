"""Scoring finished runs as an ensemble: the mean of their probabilities, split by split.

The runs of one configuration trained with different seeds test (and validate on) the same clips
(the split does not depend on the training seed), and every run keeps its test and validation
probabilities in ``metrics.json``. Their mean is what ``python -m ser_jax.predict --ensemble`` would
predict for those clips from the same checkpoints, so an ensemble's figures cost no extra training
or inference, and its validation figure lets it be chosen on validation like any configuration. A
k-fold run contributes one split per fold; folds are scored alone and averaged, as for single runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ser_jax import report as report_lib
from ser_jax import rundir

PARTS = ("test", "val")


def split_predictions(run_dir: str | os.PathLike, part: str = "test") -> dict[str, dict]:
    """Test (or validation) predictions of a finished run, per split: {"": ...} or {"fold_1": ..., ...}."""
    if part not in PARTS:
        raise ValueError(f"part={part!r}: expected one of {PARTS}")
    run_dir = Path(run_dir)
    folds = [d / rundir.METRICS for d in rundir.fold_dirs(run_dir) if rundir.finished(d)]
    files = {p.parent.name: p for p in folds} or {"": run_dir / rundir.METRICS}
    out = {}
    for split, path in files.items():
        m = json.loads(path.read_text())
        preds = m.get(f"{part}_predictions", {})
        if "probabilities" not in preds:
            raise ValueError(f"{path}: no {part} probabilities (written before they were kept); rerun it to "
                             "score it in an ensemble")
        out[split] = {"paths": preds["paths"], "y_true": np.asarray(preds["y_true"]),
                      "probabilities": np.asarray(preds["probabilities"], np.float64),
                      "label_names": list(m["label_names"])}
    return out


def score(run_dirs: Sequence[str | os.PathLike], part: str = "test") -> dict[str, float]:
    """Accuracy, macro/weighted F1 and UAR of the runs' mean probabilities on their test (or
    validation) clips, the mean over splits."""
    if not run_dirs:
        raise ValueError("an ensemble needs at least one finished run")
    members = [split_predictions(d, part) for d in run_dirs]
    splits = sorted(members[0])
    per_split = []
    for split in splits:
        parts = []
        for d, m in zip(run_dirs, members):
            if split not in m:
                raise ValueError(f"{d}: has no split {split or 'run'} that {run_dirs[0]} has; an ensemble's runs "
                                 "must share their splits")
            parts.append(m[split])
        first = parts[0]
        for d, p in zip(run_dirs, parts):
            if p["paths"] != first["paths"] or p["label_names"] != first["label_names"]:
                raise ValueError(f"{d}: has other {part} clips or labels than {run_dirs[0]} in "
                                 f"{split or 'its split'}; an ensemble's runs must share their {part} sets")
        if not first["paths"]:
            raise ValueError(f"{run_dirs[0]}: no {part} clips in {split or 'its split'} to score")
        mean = np.mean([p["probabilities"] for p in parts], axis=0)
        metrics = report_lib.compute_metrics(first["y_true"], mean.argmax(-1), first["label_names"])
        per_split.append({k: metrics[k] for k in report_lib.SCALAR_METRICS})
    return {k: float(np.mean([s[k] for s in per_split])) for k in report_lib.SCALAR_METRICS}
