"""A recording's emotions over time as a picture: class probabilities against time, speech shaded.

The smoothed track is drawn as lines (one colour per class), the raw segments' probabilities as
faint dots at their centres, and a strip above the axes colours each segment by its smoothed
emotion, so a reader sees both when the emotion changes and how sure the model is. Written to a
temporary file and renamed, so an interrupted run never leaves half a PNG.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ser_jax.predict.results import Timeline


def plot_timeline(tl: Timeline, path: str | os.PathLike, title: str | None = None,
                  truth: Sequence[tuple[float, float, str]] = ()) -> None:
    """Save ``tl`` as a PNG at ``path``; ``truth`` (start, end, emotion) adds a strip of the true
    emotions under the predicted one (a recording whose truth is known, as in an experiment)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    width = float(np.clip(6 + tl.seconds / 20, 9, 24))
    fig = Figure(figsize=(width, 4.6 + 0.4 * bool(truth)), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(3 if truth else 2, 1, sharex=True, height_ratios=(1, 1, 9) if truth else (1, 9))
    strip, ax = axes[0], axes[-1]
    colors = {name: f"C{i % 10}" for i, name in enumerate(tl.label_names)}
    if truth:
        for a, b, name in truth:
            axes[1].axvspan(a, b, color=colors.get(name, "0.5"), lw=0)
        axes[1].set_yticks([])
        axes[1].set_ylabel("true", rotation=0, ha="right", va="center", fontsize=9)
    for a, b in tl.speech:
        ax.axvspan(a, b, color="0.9", lw=0, zorder=0)
    if tl.segments:
        centres = np.asarray([(s.start + s.end) / 2 for s in tl.segments])
        raw, smoothed = tl.probabilities(), tl.probabilities(smoothed=True)
        for j, name in enumerate(tl.label_names):
            ax.plot(centres, raw[:, j], ".", ms=3, alpha=0.35, color=colors[name])
            ax.plot(centres, smoothed[:, j], "-", lw=1.6, color=colors[name], label=name)
        for s, c, nxt in zip(tl.segments, centres, [*centres[1:], None]):  # each segment to the next one's centre
            left = max(s.start, c - (s.end - s.start) / 2)
            right = min(s.end, nxt) if nxt is not None else s.end
            strip.axvspan(left, right, color=colors[s.smoothed_emotion], lw=0)
    else:
        ax.text(0.5, 0.5, tl.note or "no speech found", transform=ax.transAxes, ha="center", va="center")
    strip.set_yticks([])
    strip.set_ylabel("predicted", rotation=0, ha="right", va="center", fontsize=9)
    ax.set_xlim(0, max(tl.seconds, 1e-3))
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability (lines: smoothed; dots: segments)")
    handles = [Patch(color=colors[n], label=n) for n in tl.label_names] + [Patch(color="0.9", label="speech")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=9, frameon=False)
    strip.set_title(title or Path(tl.path).name, fontsize=11)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", pil_kwargs={"compress_level": 1})
    os.replace(tmp, path)
