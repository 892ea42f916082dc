"""The runs of a table: where each (row, column, seed) lives, what state it is in, how it (re)starts.

Pure functions of a spec and the file system, apart from the runner that executes them, so that
``ser_jax.tables`` can find finished runs without importing subprocess code. A run directory
``<runs_dir>/<table>/<row>/<column>/seed_<seed>/`` holding ``metrics.json`` is finished; one with a
``FAILED`` mark failed last time; anything else there is unfinished and resumes from its
checkpoints.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from ser_jax import rundir
from ser_jax.experiments.spec import Column, Row, SpecError, TableSpec

DEFAULT_RUNS_DIR = "runs/tables"
FAILED_MARKER = "FAILED"
FAILED_JSON = "failed.json"
LOG_NAME = "train.log"


@dataclasses.dataclass(frozen=True)
class Run:
    """One (row, column, seed) of a table: one training run in one directory."""

    table: str
    row: Row
    column: Column
    seed: int
    run_dir: Path

    @property
    def key(self) -> str:
        return f"{self.row.name}/{self.column.name}/seed_{self.seed}"


def expand_runs(spec: TableSpec, runs_dir: str | os.PathLike, only_rows: Sequence[str] = (),
                seeds: Sequence[int] | None = None) -> list[Run]:
    """Every run of the table (row-major, then column, then seed), optionally restricted."""
    names = [r.name for r in spec.rows]
    unknown = [r for r in only_rows if r not in names]
    if unknown:
        raise SpecError(f"{spec.path}: no row(s) {unknown}; rows are {names}")
    if seeds is not None:
        bad = [s for s in seeds if s not in spec.seeds]
        if bad:
            raise SpecError(f"{spec.path}: seed(s) {bad} are not in the spec's seeds {list(spec.seeds)}")
    root = Path(runs_dir) / spec.name
    return [Run(spec.name, row, col, s, root / row.name / col.name / f"seed_{s}")
            for row in spec.rows if (not only_rows or row.name in only_rows) and row.trains
            for col in spec.columns
            for s in spec.seeds if seeds is None or s in seeds]


def run_status(run_dir: str | os.PathLike) -> str:
    """'done' (metrics.json), 'failed' (FAILED marker), 'unfinished' (anything else there) or 'missing'."""
    d = Path(run_dir)
    if rundir.finished(d):
        return "done"
    if (d / FAILED_MARKER).exists():
        return "failed"
    if d.is_dir() and any(d.iterdir()):
        return "unfinished"
    return "missing"


def _has_checkpoints(run_dir: Path) -> bool:
    return (run_dir / rundir.CHECKPOINTS).is_dir() or any((d / rundir.CHECKPOINTS).is_dir()
                                                         for d in rundir.fold_dirs(run_dir))


def train_flags(spec: TableSpec, run: Run, data_dir: str, extra_flags: Sequence[str] = ()) -> list[str]:
    """The flags of one run, in override order (later wins)."""
    return [*spec.base_flags, *run.row.flags, *run.column.flags, *spec.fixed_flags, *extra_flags,
            f"--data_dir={row_data_dir(run.row, data_dir)}", f"--run_dir={run.run_dir}", f"--seed={run.seed}"]


def row_data_dir(row: Row, data_dir: str) -> str:
    """The entries of a --data_dir=A,B list that a row names in its ``corpora`` (all when it names none)."""
    if not row.corpora:
        return data_dir
    from ser_jax import corpora

    entries = [d for d in data_dir.split(",") if d]
    names = {corpora.name_of(d): d for d in entries}
    missing = [c for c in row.corpora if c not in names]
    if missing:
        raise SpecError(f"row {row.name} uses corpora {missing} but --data_dir holds {', '.join(names) or 'none'} "
                        f"({data_dir}); add them to --data_dir")
    return ",".join(names[c] for c in row.corpora)


def train_command(spec: TableSpec, run: Run, data_dir: str, extra_flags: Sequence[str] = ()) -> list[str]:
    """The subprocess command for a run in its current state: --resume if it has checkpoints,
    --overwrite if its directory holds only leftovers (a failure before the first epoch)."""
    cmd = [sys.executable, "-m", "ser_jax.train", *train_flags(spec, run, data_dir, extra_flags)]
    status = run_status(run.run_dir)
    if status in ("unfinished", "failed"):
        cmd.append("--resume" if _has_checkpoints(run.run_dir) else "--overwrite")
    return cmd


def table_progress(spec: TableSpec, runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR) -> dict[str, int]:
    """How many runs of the table are in each state."""
    counts = {"done": 0, "failed": 0, "unfinished": 0, "missing": 0}
    for r in expand_runs(spec, runs_dir):
        counts[run_status(r.run_dir)] += 1
    return counts


def scalar(value: Any) -> float:
    """A metric of one run: the number itself, or a k-fold run's mean over folds."""
    return float(value["mean"]) if isinstance(value, dict) else float(value)
