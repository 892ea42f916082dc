"""How the predictions of a run of ``python -m ser_jax.predict`` are printed: a table, JSON or CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from typing import Sequence

from ser_jax.predict.predictor import Prediction

FORMATS = ("table", "json", "csv")


def format_table(predictions: Sequence[Prediction], label_names: Sequence[str]) -> str:
    """Aligned columns: file, predicted emotion, one probability column per class, seconds."""
    header = ["file", "emotion", *label_names, "seconds"]
    rows = [[p.path, p.emotion, *(f"{p.probabilities[n]:.3f}" for n in label_names), f"{p.seconds:.2f}"]
            for p in predictions]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(r[2:], widths[2:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_json(predictions: Sequence[Prediction]) -> str:
    return json.dumps([dataclasses.asdict(p) for p in predictions], indent=2)


def format_csv(predictions: Sequence[Prediction], label_names: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "emotion", "seconds", *label_names])
    for p in predictions:
        w.writerow([p.path, p.emotion, f"{p.seconds:.3f}", *(f"{p.probabilities[n]:.6f}" for n in label_names)])
    return buf.getvalue().rstrip("\n")


def render(predictions: Sequence[Prediction], label_names: Sequence[str], fmt: str) -> str:
    if fmt == "json":
        return format_json(predictions)
    if fmt == "csv":
        return format_csv(predictions, label_names)
    if fmt == "table":
        return format_table(predictions, label_names)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
