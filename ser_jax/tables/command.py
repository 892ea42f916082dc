"""Results tables from finished runs: ``python -m ser_jax.tables experiments/tables/<table>.json``.

Reads the ``metrics.json`` of every (row, column, seed) run a spec names (see ser_jax.experiments)
and renders Markdown and/or LaTeX. A cell is the mean +- sample std (ddof=1) over the seeds that
finished; each seed is one sample (a k-fold run contributes its mean over folds). Cells with
fewer seeds than the spec asks for say ``(n=k)``; cells with none are ``-``. The best cell of
each column is bold; rows whose runs early-stopped on their test set (LEAKY) carry a dagger and
a footnote and are not eligible for best, since their scores are optimistic by construction. The
caption names the protocol each row's runs actually used (read from the runs, not the spec).

The ``per_emotion`` kind reports one configuration as the original README's classification
report: per-emotion precision, recall and F1 (mean +- std over seeds, each seed's from its
confusion matrix summed over folds), plus a PNG of the confusion matrix summed over seeds.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ser_jax.experiments.runs import DEFAULT_RUNS_DIR
from ser_jax.experiments.spec import load_spec
from ser_jax.tables.per_emotion import confusion_png_path, write_confusion_png
from ser_jax.tables.render import FORMATS, render
from ser_jax.tables.results import SUB_ROW, collect


def main(argv: list[str]) -> int:
    from absl import flags

    from ser_jax import cli

    FLAGS = flags.FLAGS
    paths = argv[1:]
    if not paths:
        raise cli.UsageError("give the table spec(s) to render: a name (e.g. protocols) or a JSON file")
    texts = []
    for p in paths:
        spec = load_spec(p)
        results = collect(spec, FLAGS.runs_dir)
        figure = None
        if spec.kind == "per_emotion":
            figure = write_confusion_png(results, confusion_png_path(spec, FLAGS.runs_dir, FLAGS.out))
        texts.append(render(results, FLAGS.format, figure))
        done = sum(c.n for (row, _), c in results.cells.items() if SUB_ROW not in row)  # sub-rows reuse runs
        print(f"{spec.name}: {done} of {spec.num_runs} runs finished", file=sys.stderr)
    text = "\n".join(texts)
    if FLAGS.out:
        Path(FLAGS.out).parent.mkdir(parents=True, exist_ok=True)
        Path(FLAGS.out).write_text(text)
        print(f"wrote {FLAGS.out}", file=sys.stderr)
    else:
        print(text, end="")
    return 0


def define_flags() -> None:
    from absl import flags

    flags.DEFINE_enum("format", "markdown", list(FORMATS), "Markdown, LaTeX (booktabs) or both.")
    flags.DEFINE_string("out", None, "Write the table(s) to this file instead of stdout.")
    flags.DEFINE_string("runs_dir", DEFAULT_RUNS_DIR, "Where the runner put the runs.")
