"""Metrics of a finished run and the human-readable files it leaves behind.

Labels are integer indices into ``label_names`` (the label map stored with the run), so a
class is named by the map, never by a list typed by hand. Classes that occur neither in the
targets nor in the predictions (e.g. disgust and surprised in a song-only run with the
8-emotion map) are listed with zeros but left out of the macro averages, which would
otherwise be dragged down by classes that were never in play.

A run that early-stopped on its test set (protocol ``seed_leaky``) is optimistic; every
text and image made here for it begins with :data:`LEAKY_PREFIX`.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ser_jax import rundir

LEAKY_PREFIX = "LEAKY (early stopping on the test set)"
SCALAR_METRICS = ("accuracy", "macro_f1", "weighted_f1", "uar")
# Where metrics.json keeps the test set's groups scored alone: each tested corpus, each vocal channel.
GROUP_KEYS = ("per_corpus", "per_channel")
_SCALAR_TITLES = {"accuracy": "accuracy", "macro_f1": "macro F1", "weighted_f1": "weighted F1", "uar": "UAR"}


def format_title(text: str, *, leaky: bool = False) -> str:
    """The text as given, or prefixed with the LEAKY warning when the run early-stopped on test."""
    return f"{LEAKY_PREFIX}: {text}" if leaky else text


def _labels(y_true, y_pred, label_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Checks the inputs; returns them as int arrays and the label ids in play (true or predicted)."""
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    k = len(label_names)
    if k == 0:
        raise ValueError("report: label_names is empty; pass the run's label map")
    if len(y_true) != len(y_pred):
        raise ValueError(f"report: y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("report: no predictions to score (y_true is empty)")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.min() < 0 or y.max() >= k:
            raise ValueError(
                f"report: {name} holds label {y.min() if y.min() < 0 else y.max()}, outside the "
                f"label map 0..{k - 1} ({', '.join(label_names)})"
            )
    in_play = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    return y_true, y_pred, in_play


def compute_metrics(y_true, y_pred, label_names: Sequence[str]) -> dict:
    """Accuracy, macro/weighted F1, UAR, per-class P/R/F1/support and the confusion matrix.

    UAR (unweighted average recall) is the mean recall over classes present in ``y_true``,
    which is scikit-learn's balanced accuracy. Macro F1 averages over the classes in play
    (present in ``y_true`` or ``y_pred``), as scikit-learn does without an explicit label list.
    The confusion matrix (rows = true, columns = predicted) and ``per_class`` cover the
    whole label map, so folds and runs stay comparable.
    """
    from sklearn import metrics as skm  # here: importing scikit-learn takes ~2 s, most commands never need it

    label_names = [str(n) for n in label_names]
    y_true, y_pred, in_play = _labels(y_true, y_pred, label_names)
    all_ids = list(range(len(label_names)))
    p, r, f, s = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=all_ids, average=None, zero_division=0
    )
    present = s > 0
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "macro_f1": float(skm.f1_score(y_true, y_pred, labels=in_play, average="macro", zero_division=0)),
        "weighted_f1": float(skm.f1_score(y_true, y_pred, labels=in_play, average="weighted", zero_division=0)),
        "uar": float(np.mean(r[present])),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(label_names)
        },
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=all_ids).tolist(),
        "label_names": label_names,
        "averaged_over": [label_names[i] for i in in_play],
        "n": int(len(y_true)),
    }


def classification_report_text(
    y_true, y_pred, label_names: Sequence[str], digits: int = 4, *, leaky: bool = False
) -> str:
    """scikit-learn's classification report with the label map's names, for report.txt.

    Rows cover the classes in play; classes of the map absent from both targets and
    predictions are named on a closing line rather than shown as rows of zeros.
    """
    from sklearn import metrics as skm

    label_names = [str(n) for n in label_names]
    y_true, y_pred, in_play = _labels(y_true, y_pred, label_names)
    text = skm.classification_report(
        y_true,
        y_pred,
        labels=in_play,
        target_names=[label_names[i] for i in in_play],
        digits=digits,
        zero_division=0,
    )
    absent = [n for i, n in enumerate(label_names) if i not in in_play]
    if absent:
        text += f"\nnot in targets or predictions (left out of the averages): {', '.join(absent)}\n"
    if leaky:
        text = f"{LEAKY_PREFIX}: these scores are optimistic; the test set chose the stopping epoch.\n\n" + text
    return text


