"""The runner: trains every unfinished run of a table, one ``python -m ser_jax.train`` subprocess each.

A subprocess per run keeps one run's crash, memory or JAX state from touching the next, and lets
an interrupted table continue where it stopped: finished runs are skipped, unfinished ones resume
from their checkpoints, and a failed one gets ``FAILED`` and ``failed.json`` (exit status, the last
lines of stderr) in its directory instead of stopping the table; it is retried next time.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

from ser_jax import rundir
from ser_jax.experiments.runs import (
    DEFAULT_RUNS_DIR,
    FAILED_JSON,
    FAILED_MARKER,
    LOG_NAME,
    Run,
    expand_runs,
    run_status,
    scalar,
    train_command,
)
from ser_jax.experiments.spec import METRIC_TITLES, TableSpec, check_flagfiles


@dataclasses.dataclass(frozen=True)
class Outcome:
    run: Run
    status: str  # "done" | "failed" | "skipped"
    seconds: float = 0.0
    metrics: dict | None = None
    returncode: int | None = None
    error: str = ""  # last meaningful stderr line of a failed run


_TQDM_LINE = re.compile(r"\d+%\|")


def _tail(text: str, n: int = 15) -> list[str]:
    """The last n meaningful lines of a child's stderr (progress-bar redraws dropped)."""
    lines = [s.strip() for s in re.split(r"[\r\n]+", text or "") if s.strip()]
    return [s for s in lines if not _TQDM_LINE.search(s)][-n:]


def _child_env(runs_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Runs of one table compile the same steps: a persistent XLA cache saves seconds per run.
    env.setdefault("JAX_COMPILATION_CACHE_DIR", str((runs_dir / ".jax_cache").absolute()))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def execute(cmd: Sequence[str], run: Run, env: dict[str, str] | None = None) -> Outcome:
    """Runs one training subprocess; records a failure in its run directory instead of raising."""
    run_dir = run.run_dir
    for name in (FAILED_MARKER, FAILED_JSON):
        (run_dir / name).unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = proc.communicate()
    except KeyboardInterrupt:  # the child got the same SIGINT: let it save and stop, then stop too
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    seconds = time.perf_counter() - t0
    run_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    with open(run_dir / LOG_NAME, "a") as log:
        log.write(f"=== {stamp} exit {proc.returncode} after {seconds:.0f} s: {shlex.join(cmd)}\n")
        log.write(out or "")
        log.write("--- stderr ---\n" + (err or "") + "\n")
    metrics_path = run_dir / rundir.METRICS
    if proc.returncode == 0 and metrics_path.is_file():
        return Outcome(run, "done", seconds, json.loads(metrics_path.read_text()), 0)
    tail = _tail(err)
    if proc.returncode == 0:
        tail.append("exit status 0 but no metrics.json was written")
    error = next((s for s in reversed(tail) if s.startswith(("error", "FATAL")) or "Error" in s),
                 tail[-1] if tail else f"exit status {proc.returncode}")
    rundir.write_json(run_dir / FAILED_JSON, {
        "run": run.key, "returncode": proc.returncode, "seconds": seconds, "finished": stamp,
        "command": list(cmd), "error": error, "stderr_tail": tail, "log": str(run_dir / LOG_NAME)})
    (run_dir / FAILED_MARKER).write_text(f"exit status {proc.returncode}: {error}\n")
    return Outcome(run, "failed", seconds, None, proc.returncode, error)


def format_duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def describe_outcome(o: Outcome, metrics: Sequence[str]) -> str:
    if o.status == "done":
        m = o.metrics or {}
        folds = f" (mean of {m['n_folds']} folds)" if "n_folds" in m else ""
        scores = ", ".join(f"{METRIC_TITLES[k]} {100 * scalar(m[k]):.1f}%"
                           for k in metrics if k in m)
        leaky = " [LEAKY]" if m.get("leaky") else ""
        return f"{o.run.key}: {scores}{folds}{leaky} in {format_duration(o.seconds)}"
    return (f"{o.run.key}: FAILED (exit {o.returncode}) after {format_duration(o.seconds)}: {o.error}; "
            f"see {o.run.run_dir / FAILED_JSON}")


@dataclasses.dataclass(frozen=True)
class TableSummary:
    spec: TableSpec
    outcomes: tuple[Outcome, ...]
    seconds: float

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def __str__(self) -> str:
        lines = [f"{self.spec.name}: {len(self.outcomes)} runs: {self.count('done')} trained now, "
                 f"{self.count('skipped')} already finished, {self.count('failed')} failed; "
                 f"total {format_duration(self.seconds)}"]
        lines += [f"  FAILED {o.run.key} (exit {o.returncode}): {o.error}" for o in self.failed]
        if self.failed:
            lines.append("  run the same command again to retry the failed runs (finished ones are skipped)")
        return "\n".join(lines)


def run_table(
    spec: TableSpec, *, data_dir: str, runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR,
    only_rows: Sequence[str] = (), seeds: Sequence[int] | None = None, extra_flags: Sequence[str] = (),
    dry_run: bool = False, progress: bool = True, echo: Callable[[str], None] = print,
) -> TableSummary:
    """Trains every unfinished run of the table, one subprocess each, and says how each went."""
    from tqdm.auto import tqdm

    check_flagfiles(spec)
    runs_dir = Path(runs_dir)
    runs = expand_runs(spec, runs_dir, only_rows, seeds)
    todo = [r for r in runs if run_status(r.run_dir) != "done"]
    skipped = [Outcome(r, "skipped") for r in runs if run_status(r.run_dir) == "done"]
    t0 = time.perf_counter()
    if dry_run:
        echo(f"# {spec.name}: {len(runs)} runs, {len(skipped)} finished (skipped), {len(todo)} to run")
        for r in todo:
            status = run_status(r.run_dir)
            note = {"missing": "new", "unfinished": "resume", "failed": "retry after failure"}[status]
            echo(f"# {r.key} ({note})\n{shlex.join(train_command(spec, r, data_dir, extra_flags))}")
        return TableSummary(spec, tuple(skipped), 0.0)

    env = _child_env(runs_dir)
    outcomes = list(skipped)
    if skipped:
        echo(f"{spec.name}: {len(skipped)} of {len(runs)} runs already finished, skipped")
    write = tqdm.write if progress else echo
    bar = tqdm(total=len(todo), unit="run", desc=spec.name, disable=not progress, dynamic_ncols=True)
    try:
        for k, r in enumerate(todo, 1):
            bar.set_postfix_str(r.key)
            o = execute(train_command(spec, r, data_dir, extra_flags), r, env)
            outcomes.append(o)
            write(f"[{k}/{len(todo)}] {describe_outcome(o, spec.metrics)}")
            bar.update()
    finally:
        bar.close()
    return TableSummary(spec, tuple(outcomes), time.perf_counter() - t0)
