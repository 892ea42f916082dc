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

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ser_jax import ensemble as ensemble_lib
from ser_jax import experiments as exp_lib
from ser_jax import report as report_lib
from ser_jax import rundir

FORMATS = ("markdown", "latex", "both")
DAGGER_NOTE = ("LEAKY: early stopping chose the epoch on the test set itself (the original notebook's "
               "protocol), so these scores are optimistic; they are not eligible for best.")
PROTOCOL_NOTES = {
    "seed_leaky": "the original stratified 80/20 split with early stopping on the test set (LEAKY)",
    "holdout": "the original 80/20 test split, the epoch chosen on a validation part of the training set",
    "speaker_kfold": "speaker-independent k-fold over speakers (test speakers unseen in training and validation)",
    "speakers": "explicit train/validation/test speaker lists (speaker-independent)",
    "loso": "leave-one-speaker-out (each speaker tested once, unseen in training and validation)",
    "emobox": "EmoBox's fixed RAVDESS speech folds (the folds whose test actors the data has)",
    "cross_corpus": "train and validate on the other corpora, test on every file of one corpus (shared emotions)",
}
SUB_ROW = "@"  # joins a row's name and a corpus name (or "ensemble"): the name of its sub-row
SHORT_METRICS = {"accuracy": "Acc.", "macro_f1": "Macro F1", "weighted_f1": "Weighted F1", "uar": "UAR",
                 "best_val_accuracy": "Val. acc."}


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
    spec: exp_lib.TableSpec
    cells: dict[tuple[str, str], Cell]  # (row name, column name)

    def leaky(self, row: exp_lib.Row) -> bool:
        return row.leaky or any(m.get("leaky") for c in self.spec.columns for m in self.cells[row.name, c.name].runs)

    def protocols(self, row: exp_lib.Row) -> list[str]:
        found = {m.get("protocol") for c in self.spec.columns for m in self.cells[row.name, c.name].runs}
        return sorted(p for p in found if p)


def collect(spec: exp_lib.TableSpec, runs_dir: str | os.PathLike = exp_lib.DEFAULT_RUNS_DIR) -> Results:
    """Every finished run of the table, grouped by cell."""
    cells: dict[tuple[str, str], Cell] = {}
    for row in spec.rows:
        for col in spec.columns:
            cells[row.name, col.name] = Cell({m: [] for m in spec.metrics}, [], len(spec.seeds))
    for run in exp_lib.expand_runs(spec, runs_dir):
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
            cell.values[k].append(exp_lib.scalar(m[k]))
        cell.runs.append(m)
        cells[run.row.name, run.column.name] = dataclasses.replace(cell, dirs=(*cell.dirs, run.run_dir))
    return Results(_with_sub_rows(spec, cells), cells)


def _ensemble_val_accuracy(dirs) -> float | None:
    """The ensemble's accuracy on the validation clips (what chooses it), or None where the runs
    predate kept validation probabilities, had none, or validated on different clips."""
    try:
        return ensemble_lib.score(dirs, part="val")["accuracy"]
    except ValueError:
        return None


def _with_sub_rows(spec: exp_lib.TableSpec, cells: dict[tuple[str, str], Cell]) -> exp_lib.TableSpec:
    """The spec with sub-rows after each ``ensemble`` row (its seeds scored as one model, a single
    value per metric, validation accuracy included) and each ``per_corpus`` row (a sub-row per tested
    corpus, filled from the runs' ``per_corpus`` metrics: each corpus' test speakers alone)."""
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
        if not row.per_corpus:
            continue
        names = sorted({c for col in spec.columns for m in cells[row.name, col.name].runs
                        for c in m.get("per_corpus", {})})
        for name in names:
            sub = dataclasses.replace(row, name=f"{row.name}{SUB_ROW}{name}",
                                      label=f"{row.label}: {name} test speakers", per_corpus=False)
            rows.append(sub)
            for col in spec.columns:
                runs = [m for m in cells[row.name, col.name].runs if name in m.get("per_corpus", {})]
                values = {k: [exp_lib.scalar(m["per_corpus"][name][k]) for m in runs] for k in spec.metrics}
                cells[sub.name, col.name] = Cell(values, runs, len(spec.seeds))
    return dataclasses.replace(spec, rows=tuple(rows))


# ----------------------------------------------------------------------------------------------
# Metrics tables


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _best(results: Results, col: str, metric: str) -> set[str]:
    """Rows holding the best displayed mean of one column (ties all best); leaky rows and per-corpus
    sub-rows (another test set) excluded."""
    shown = {}
    for row in results.spec.rows:
        cell = results.cells[row.name, col]
        if cell.n and not results.leaky(row) and SUB_ROW not in row.name:
            shown[row.name] = round(100 * cell.mean_std(metric)[0], 1)
    if not shown:
        return set()
    top = max(shown.values())
    return {name for name, v in shown.items() if v == top}


