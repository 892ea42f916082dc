"""Metric tables as Markdown and LaTeX (booktabs): mean ± std over seeds per cell, the best in bold.

LEAKY rows (early stopping on their own test set) carry a dagger and are never best; per-corpus
sub-rows (another test set) are never best either. ``render`` is the one entry point: it hands a
``per_emotion`` spec to ``ser_jax.tables.per_emotion``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence

from ser_jax.experiments.spec import METRIC_TITLES, TableSpec
from ser_jax.tables.captions import DAGGER_NOTE, caption, latex_escape, md_escape, pct
from ser_jax.tables.per_emotion import render_per_emotion
from ser_jax.tables.results import SUB_ROW, Results

FORMATS = ("markdown", "latex", "both")
SHORT_METRICS = {"accuracy": "Acc.", "macro_f1": "Macro F1", "weighted_f1": "Weighted F1", "uar": "UAR",
                 "best_val_accuracy": "Val. acc."}


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


def _header_cells(spec: TableSpec) -> list[tuple[str, str, str]]:
    return [(c.name, c.label, m) for c in spec.columns for m in spec.metrics]


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
    return md_escape(label) + (" †" if leaky else "")


def _md_cell(mean: float, std: float | None, is_best: bool, n: int | None) -> str:
    text = pct(mean) + (f" ± {pct(std)}" if std is not None else "")
    text = f"**{text}**" if is_best else text
    return text + (f" (n={n})" if n is not None else "")


def _latex_label(label: str, leaky: bool) -> str:
    return latex_escape(label) + (r"$^\dagger$" if leaky else "")


def _latex_cell(mean: float, std: float | None, is_best: bool, n: int | None) -> str:
    body = pct(mean) + (f" \\pm {pct(std)}" if std is not None else "")
    text = f"$\\mathbf{{{body}}}$" if is_best else f"${body}$"
    return text + (f"\\,{{\\scriptsize (n={n})}}" if n is not None else "")


def render_markdown(results: Results) -> str:
    spec = results.spec
    if spec.kind == "per_emotion":
        return render_per_emotion(results, "markdown")
    cols = _header_cells(spec)
    many = len(spec.columns) > 1
    head = ["Configuration"] + [f"{label}: {METRIC_TITLES[m]}" if many else METRIC_TITLES[m]
                                for _, label, m in cols]
    best = {(c, m): _best(results, c, m) for c, _, m in cols}
    lines = [f"**{md_escape(spec.title)}**", "", "| " + " | ".join(md_escape(h) for h in head) + " |",
             "|" + "---|" + "---:|" * len(cols)]
    any_leaky = False
    for leaky, cells in _body_rows(results, cols, best, _md_label, _md_cell):
        any_leaky |= leaky
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", " ".join(caption(results))]
    if any_leaky:
        lines += ["", f"† {DAGGER_NOTE}"]
    return "\n".join(lines) + "\n"


def _latexcaption(results: Results, extra: Sequence[str] = ()) -> str:
    return latex_escape(" ".join([results.spec.title + ".", *caption(results), *extra]).strip())


def render_latex(results: Results) -> str:
    spec = results.spec
    if spec.kind == "per_emotion":
        return render_per_emotion(results, "latex")
    cols = _header_cells(spec)
    k = len(spec.metrics)
    best = {(c, m): _best(results, c, m) for c, _, m in cols}
    lines = [r"\begin{table}[t]", r"  \centering", f"  \\caption{{{_latexcaption(results)}}}",
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


def render(results: Results, fmt: str, figure: str | os.PathLike | None = None) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if results.spec.kind == "per_emotion":
        parts = [render_per_emotion(results, f, figure) for f in (("markdown", "latex") if fmt == "both" else (fmt,))]
    else:
        parts = [(render_markdown if f == "markdown" else render_latex)(results)
                 for f in (("markdown", "latex") if fmt == "both" else (fmt,))]
    return "\n".join(parts)
