"""Shared by the table tests (tests/tables/): a run's metrics.json as the renderer reads it."""

from __future__ import annotations


def _metrics(acc, f1, *, protocol="holdout", leaky=False, folds=False):
    if folds:
        return {"accuracy": {"mean": acc, "std": 0.1}, "macro_f1": {"mean": f1, "std": 0.1}, "uar": {"mean": acc},
                "n_folds": 5, "protocol": protocol, "leaky": leaky}
    return {"accuracy": acc, "macro_f1": f1, "uar": acc, "protocol": protocol, "leaky": leaky}