def _caption(results: Results) -> list[str]:
    """Plain-text caption sentences: the spec's caption, what the numbers are, and the protocol
    every row's runs really used (read from their metrics.json)."""
    spec = results.spec
    seeds = ", ".join(map(str, spec.seeds))
    parts = [spec.caption.strip()] if spec.caption.strip() else []
    if spec.kind == "metrics":
        what = ", ".join(exp_lib.METRIC_TITLES[m] for m in spec.metrics)
        parts.append(f"{what[0].upper()}{what[1:]} in %, mean ± sample std over {len(spec.seeds)} training seeds "
                     f"({seeds}); a k-fold "
                     "run counts as one sample (its mean over folds); (n=k): only k seeds finished; -: not run yet. "
                     "Bold: best of each column.")
    if any(row.name.endswith(f"{SUB_ROW}ensemble") for row in spec.rows):
        parts.append("An ensemble row scores the mean probabilities of its row's finished seeds as one model "
                     "(one value): on the test clips, and on the validation clips where the runs kept them (its "
                     "validation accuracy, comparable with a single run's, since each seed's epoch was chosen "
                     "there too; -: runs from before validation probabilities were kept).")
    protos = {row.name: results.protocols(row) for row in spec.rows}
    used = sorted({p for ps in protos.values() for p in ps})
    if len(used) == 1:  # rows without finished runs show "-" and need no protocol
        parts.append(f"Protocol: {used[0]} ({PROTOCOL_NOTES.get(used[0], used[0])}).")
    elif used:
        per_row = "; ".join(
            f"{row.label}: " + (", ".join(f"{p} ({PROTOCOL_NOTES.get(p, p)})" for p in protos[row.name])
                                or "not run yet") for row in spec.rows)
        parts.append(f"Protocols: {per_row}.")
    else:
        parts.append("Protocol: no run has finished yet.")
    return parts


def _header_cells(spec: exp_lib.TableSpec) -> list[tuple[str, str, str]]:
    return [(c.name, c.label, m) for c in spec.columns for m in spec.metrics]


def _md_escape(text: str) -> str:
    return text.replace("|", r"\|")


def _body_rows(results: Results, cols, best, label: Callable[[str, bool], str],
               cell_text: Callable[..., str]) -> Iterator[tuple[bool, list[str]]]:
    """(leaky, cells) for each row of a metrics table; the formats differ only in label and cell_text
    (mean, std or None, whether best, n when fewer seeds finished than requested)."""
    for row in results.spec.rows:
        leaky = results.leaky(row)
        cells = [label(row.label, leaky)]
        for c, _, m in cols:
            cell = results.cells[row.name, c]
            if not cell.n or not cell.values[m]:  # not run yet, or a metric an ensemble has not
                cells.append("-")
                continue
            mean, std = cell.mean_std(m)
            cells.append(cell_text(mean, std, row.name in best[c, m], cell.n if cell.n < cell.requested else None))
        yield leaky, cells


def _md_label(label: str, leaky: bool) -> str:
    return _md_escape(label) + (" †" if leaky else "")


def _md_cell(mean: float, std: float | None, is_best: bool, n: int | None) -> str:
    text = _pct(mean) + (f" ± {_pct(std)}" if std is not None else "")
    text = f"**{text}**" if is_best else text
    return text + (f" (n={n})" if n is not None else "")


def _latex_label(label: str, leaky: bool) -> str:
    return latex_escape(label) + (r"$^\dagger$" if leaky else "")


def _latex_cell(mean: float, std: float | None, is_best: bool, n: int | None) -> str:
    body = _pct(mean) + (f" \\pm {_pct(std)}" if std is not None else "")
    text = f"$\\mathbf{{{body}}}$" if is_best else f"${body}$"
    return text + (f"\\,{{\\scriptsize (n={n})}}" if n is not None else "")


