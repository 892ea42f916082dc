"""The finished runs of a table spec, grouped into cells: what every rendering of the table reads.

A cell is one (row, column): the metrics of the seeds that finished (each seed one sample; a k-fold
run its mean over folds). Rows that ask for it get sub-rows: their seeds scored as one ensemble,
and each tested corpus alone. Unfinished runs are simply absent, so a table renders at any time.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from ser_jax import ensemble as ensemble_lib
from ser_jax import rundir
from ser_jax.experiments.runs import DEFAULT_RUNS_DIR, expand_runs, scalar
from ser_jax.experiments.spec import Row, TableSpec

SUB_ROW = "@"  # joins a row's name and a corpus name (or "ensemble"): the name of its sub-row


@dataclasses.dataclass(frozen=True)
class Cell:
    """The finished seeds of one (row, column)."""

    values: dict[str, list[float]]  # metric -> one value per finished seed (fractions)
    runs: list[dict]  # their metrics.json, in seed order
    requested: int  # seeds the spec asks for
    dirs: tuple = ()  # their run directories, in seed order

    @property
    def n(self) -> int:
        return len(self.runs)

    def mean_std(self, metric: str) -> tuple[float, float | None]:
        v = np.asarray(self.values[metric], np.float64)
        return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else None)


@dataclasses.dataclass(frozen=True)
class Results:
    spec: TableSpec
    cells: dict[tuple[str, str], Cell]  # (row name, column name)

    def leaky(self, row: Row) -> bool:
        names = row.members or (row.name,)
        return row.leaky or any(m.get("leaky") for n in names for c in self.spec.columns
                                for m in self.cells[n, c.name].runs)

    def protocols(self, row: Row) -> list[str]:
        names = row.members or (row.name.split(SUB_ROW)[0],)  # an ensemble row: its members'
        found = {m.get("protocol") for n in names for c in self.spec.columns for m in self.cells[n, c.name].runs}
        return sorted(p for p in found if p)


def collect(spec: TableSpec, runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR) -> Results:
    """Every finished run of the table, grouped by cell."""
    cells: dict[tuple[str, str], Cell] = {}
    for row in spec.rows:
        for col in spec.columns:
            cells[row.name, col.name] = Cell({m: [] for m in spec.metrics}, [], len(spec.seeds))
    for run in expand_runs(spec, runs_dir):
        path = run.run_dir / rundir.METRICS
        if not path.is_file():
            continue
        try:
            m = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: unreadable metrics ({e.msg}); delete the run directory to redo it") from None
        cell = cells[run.row.name, run.column.name]
        missing = [k for k in spec.metrics if k not in m]
        if missing:
            raise ValueError(f"{path}: no {missing} in metrics.json; was it written by python -m ser_jax.train?")
        for k in spec.metrics:
            cell.values[k].append(scalar(m[k]))
        cell.runs.append(m)
        cells[run.row.name, run.column.name] = dataclasses.replace(cell, dirs=(*cell.dirs, run.run_dir))
    _score_member_rows(spec, runs_dir, cells)
    return Results(_with_sub_rows(spec, cells), cells)


def _score_member_rows(spec: TableSpec, runs_dir: str | os.PathLike, cells: dict[tuple[str, str], Cell]) -> None:
    """Fills each ensemble row (``members``): per seed where every member finished, the mean of the
    members' probabilities on their test clips (and validation clips: what chooses it), split by split."""
    for row in spec.rows:
        if row.trains:
            continue
        where = {(r.row.name, r.column.name, r.seed): r.run_dir
                 for r in expand_runs(spec, runs_dir, only_rows=row.members)}
        for col in spec.columns:
            values: dict[str, list[float]] = {m: [] for m in spec.metrics}
            runs, dirs = [], []
            for seed in spec.seeds:
                members = [where[m, col.name, seed] for m in row.members]
                if not all(rundir.finished(d) for d in members):
                    continue
                scored = ensemble_lib.score(members)
                if "best_val_accuracy" in spec.metrics:
                    scored["best_val_accuracy"] = _ensemble_val_accuracy(members)
                if any(scored.get(k) is None for k in spec.metrics):
                    continue
                for k in spec.metrics:
                    values[k].append(float(scored[k]))
                runs.append({k: scored[k] for k in spec.metrics})
                dirs.append(tuple(members))
            cells[row.name, col.name] = Cell(values, runs, len(spec.seeds), tuple(dirs))


def _ensemble_val_accuracy(dirs) -> float | None:
    """The ensemble's accuracy on the validation clips (what chooses it), or None where the runs
    predate kept validation probabilities, had none, or validated on different clips."""
    try:
        return ensemble_lib.score(dirs, part="val")["accuracy"]
    except ValueError:
        return None


def _with_sub_rows(spec: TableSpec, cells: dict[tuple[str, str], Cell]) -> TableSpec:
    """The spec with sub-rows after each ``ensemble`` row (its seeds scored as one model, a single
    value per metric, validation accuracy included) and each ``per_corpus`` / ``per_channel`` row (a
    sub-row per tested corpus or vocal channel, from the runs' metrics of that group alone)."""
    rows = []
    for row in spec.rows:
        rows.append(row)
        if row.ensemble:
            sub = dataclasses.replace(row, name=f"{row.name}{SUB_ROW}ensemble", ensemble=False, per_corpus=False,
                                      label=f"{row.label}: ensemble of its seeds")
            rows.append(sub)
            for col in spec.columns:
                cell = cells[row.name, col.name]
                scored = ensemble_lib.score(cell.dirs) if cell.n else {}
                if cell.n and "best_val_accuracy" in spec.metrics:
                    scored["best_val_accuracy"] = _ensemble_val_accuracy(cell.dirs)
                values = {k: [scored[k]] if scored.get(k) is not None else [] for k in spec.metrics}
                cells[sub.name, col.name] = Cell(values, cell.runs, len(spec.seeds), cell.dirs)
        for key, wanted, what in (("per_corpus", row.per_corpus, "test speakers"),
                                  ("per_channel", row.per_channel, "clips")):
            if not wanted:
                continue
            names = sorted({c for col in spec.columns for m in cells[row.name, col.name].runs for c in m.get(key, {})})
            for name in names:
                sub = dataclasses.replace(row, name=f"{row.name}{SUB_ROW}{name}", label=f"{row.label}: {name} {what}",
                                          per_corpus=False, per_channel=False)
                rows.append(sub)
                for col in spec.columns:
                    runs = [m for m in cells[row.name, col.name].runs if name in m.get(key, {})]
                    # Test metrics only: validation clips are not scored by group (that cell stays empty).
                    values = {k: [scalar(m[key][name][k]) for m in runs if k in m[key][name]] for k in spec.metrics}
                    cells[sub.name, col.name] = Cell(values, runs, len(spec.seeds))
    return dataclasses.replace(spec, rows=tuple(rows))
