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
                "per_channel": true (optional: add a sub-row per tested vocal channel, speech and song),
                "ensemble": true (optional: add a sub-row scoring the row's seeds as one ensemble)},
               {"name": "mix", "label": "A + B", "members": ["a", "b"]}],  # trains nothing: per seed, the
                                                # mean probabilities of earlier rows' runs (any recipes)
      "columns": [{"name": "both", "label": "speech + song", "flags": ["--channels=both"]}],  # optional
      "fixed_flags": ["--epochs=50"],            # last: they hold in every run (optional)
      "metrics": ["accuracy", "macro_f1", "uar"],
      "seeds": [0, 1, 2]
    }

A ``--flagfile`` is a path or the name of a preset (experiments/; see ser_jax.flagfiles), so a
spec runs from any folder.
"""

from __future__ import annotations

import os
import sys
import time

from ser_jax.experiments.runner import format_duration, run_table
from ser_jax.experiments.runs import DEFAULT_RUNS_DIR, expand_runs, table_progress
from ser_jax.experiments.spec import DEFAULT_SPEC_DIR, check_flagfiles, find_specs, load_spec

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
        raise cli.UsageError("run: give the table spec(s): a name (e.g. protocols) or a JSON file")
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
