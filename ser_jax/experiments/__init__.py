"""Table experiments: specs that name every run of a results table, and a runner that trains them.

A spec (``experiments/tables/<table>.json``, shipped in the wheel too and found by name from any
folder, or any JSON file of that form) lists rows (configurations), columns (e.g. vocal
channels) and seeds; each (row, column, seed) is one training run in its own directory,
``<runs_dir>/<table>/<row>/<column>/seed_<seed>/``, made by ``python -m ser_jax.train`` in a
subprocess with the flags ``base_flags + row flags + column flags + fixed_flags``, then
``--data_dir``, ``--run_dir`` and ``--seed`` (later flags win, as in absl flagfiles). A run
directory holding ``metrics.json`` is finished and never trained again; an unfinished one is
resumed (``--resume``) from its checkpoints; a failed one gets ``FAILED`` and ``failed.json`` (exit
status, the last lines of stderr) and is retried on the next invocation. ``ser_jax.tables``
renders the finished runs.

    python -m ser_jax.experiments run protocols --data_dir=PATH [--dry_run] [--only=ROW]
    python -m ser_jax.experiments list

Spec format (JSON; unknown keys are an error)::

    {
      "title": "Split protocols",                # table title
      "caption": "What the table shows ...",    # the renderer appends seeds, protocols and footnotes
      "kind": "metrics",                         # or "per_emotion" (one row, one column)
      "base_flags": ["--flagfile=experiments/holdout.flags"],   # first (optional)
      "rows": [{"name": "full", "label": "CNN-BiLSTM-attention", "flags": ["--attention"],
                "flagfile": "experiments/x.flags" (optional, goes first), "leaky": false (optional),
                "corpora": ["emodb"] (optional: which of the --data_dir corpora this row uses; default all),
                "per_corpus": true (optional: add a sub-row per tested corpus),
                "ensemble": true (optional: add a sub-row scoring the row's seeds as one ensemble)}],
      "columns": [{"name": "both", "label": "speech + song", "flags": ["--channels=both"]}],  # optional
      "fixed_flags": ["--epochs=50"],            # last: they hold in every run (optional)
      "metrics": ["accuracy", "macro_f1", "uar"],
      "seeds": [0, 1, 2]
    }

A ``--flagfile`` is a path or the name of a preset (experiments/; see ser_jax.flagfiles), so a
spec runs from any folder.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from ser_jax import flagfiles, rundir
from ser_jax import report as report_lib

KINDS = ("metrics", "per_emotion")
SPECS_DIR = flagfiles.TABLES_DIR  # experiments/tables of the checkout (shipped in the wheel too)
DEFAULT_SPEC_DIR = str(SPECS_DIR)
DEFAULT_RUNS_DIR = "runs/tables"
# The runner sets these itself; a spec that set them would silently lose them.
RESERVED_FLAGS = ("data_dir", "run_dir", "seed", "resume", "overwrite")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SPEC_KEYS = {"title", "caption", "kind", "base_flags", "rows", "columns", "fixed_flags", "metrics", "seeds"}
_ROW_KEYS = {"name", "label", "flags", "flagfile", "leaky", "corpora", "per_corpus", "ensemble"}
_COLUMN_KEYS = {"name", "label", "flags"}
METRIC_TITLES = {"accuracy": "accuracy", "macro_f1": "macro F1", "weighted_f1": "weighted F1", "uar": "UAR",
                 "best_val_accuracy": "validation accuracy"}
# What a table may show: the test metrics, and the validation accuracy of the chosen epoch (what
# choices between rows must be made on).
TABLE_METRICS = (*report_lib.SCALAR_METRICS, "best_val_accuracy")
FAILED_MARKER = "FAILED"
FAILED_JSON = "failed.json"
LOG_NAME = "train.log"


class SpecError(ValueError):
    """A table spec that cannot be used; the message names the file and the field."""


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    label: str
    flags: tuple[str, ...] = ()
    leaky: bool = False  # expected to early-stop on its test set (the renderer also reads the runs)
    corpora: tuple[str, ...] = ()  # corpus names (e.g. ravdess, emodb) of --data_dir this row trains on; () = all
    per_corpus: bool = False  # also show each tested corpus alone, as sub-rows (from metrics.json "per_corpus")
    ensemble: bool = False  # also show the seeds' mean test probabilities scored as one model, as a sub-row


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    label: str
    flags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class TableSpec:
    name: str  # the spec file's stem; names the runs folder
    path: str
    title: str
    caption: str
    kind: str
    rows: tuple[Row, ...]
    columns: tuple[Column, ...]
    metrics: tuple[str, ...]
    seeds: tuple[int, ...]
    base_flags: tuple[str, ...] = ()
    fixed_flags: tuple[str, ...] = ()

    @property
    def num_runs(self) -> int:
        return len(self.rows) * len(self.columns) * len(self.seeds)


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


# ----------------------------------------------------------------------------------------------
# Specs


def _flag_list(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{where}: expected a list of flag strings like \"--epochs=50\", got {value!r}")
    for v in value:
        if not v.startswith("--"):
            raise SpecError(f"{where}: {v!r} is not a flag; write it as \"--name=value\"")
        name = v[2:].split("=", 1)[0]
        if name in RESERVED_FLAGS or (name.startswith("no") and name[2:] in RESERVED_FLAGS):
            raise SpecError(f"{where}: {v!r}: --{name} is set by the runner (one run directory and seed per "
                            "row, column and seed; --data_dir at run time); remove it from the spec")
    return tuple(value)


def _check_keys(where: str, d: Any, allowed: set[str], required: Sequence[str]) -> None:
    if not isinstance(d, dict):
        raise SpecError(f"{where}: expected an object, got {type(d).__name__}")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    missing = [k for k in required if k not in d]
    if missing:
        raise SpecError(f"{where}: missing key(s) {missing}")


def _name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise SpecError(f"{where}: {value!r} is not a usable name (letters, digits, _ . -; it names a folder)")
    return value


def parse_spec(data: Any, path: str | os.PathLike) -> TableSpec:
    """A TableSpec from a spec's parsed JSON; SpecError naming the file and field if it is invalid."""
    p = str(path)
    _check_keys(p, data, _SPEC_KEYS, ("title", "rows", "metrics", "seeds"))
    kind = data.get("kind", "metrics")
    if kind not in KINDS:
        raise SpecError(f"{p}: kind: {kind!r} is not one of {', '.join(KINDS)}")
    for key in ("title", "caption"):
        if not isinstance(data.get(key, ""), str):
            raise SpecError(f"{p}: {key}: expected a string")

    def parse_rows(key: str, cls, keys: set[str]) -> tuple:
        items = data.get(key, [{"name": "all", "label": "all", "flags": []}] if key == "columns" else None)
        if not isinstance(items, list) or not items:
            raise SpecError(f"{p}: {key}: expected a non-empty list")
        out, seen = [], set()
        for i, item in enumerate(items):
            where = f"{p}: {key}[{i}]"
            _check_keys(where, item, keys, ("name",))
            name = _name(f"{where}.name", item["name"])
            if name in seen:
                raise SpecError(f"{where}.name: {name!r} appears twice in {key}")
            seen.add(name)
            label = item.get("label", name)
            if not isinstance(label, str):
                raise SpecError(f"{where}.label: expected a string")
            flags = _flag_list(f"{where}.flags", item.get("flags", []))
            kw = {}
            if "flagfile" in item:
                if not isinstance(item["flagfile"], str) or not item["flagfile"]:
                    raise SpecError(f"{where}.flagfile: expected a path")
                flags = (f"--flagfile={item['flagfile']}", *flags)
            if "leaky" in item:
                if not isinstance(item["leaky"], bool):
                    raise SpecError(f"{where}.leaky: expected true or false")
                kw["leaky"] = item["leaky"]
            if "corpora" in item:
                if (not isinstance(item["corpora"], list) or not item["corpora"]
                        or not all(isinstance(c, str) and c for c in item["corpora"])):
                    raise SpecError(f"{where}.corpora: expected a non-empty list of corpus names, e.g. [\"emodb\"]")
                kw["corpora"] = tuple(item["corpora"])
            for option in ("per_corpus", "ensemble"):
                if option in item:
                    if not isinstance(item[option], bool):
                        raise SpecError(f"{where}.{option}: expected true or false")
                    kw[option] = item[option]
            out.append(cls(name=name, label=label, flags=flags, **kw))
        return tuple(out)

    rows = parse_rows("rows", Row, _ROW_KEYS)
    columns = parse_rows("columns", Column, _COLUMN_KEYS)
    metrics = data["metrics"]
    if not isinstance(metrics, list) or not metrics or any(m not in TABLE_METRICS for m in metrics):
        raise SpecError(f"{p}: metrics: expected a non-empty list drawn from {list(TABLE_METRICS)}, "
                        f"got {metrics!r}")
    seeds = data["seeds"]
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise SpecError(f"{p}: seeds: expected a non-empty list of distinct integers >= 0, got {seeds!r}")
    if kind == "per_emotion" and (len(rows) != 1 or len(columns) != 1):
        raise SpecError(f"{p}: kind per_emotion reports one configuration: give exactly one row and one column "
                        f"(got {len(rows)} rows, {len(columns)} columns)")
    return TableSpec(
        name=Path(p).stem, path=p, title=data["title"], caption=data.get("caption", ""), kind=kind, rows=rows,
        columns=columns, metrics=tuple(metrics), seeds=tuple(seeds),
        base_flags=_flag_list(f"{p}: base_flags", data.get("base_flags", [])),
        fixed_flags=_flag_list(f"{p}: fixed_flags", data.get("fixed_flags", [])))