def confusion_title(title: str, *, leaky: bool = False, normalize: bool = False) -> str:
    """The title drawn on a confusion-matrix image (LEAKY prefix first when it applies)."""
    if normalize:
        title = f"{title} (rows normalised: recall)"
    return format_title(title, leaky=leaky)


def _figure(cm, label_names: Sequence[str], title: str, normalize: bool):
    # Figure + Agg canvas directly: no pyplot, so no global state and no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cm = np.asarray(cm, dtype=np.float64)
    k = len(label_names)
    if cm.shape != (k, k):
        raise ValueError(f"confusion matrix is {cm.shape} but there are {k} label names")
    row_sums = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, row_sums, out=np.zeros_like(cm), where=row_sums > 0)
    shown = frac if normalize else cm

    side = max(5.5, 0.75 * k + 3.0)
    fig = Figure(figsize=(side + 1.2, side), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    vmax = 1.0 if normalize else max(shown.max(), 1.0)
    im = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=vmax)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class" if normalize else "count")
    ax.set_xticks(range(k), labels=label_names, rotation=40, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(k), labels=label_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fontsize = 10 if k <= 10 else max(6, 10 - (k - 10) // 2)
    for i in range(k):
        for j in range(k):
            value = shown[i, j]
            text = f"{value:.2f}" if normalize else f"{int(round(value))}"
            if normalize and cm[i, j] == 0:
                text = "0"
            dark = value > 0.55 * vmax
            # Inside the axes, so the layout need not measure them: same picture, a quarter less time.
            ax.text(j, i, text, ha="center", va="center", fontsize=fontsize, color="white" if dark else "black",
                    in_layout=False)
    wrapped = "\n".join(textwrap.wrap(title, width=int(side * 9)))
    ax.set_title(wrapped, fontsize=11, color="firebrick" if title.startswith(LEAKY_PREFIX) else "black")
    return fig


def plot_confusion_matrix(
    cm, label_names: Sequence[str], path: str | os.PathLike, title: str, normalize: bool = False, *, leaky: bool = False
) -> None:
    """Saves an annotated confusion matrix (rows = true) as a PNG at ``path``."""
    fig = _figure(cm, label_names, confusion_title(title, leaky=leaky, normalize=normalize), normalize)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", pil_kwargs=_FAST_PNG)


# zlib level 1: a third larger files, a fifth less time per figure (every run writes three).
_FAST_PNG = {"compress_level": 1}


def png_image(path: str | os.PathLike) -> np.ndarray:
    """A PNG the report wrote as an (H, W, 3) uint8 array (TensorBoard's image), without drawing it again."""
    from matplotlib import image

    return (image.imread(path)[..., :3] * 255).round().astype(np.uint8)


def confusion_matrix_image(
    cm, label_names: Sequence[str], title: str, normalize: bool = False, *, leaky: bool = False
) -> np.ndarray:
    """The same picture as an (H, W, 3) uint8 array, e.g. for TensorBoard's add_image (HWC)."""
    fig = _figure(cm, label_names, confusion_title(title, leaky=leaky, normalize=normalize), normalize)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def plot_training_curves(histories: Sequence[Sequence[dict]], path: str | os.PathLike, title: str, *,
                         names: Sequence[str] = (), best_epochs: Sequence[int | None] = (),
                         leaky: bool = False) -> None:
    """Loss and accuracy per epoch (training solid, validation dashed), one colour per history
    (the folds of a k-fold run), the restored epoch dotted; saved as a PNG at ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for i, history in enumerate(histories):
        if not history:
            continue
        color = f"C{i % 10}"
        epochs = [r["epoch"] for r in history]
        name = names[i] if i < len(names) else ("" if len(histories) == 1 else f"fold {i}")
        for ax, key in zip(axes, ("loss", "accuracy")):
            ax.plot(epochs, [r[f"train_{key}"] for r in history], color=color, lw=1.2,
                    label=f"{name} train".strip())
            ax.plot(epochs, [r[f"val_{key}"] for r in history], color=color, lw=1.2, ls="--",
                    label=f"{name} validation".strip())
            best = best_epochs[i] if i < len(best_epochs) else None
            if best:
                ax.axvline(best, color=color, lw=0.8, ls=":")
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, ncol=1 if len(histories) < 3 else 2, loc="lower right")
    fig.suptitle(format_title(f"{title} (dotted: the epoch restored)", leaky=leaky), fontsize=11,
                 color="firebrick" if leaky else "black")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", pil_kwargs=_FAST_PNG)


def _mean_std(values: Sequence[float]) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}


def aggregate_metrics(per_fold: list[dict]) -> dict:
    """Mean and std over folds of the scalar metrics and per-class F1, the summed confusion matrix.

    std is the sample std (ddof=1; 0 for one fold). ``pooled`` scores the summed matrix as if
    all folds' test sets were one, which weights folds by their size.
    """
    if not per_fold:
        raise ValueError("aggregate_metrics: no folds given")
    names = per_fold[0]["label_names"]
    for i, m in enumerate(per_fold):
        if m["label_names"] != names:
            raise ValueError(f"aggregate_metrics: fold {i} has label map {m['label_names']}, fold 0 has {names}")
    cm = np.sum([np.asarray(m["confusion_matrix"], dtype=np.int64) for m in per_fold], axis=0)
    support = cm.sum(axis=1)
    recall = np.divide(np.diag(cm), support, out=np.zeros(len(names)), where=support > 0)
    out: dict[str, Any] = {k: _mean_std([m[k] for m in per_fold]) for k in SCALAR_METRICS}
    out["per_class_f1"] = {n: _mean_std([m["per_class"][n]["f1"] for m in per_fold]) for n in names}
    out["confusion_matrix"] = cm.tolist()
    out["pooled"] = {
        "accuracy": float(np.trace(cm) / cm.sum()) if cm.sum() else 0.0,
        "uar": float(recall[support > 0].mean()) if (support > 0).any() else 0.0,
    }
    out["per_fold"] = [{k: m[k] for k in SCALAR_METRICS} for m in per_fold]
    for key in GROUP_KEYS:  # several corpora (or channels) tested: mean +- std of each too
        if all(key in m for m in per_fold):
            names_c = sorted(set.intersection(*(set(m[key]) for m in per_fold)))
            out[key] = {c: {k: _mean_std([m[key][c][k] for m in per_fold]) for k in SCALAR_METRICS}
                        for c in names_c}
    if any(m.get("transductive") for m in per_fold):  # test-time adaptation: said wherever the scores are
        out["transductive"] = [m.get("transductive") for m in per_fold]
    skipped = [m.get("skipped_folds") for m in per_fold if m.get("skipped_folds")]
    if skipped:
        out["skipped_folds"] = skipped[0]
    out["label_names"] = list(names)
    out["n_folds"] = len(per_fold)
    out["std_ddof"] = 1
    return out


def format_summary(metrics: dict, *, leaky: bool, protocol: str) -> str:
    """A few console lines: the headline scores (mean +- std for an aggregate of folds)."""
    if "n_folds" in metrics:
        head = f"protocol {protocol}, {metrics['n_folds']} folds (mean +- std over folds):"
        scores = [
            f"{_SCALAR_TITLES[k]} {100 * metrics[k]['mean']:.2f} +- {100 * metrics[k]['std']:.2f}%"
            for k in SCALAR_METRICS
        ]
    else:
        n = f", {metrics['n']} test clips" if "n" in metrics else ""
        head = f"protocol {protocol}{n}:"
        scores = [f"{_SCALAR_TITLES[k]} {100 * metrics[k]:.2f}%" for k in SCALAR_METRICS]
    lines = [head, "  " + "  ".join(scores)]
    for key in GROUP_KEYS:  # several corpora (or channels) in the test set: each alone
        for name, per in metrics.get(key, {}).items():
            fold_mean = {k: v["mean"] if isinstance(v, dict) else v for k, v in per.items()}
            lines.append(f"  {name} alone: " + "  ".join(f"{_SCALAR_TITLES[k]} {100 * fold_mean[k]:.2f}%"
                                                       for k in SCALAR_METRICS))
    thin = (metrics.get("speaker_statistics") or {}).get("thin")
    if thin:  # speaker normalisation with speakers of few clips: said in the report, not only on the console
        stats = metrics["speaker_statistics"]
        lines.append(f"  speaker statistics: {len(thin)} of {stats['speakers']} speakers have few clips (as few as "
                     f"{stats['min_clips']}); see speaker_statistics in metrics.json")
    if metrics.get("transductive"):
        lines.append("  TRANSDUCTIVE: the unlabelled test clips adapted the model (test-time self-training on "
                     "its confident predictions) before these scores")
    if metrics.get("scored_emotions"):
        lines.append(f"  scored over the emotions the test corpus shares with training: "
                     f"{', '.join(metrics['scored_emotions'])}")
    for note in metrics.get("skipped_folds", []):
        lines.append(f"  skipped {note}")
    if leaky:
        lines.insert(0, f"{LEAKY_PREFIX}: the test set chose the stopping epoch, so these scores are optimistic.")
    return "\n".join(lines)


def write_run_report(
    directory: str | os.PathLike | None,
    y_true,
    y_pred,
    label_names: Sequence[str],
    *,
    leaky: bool,
    protocol: str,
    title: str,
    extra: dict | None = None,
) -> dict:
    """Writes metrics.json, report.txt, confusion_matrix.png (counts),
    confusion_matrix_normalized.png and, given a history, training_curves.png into ``directory``;
    returns the metrics written.

    ``extra`` (epochs, seconds, split description, ...) is merged into metrics.json. ``directory``
    None: the metrics only, nothing written (the processes but 0 of a multi-process run).
    """
    m = compute_metrics(y_true, y_pred, label_names)
    m.update({"protocol": protocol, "leaky": bool(leaky)})
    if extra:
        m.update(extra)
    if directory is None:
        return m
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # The file's first line carries the LEAKY prefix and the summary explains it; no third copy.
    text = classification_report_text(y_true, y_pred, label_names)
    summary = format_summary(m, leaky=leaky, protocol=protocol)
    (directory / rundir.REPORT).write_text(f"{format_title(title, leaky=leaky)}\n{summary}\n\n{text}")
    plot_confusion_matrix(m["confusion_matrix"], label_names, directory / rundir.CONFUSION, title, leaky=leaky)
    plot_confusion_matrix(
        m["confusion_matrix"], label_names, directory / rundir.CONFUSION_NORMALIZED, title, True, leaky=leaky
    )
    if m.get("history"):
        plot_training_curves([m["history"]], directory / rundir.CURVES, f"{title.removesuffix(' test')} training",
                             best_epochs=[m.get("best_epoch")], leaky=leaky)
    rundir.write_json(directory / rundir.METRICS, m)  # last: its presence marks a finished run
    return m


def write_aggregate_report(
    directory: str | os.PathLike, per_fold: list[dict], *, leaky: bool, protocol: str, title: str,
    extra: dict | None = None,
) -> dict:
    """The k-fold counterpart of write_run_report: aggregate metrics.json, report.txt and the
    summed confusion matrices at the top of the run directory."""
    directory = Path(directory)
    agg = aggregate_metrics(per_fold)
    agg.update({"protocol": protocol, "leaky": bool(leaky)})
    names = agg["label_names"]
    rows = [f"{'class':>12s}  f1 mean +- std"] + [
        f"{n:>12s}  {v['mean']:.4f} +- {v['std']:.4f}" for n, v in agg["per_class_f1"].items()
    ]
    per_fold_lines = [
        f"fold {i}: " + "  ".join(f"{_SCALAR_TITLES[k]} {100 * f[k]:.2f}%" for k in SCALAR_METRICS)
        for i, f in enumerate(agg["per_fold"])
    ]
    (directory / rundir.REPORT).write_text(
        "\n".join(
            [format_title(title, leaky=leaky), format_summary(agg, leaky=leaky, protocol=protocol), ""]
            + per_fold_lines
            + [""]
            + rows
        )
        + "\n"
    )
    summed = f"{title} (summed over {agg['n_folds']} folds)"
    plot_confusion_matrix(agg["confusion_matrix"], names, directory / rundir.CONFUSION, summed, leaky=leaky)
    plot_confusion_matrix(
        agg["confusion_matrix"], names, directory / rundir.CONFUSION_NORMALIZED, summed, True, leaky=leaky
    )
    if any(f.get("history") for f in per_fold):
        plot_training_curves([f.get("history") or [] for f in per_fold], directory / rundir.CURVES, f"{title} training",
                             best_epochs=[f.get("best_epoch") for f in per_fold], leaky=leaky)
    agg.update(extra or {})
    rundir.write_json(directory / rundir.METRICS, agg)  # last: its presence marks a finished run
    return agg
