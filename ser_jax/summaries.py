"""TensorBoard summaries of a finished run: HParams, test metrics and per-class F1 as scalars.

Each run directory (and the top of a k-fold run) becomes one HParams session: its flattened config
as hyperparameters, its validation and test metrics as the session's metrics, so the HParams
dashboard compares every run under a --logdir side by side.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

# Session metrics: (tag, key in metrics.json). A k-fold run's values are its means over folds.
METRICS = (("hparams/val_accuracy", "best_val_accuracy"), ("hparams/test_accuracy", "accuracy"),
           ("hparams/test_macro_f1", "macro_f1"), ("hparams/test_uar", "uar"))


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, float | str | bool]:
    """{"optim": {"learning_rate": 1e-3}} -> {"optim.learning_rate": 1e-3}; lists and None as text."""
    out: dict[str, float | str | bool] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
        else:
            out[name] = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return out


def _value(v: Any) -> float | None:
    if isinstance(v, Mapping):
        v = v.get("mean")
    return float(v) if isinstance(v, (int, float)) else None


def write_results(run_dir: str | os.PathLike, config: Mapping[str, Any], metrics: Mapping[str, Any], step: int,
                  writer: Any | None = None) -> None:
    """HParams session + test scalars (and per-class F1) into the run's event files."""
    from tensorboardX import SummaryWriter
    from tensorboardX.summary import hparams

    own = writer is None
    writer = writer or SummaryWriter(logdir=str(run_dir))
    values = {tag: _value(metrics.get(key)) for tag, key in METRICS}
    values = {tag: v for tag, v in values.items() if v is not None}
    for summary in hparams(flatten(config), values):
        writer._get_file_writer().add_summary(summary)
    for tag, v in values.items():
        writer.add_scalar(tag, v, step)
    for key in ("accuracy", "macro_f1", "uar", "weighted_f1"):
        if (v := _value(metrics.get(key))) is not None:
            writer.add_scalar(f"test/{key}", v, step)
    for group in ("per_corpus", "per_channel"):  # e.g. test_per_channel/song/accuracy
        for name, per in (metrics.get(group) or {}).items():
            for key in ("accuracy", "uar"):
                if (v := _value(per.get(key))) is not None:
                    writer.add_scalar(f"test_{group}/{name}/{key}", v, step)
    per_class = metrics.get("per_class_f1") or {n: c["f1"] for n, c in (metrics.get("per_class") or {}).items()}
    for name, f1 in per_class.items():
        if (v := _value(f1)) is not None:
            writer.add_scalar(f"test_f1/{name}", v, step)
    writer.flush()
    if own:
        writer.close()
