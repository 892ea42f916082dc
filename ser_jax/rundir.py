"""The layout of a run directory, in one place: every module that reads or writes a run uses these.

    <run>/config.json       settings and provenance          <run>/metrics.json   written last: finished
    <run>/metrics.jsonl     one line per epoch               <run>/report.txt     classification report
    <run>/checkpoints/      orbax best/ and last/            <run>/.lock          held while training
    <run>/training_curves.png  loss/accuracy per epoch
    <run>/fold_<k>/         one of these per fold of a k-fold run (the aggregate at the top)
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG = "config.json"
METRICS = "metrics.json"  # written last: its presence marks a finished run (or fold)
HISTORY = "metrics.jsonl"
REPORT = "report.txt"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"
CONFUSION = "confusion_matrix.png"  # counts; also the TensorBoard image
CONFUSION_NORMALIZED = "confusion_matrix_normalized.png"  # rows sum to 1
CURVES = "training_curves.png"  # loss and accuracy per epoch (every fold's, at the top of a k-fold run)
FOLD_PREFIX = "fold_"


def fold_dir(run_dir: str | os.PathLike, fold: int) -> Path:
    return Path(run_dir) / f"{FOLD_PREFIX}{fold}"


def fold_dirs(run_dir: str | os.PathLike) -> list[Path]:
    """The fold directories of a k-fold run, in fold order ([] for a single-split run)."""
    found = [p for p in Path(run_dir).glob(f"{FOLD_PREFIX}*") if p.is_dir() and p.name[len(FOLD_PREFIX):].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(FOLD_PREFIX):]))


def finished(run_dir: str | os.PathLike) -> bool:
    return (Path(run_dir) / METRICS).is_file()