def render_markdown(results: Results) -> str:
    spec = results.spec
    if spec.kind == "per_emotion":
        return render_per_emotion(results, "markdown")
    cols = _header_cells(spec)
    many = len(spec.columns) > 1
    head = ["Configuration"] + [f"{label}: {exp_lib.METRIC_TITLES[m]}" if many else exp_lib.METRIC_TITLES[m]
                                for _, label, m in cols]
    best = {(c, m): _best(results, c, m) for c, _, m in cols}
    lines = [f"**{_md_escape(spec.title)}**", "", "| " + " | ".join(_md_escape(h) for h in head) + " |",
             "|" + "---|" + "---:|" * len(cols)]
    any_leaky = False
    for leaky, cells in _body_rows(results, cols, best, _md_label, _md_cell):
        any_leaky |= leaky
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", " ".join(_caption(results))]
    if any_leaky:
        lines += ["", f"† {DAGGER_NOTE}"]
    return "\n".join(lines) + "\n"


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$",
                  "†": r"$^\dagger$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def _latex_caption(results: Results, extra: Sequence[str] = ()) -> str:
    return latex_escape(" ".join([results.spec.title + ".", *_caption(results), *extra]).strip())


def render_latex(results: Results) -> str:
    spec = results.spec
    if spec.kind == "per_emotion":
        return render_per_emotion(results, "latex")
    cols = _header_cells(spec)
    k = len(spec.metrics)
    best = {(c, m): _best(results, c, m) for c, _, m in cols}
    lines = [r"\begin{table}[t]", r"  \centering", f"  \\caption{{{_latex_caption(results)}}}",
             f"  \\label{{tab:{spec.name}}}", f"  \\begin{{tabular}}{{l{'c' * len(cols)}}}", r"    \toprule"]
    if len(spec.columns) > 1:
        lines.append("    & " + " & ".join(f"\\multicolumn{{{k}}}{{c}}{{{latex_escape(c.label)}}}"
                                          for c in spec.columns) + r" \\")
        lines.append("    " + " ".join(f"\\cmidrule(lr){{{2 + i * k}-{1 + (i + 1) * k}}}"
                                       for i in range(len(spec.columns))))
    lines.append("    Configuration & " + " & ".join(SHORT_METRICS[m] for _, _, m in cols) + r" \\")
    lines.append(r"    \midrule")
    any_leaky = False
    for leaky, cells in _body_rows(results, cols, best, _latex_label, _latex_cell):
        any_leaky |= leaky
        lines.append("    " + " & ".join(cells) + r" \\")
    lines += [r"    \bottomrule", r"  \end{tabular}"]
    if any_leaky:
        lines += ["", f"  \\smallskip{{\\footnotesize $^\\dagger$ {latex_escape(DAGGER_NOTE)}}}"]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# Per-emotion report (one configuration)


@dataclasses.dataclass(frozen=True)
class PerEmotion:
    label_names: list[str]  # classes with test examples, in label-map order
    precision: dict[str, list[float]]  # one value per seed
    recall: dict[str, list[float]]
    f1: dict[str, list[float]]
    support: dict[str, float]  # test examples per seed (mean over seeds)
    accuracy: list[float]
    confusion_matrix: np.ndarray  # summed over seeds (and folds), over the whole label map
    all_label_names: list[str]
    leaky: bool