def spec_names() -> list[str]:
    return sorted(p.stem for p in SPECS_DIR.glob("*.json"))


def resolve_spec(path: str | os.PathLike) -> Path:
    """A spec file as given, else (a bare name: ``protocols`` or ``protocols.json``) the spec of that
    name in experiments/tables, from any folder."""
    p = Path(os.path.expanduser(str(path)))
    if p.is_file():
        return p
    bare = "/" not in str(path) and os.sep not in str(path)
    packaged = SPECS_DIR / f"{str(path).removesuffix('.json')}.json"
    if bare and packaged.is_file():
        return packaged
    raise SpecError(f"{path}: no such table spec (from {os.getcwd()})" + (" and no spec of that name" if bare else "")
                    + f"; by name, from any folder: {', '.join(spec_names())}")


def load_spec(path: str | os.PathLike) -> TableSpec:
    """Reads and checks a table spec (JSON): a file, or a packaged spec by name."""
    p = resolve_spec(path)
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise SpecError(f"{p}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    return parse_spec(data, p)


def find_specs(directory: str | os.PathLike = DEFAULT_SPEC_DIR) -> list[Path]:
    return sorted(Path(directory).glob("*.json"))


def check_flagfiles(spec: TableSpec) -> None:
    """Every --flagfile the spec names must be a file or a preset (ser_jax.flagfiles), before any run."""
    from ser_jax import flagfiles

    groups = [("base_flags", spec.base_flags), ("fixed_flags", spec.fixed_flags)]
    groups += [(f"rows[{r.name}]", r.flags) for r in spec.rows]
    groups += [(f"columns[{c.name}]", c.flags) for c in spec.columns]
    for where, flags in groups:
        for f in flags:
            if f.startswith("--flagfile="):
                try:
                    flagfiles.resolve(f.split("=", 1)[1])
                except flagfiles.FlagfileError as e:
                    raise SpecError(f"{spec.path}: {where}: {e}") from None


# ----------------------------------------------------------------------------------------------
# Runs and their state


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
            for row in spec.rows if not only_rows or row.name in only_rows
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
    report_lib.write_json(run_dir / FAILED_JSON, {
        "run": run.key, "returncode": proc.returncode, "seconds": seconds, "finished": stamp,
        "command": list(cmd), "error": error, "stderr_tail": tail, "log": str(run_dir / LOG_NAME)})
    (run_dir / FAILED_MARKER).write_text(f"exit status {proc.returncode}: {error}\n")
    return Outcome(run, "failed", seconds, None, proc.returncode, error)


# ----------------------------------------------------------------------------------------------
# A whole table


def scalar(value: Any) -> float:
    """A metric of one run: the number itself, or a k-fold run's mean over folds."""
    return float(value["mean"]) if isinstance(value, dict) else float(value)


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


def table_progress(spec: TableSpec, runs_dir: str | os.PathLike = DEFAULT_RUNS_DIR) -> dict[str, int]:
    """How many runs of the table are in each state."""
    counts = {"done": 0, "failed": 0, "unfinished": 0, "missing": 0}
    for r in expand_runs(spec, runs_dir):
        counts[run_status(r.run_dir)] += 1
    return counts


# ----------------------------------------------------------------------------------------------
# Command line


USAGE = """usage:
  python -m ser_jax.experiments run SPEC.json [SPEC.json ...] --data_dir=PATH [--dry_run] [--only=ROW,...]
  python -m ser_jax.experiments list [SPEC.json ...]"""


def main(argv: list[str]) -> int:
    from absl import flags

    from ser_jax import cli

    FLAGS = flags.FLAGS
    if len(argv) < 2 or argv[1] not in ("run", "list"):
        raise cli.UsageError("expected a command, run or list; " + USAGE.replace("\n", " "))
    command, paths = argv[1], argv[2:]
    if command == "list":
        specs = [load_spec(p) for p in (paths or find_specs(FLAGS.specs_dir))]
        if not specs:
            raise cli.UsageError(f"no table specs (*.json) in {FLAGS.specs_dir}")
        width = max(len(s.name) for s in specs)
        for s in specs:
            c = table_progress(s, FLAGS.runs_dir)
            extra = "".join(f", {c[k]} {k}" for k in ("failed", "unfinished") if c[k])
            print(f"{s.name:<{width}}  {c['done']:>3}/{s.num_runs} runs done{extra}  ({s.path}: {s.title})")
        return 0

    if not paths:
        raise cli.UsageError("run: give the table spec(s): a packaged name (e.g. protocols) or a JSON file")
    if FLAGS.dry_run and FLAGS.data_dir:
        data_dir = ",".join(os.path.expanduser(d) for d in FLAGS.data_dir.split(","))
    else:
        data_dir = ",".join(cli.require_data("data_dir"))
    seeds = [int(s) for s in FLAGS.seeds] if FLAGS.seeds else None
    specs = [load_spec(p) for p in paths]
    for s in specs:  # every problem before the first hour of training
        check_flagfiles(s)
        expand_runs(s, FLAGS.runs_dir, FLAGS.only, seeds)
    failed = 0
    t0 = time.perf_counter()
    for s in specs:
        summary = run_table(s, data_dir=data_dir, runs_dir=FLAGS.runs_dir,
                            only_rows=FLAGS.only, seeds=seeds, extra_flags=FLAGS.train_flag or (),
                            dry_run=FLAGS.dry_run, progress=not FLAGS.dry_run)
        if not FLAGS.dry_run:
            print(summary, flush=True)
            print(f"render: {sys.executable} -m ser_jax.tables {s.path}", flush=True)
        failed += len(summary.failed)
    if len(specs) > 1 and not FLAGS.dry_run:
        print(f"all tables: total {format_duration(time.perf_counter() - t0)}")
    return 1 if failed else 0


def define_flags() -> None:
    from absl import flags

    flags.DEFINE_string("data_dir", None, "Corpus folder(s) or manifest(s), A,B; every run gets them (or the "
                        "ones its row's \"corpora\" names) as --data_dir.")
    flags.DEFINE_string("runs_dir", DEFAULT_RUNS_DIR, "Runs go to RUNS_DIR/<table>/<row>/<column>/seed_<s>/.")
    flags.DEFINE_string("specs_dir", DEFAULT_SPEC_DIR, "Where `list` looks for table specs.")
    flags.DEFINE_boolean("dry_run", False, "Print the training commands instead of running them.")
    flags.DEFINE_list("only", [], "Run only these rows (by name).")
    flags.DEFINE_list("seeds", [], "Run only these of the spec's seeds.")
    flags.DEFINE_multi_string("train_flag", [], "An extra flag for every run, after the spec's flags, e.g. "
                              "--train_flag=--workers=2 (repeatable).")
