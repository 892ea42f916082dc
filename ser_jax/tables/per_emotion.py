"""The per-emotion report of one configuration, as the original README's classification report.

Per-emotion precision, recall and F1 (mean ± std over seeds, each seed's from its confusion matrix
summed over folds), and a PNG of the confusion matrix summed over seeds.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ser_jax import report as report_lib
from ser_jax import rundir
from ser_jax.experiments.spec import TableSpec
from ser_jax.tables.captions import DAGGER_NOTE, caption, latex_escape, md_escape
from ser_jax.tables.results import Results


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


def confusion_png_path(spec: TableSpec, runs_dir: str | os.PathLike, out: str | None) -> Path:
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
    notes = list(caption(results))
    if pe is not None:
        notes.append(f"Per-emotion precision, recall and F1 on the test set, mean ± sample std over {seeds_done} of "
                     f"{len(spec.seeds)} training seeds; each seed's values come from its confusion matrix (summed "
                     "over folds for a k-fold run).")
    if figure and pe is not None:
        notes.append(f"Confusion matrix summed over seeds: {figure}.")
    title = spec.title + (" †" if pe is not None and pe.leaky else "")
    if not latex:
        lines = [f"**{md_escape(title)}**", "", "| " + " | ".join(head) + " |", "|---|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(md_escape(c) for c in r) + " |" for r in body] or ["| - | - | - | - | - |"]
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