def _prf(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(np.float64)
    pred, true = cm.sum(axis=0), cm.sum(axis=1)
    p = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    r = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    f = np.divide(2 * p * r, p + r, out=np.zeros_like(tp), where=(p + r) > 0)
    return p, r, f


def per_emotion(results: Results) -> PerEmotion | None:
    """Per-class P/R/F1 of each seed from its confusion matrix (summed over folds), or None if no run finished."""
    spec = results.spec
    runs = results.cells[spec.rows[0].name, spec.columns[0].name].runs
    if not runs:
        return None
    names = list(runs[0]["label_names"])
    for m in runs:
        if list(m["label_names"]) != names:
            raise ValueError(f"{spec.path}: runs of one configuration have different label maps "
                             f"({names} vs {m['label_names']}); they cannot be pooled")
    cms = [np.asarray(m["confusion_matrix"], np.int64) for m in runs]
    total = np.sum(cms, axis=0)
    present = [i for i in range(len(names)) if total[i].sum() > 0]
    stats = [_prf(cm) for cm in cms]
    pick = lambda k: {names[i]: [float(s[k][i]) for s in stats] for i in present}  # noqa: E731
    return PerEmotion(
        label_names=[names[i] for i in present], precision=pick(0), recall=pick(1), f1=pick(2),
        support={names[i]: float(np.mean([cm[i].sum() for cm in cms])) for i in present},
        accuracy=[float(np.trace(cm) / cm.sum()) for cm in cms], confusion_matrix=total,
        all_label_names=names, leaky=results.leaky(spec.rows[0]))


def confusion_png_path(spec: exp_lib.TableSpec, runs_dir: str | os.PathLike, out: str | None) -> Path:
    """Where the summed confusion matrix goes: beside --out, else in the table's runs folder."""
    if out:
        o = Path(out)
        return o.with_name(o.stem + "_confusion_matrix.png")
    return Path(runs_dir) / spec.name / rundir.CONFUSION


def write_confusion_png(results: Results, path: str | os.PathLike) -> Path | None:
    pe = per_emotion(results)
    if pe is None:
        return None
    n = len(results.cells[results.spec.rows[0].name, results.spec.columns[0].name].runs)
    report_lib.plot_confusion_matrix(pe.confusion_matrix, pe.all_label_names, path,
                                     f"{results.spec.title} (summed over {n} seeds)", leaky=pe.leaky)
    return Path(path)


def render_per_emotion(results: Results, fmt: str, figure: str | os.PathLike | None = None) -> str:
    spec = results.spec
    pe = per_emotion(results)
    latex = fmt == "latex"
    pm = r" \pm " if latex else " ± "

    def ms(v: Sequence[float]) -> str:
        mean = float(np.mean(v))
        s = f"{mean:.2f}" + (f"{pm}{float(np.std(v, ddof=1)):.2f}" if len(v) > 1 else "")
        return f"${s}$" if latex else s

    head = ["Emotion", "Precision", "Recall", "F1-Score", "Support"]
    body: list[list[str]] = []
    if pe is not None:
        n = len(pe.accuracy)
        for name in pe.label_names:
            sup = pe.support[name]
            body.append([name, ms(pe.precision[name]), ms(pe.recall[name]), ms(pe.f1[name]),
                         f"{sup:.0f}" if sup == int(sup) else f"{sup:.1f}"])
        macro = {k: [float(np.mean([getattr(pe, k)[c][s] for c in pe.label_names])) for s in range(n)]
                 for k in ("precision", "recall", "f1")}
        total = sum(pe.support.values())
        body.append(["macro avg", ms(macro["precision"]), ms(macro["recall"]), ms(macro["f1"]), f"{total:.0f}"])
        body.append(["accuracy", "", "", ms(pe.accuracy), f"{total:.0f}"])
    seeds_done = 0 if pe is None else len(pe.accuracy)
    notes = list(_caption(results))
    if pe is not None:
        notes.append(f"Per-emotion precision, recall and F1 on the test set, mean ± sample std over {seeds_done} of "
                     f"{len(spec.seeds)} training seeds; each seed's values come from its confusion matrix (summed "
                     "over folds for a k-fold run).")
    if figure and pe is not None:
        notes.append(f"Confusion matrix summed over seeds: {figure}.")
    title = spec.title + (" †" if pe is not None and pe.leaky else "")
    if not latex:
        lines = [f"**{_md_escape(title)}**", "", "| " + " | ".join(head) + " |", "|---|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in body] or ["| - | - | - | - | - |"]
        lines += ["", " ".join(notes)]
        if pe is not None and pe.leaky:
            lines += ["", f"† {DAGGER_NOTE}"]
        return "\n".join(lines) + "\n"
    cap = latex_escape(" ".join([title + ".", *notes]) + (f" † {DAGGER_NOTE}" if pe is not None and pe.leaky else ""))
    lines = [r"\begin{table}[t]", r"  \centering", f"  \\caption{{{cap}}}", f"  \\label{{tab:{spec.name}}}",
             r"  \begin{tabular}{lcccr}", r"    \toprule", "    " + " & ".join(head) + r" \\", r"    \midrule"]
    for r in body or [["-"] * len(head)]:
        if r[0] == "macro avg":
            lines.append(r"    \midrule")
        lines.append("    " + " & ".join([latex_escape(r[0]), *r[1:]]) + r" \\")
    lines += [r"    \bottomrule", r"  \end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# Command line


def render(results: Results, fmt: str, figure: str | os.PathLike | None = None) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if results.spec.kind == "per_emotion":
        parts = [render_per_emotion(results, f, figure) for f in (("markdown", "latex") if fmt == "both" else (fmt,))]
    else:
        parts = [(render_markdown if f == "markdown" else render_latex)(results)
                 for f in (("markdown", "latex") if fmt == "both" else (fmt,))]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    from absl import flags

    from ser_jax import cli

    FLAGS = flags.FLAGS
    paths = argv[1:]
    if not paths:
        raise cli.UsageError("give the table spec(s) to render: a packaged name (e.g. protocols) or a JSON file")
    texts = []
    for p in paths:
        spec = exp_lib.load_spec(p)
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
    flags.DEFINE_string("runs_dir", exp_lib.DEFAULT_RUNS_DIR, "Where the runner put the runs.")
