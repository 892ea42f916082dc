"""How the results of ``python -m ser_jax.predict`` are printed.

Files' predictions: an aligned table, JSON or CSV. Timelines: the same three (one row per segment,
raw and smoothed), and WebVTT or SRT subtitles whose captions are the smoothed emotion, so a person
can watch a recording's emotion over its video.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from typing import Sequence

from ser_jax.predict.results import Prediction, Timeline

FORMATS = ("table", "json", "csv", "vtt", "srt")  # vtt and srt: timelines only
SUBTITLES = ("vtt", "srt")


def format_table(predictions: Sequence[Prediction], label_names: Sequence[str]) -> str:
    """Aligned columns: file, predicted emotion, one probability column per class, seconds."""
    header = ["file", "emotion", *label_names, "seconds"]
    rows = [[p.path, p.emotion, *(f"{p.probabilities[n]:.3f}" for n in label_names), f"{p.seconds:.2f}"]
            for p in predictions]
    return _aligned(header, rows)


def _aligned(header: list[str], rows: list[list[str]], left: tuple[int, ...] = (0, 1)) -> str:
    """Columns padded to one width: those in ``left`` (names) left-aligned, the others (numbers) right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_json(predictions: Sequence[Prediction]) -> str:
    return json.dumps([dataclasses.asdict(p) for p in predictions], indent=2)


def format_csv(predictions: Sequence[Prediction], label_names: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "emotion", "seconds", *label_names])
    for p in predictions:
        w.writerow([p.path, p.emotion, f"{p.seconds:.3f}", *(f"{p.probabilities[n]:.6f}" for n in label_names)])
    return buf.getvalue().rstrip("\n")


def render(predictions: Sequence[Prediction], label_names: Sequence[str], fmt: str) -> str:
    if fmt in SUBTITLES:
        raise ValueError(f"--format={fmt}: subtitles are for --timeline; files are printed as table, json or csv")
    if fmt == "json":
        return format_json(predictions)
    if fmt == "csv":
        return format_csv(predictions, label_names)
    if fmt == "table":
        return format_table(predictions, label_names)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")



# ------------------------------------------------------------------------------------------------
# Timelines


def _clock(seconds: float, sep: str) -> str:
    """HH:MM:SS.mmm (``sep`` before the milliseconds: "." for WebVTT, "," for SRT)."""
    ms = int(round(seconds * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def timeline_table(tl: Timeline) -> str:
    """The recording as a header line and one row per segment: times, emotion, probabilities, smoothed."""
    names = tl.label_names
    header = ["start", "end", "emotion", *names, "smoothed"]
    rows = [[f"{s.start:.2f}", f"{s.end:.2f}", s.emotion, *(f"{s.probabilities[n]:.3f}" for n in names),
             s.smoothed_emotion] for s in tl.segments]
    head = (f"# {tl.path}: {tl.seconds:.1f} s, {tl.speech_seconds:.1f} s of speech in {len(tl.speech)} stretch(es), "
            f"{len(tl.segments)} segment(s)" + (f"; note: {tl.note}" if tl.note else ""))
    return head + ("\n" + _aligned(header, rows, left=(2, len(header) - 1)) if rows else "")


def timeline_csv(timelines: Sequence[Timeline]) -> str:
    """One row per segment of every recording: path, times, emotion, probabilities, then the smoothed track."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    names = timelines[0].label_names if timelines else ()
    w.writerow(["path", "start", "end", "emotion", *names, "smoothed_emotion", *(f"smoothed_{n}" for n in names)])
    for tl in timelines:
        for s in tl.segments:
            w.writerow([tl.path, f"{s.start:.3f}", f"{s.end:.3f}", s.emotion,
                        *(f"{s.probabilities[n]:.6f}" for n in names), s.smoothed_emotion,
                        *(f"{s.smoothed[n]:.6f}" for n in names)])
    return buf.getvalue().rstrip("\n")


def subtitles(tl: Timeline, fmt: str) -> str:
    """WebVTT or SRT cues: the smoothed emotion and its probability, each segment's cue lasting until the
    next one starts (overlapping windows would otherwise stack their captions)."""
    if fmt not in SUBTITLES:
        raise ValueError(f"unknown subtitle format {fmt!r}; choose from {', '.join(SUBTITLES)}")
    sep = "." if fmt == "vtt" else ","
    lines = ["WEBVTT", ""] if fmt == "vtt" else []
    segs, cues = tl.segments, 0
    for i, s in enumerate(segs):
        end = min(s.end, segs[i + 1].start) if i + 1 < len(segs) else s.end
        if end <= s.start:
            continue
        cues += 1
        if fmt == "srt":
            lines.append(str(cues))
        lines += [f"{_clock(s.start, sep)} --> {_clock(end, sep)}",
                  f"{s.smoothed_emotion} ({s.smoothed[s.smoothed_emotion]:.2f})", ""]
    return "\n".join(lines)


def render_timelines(timelines: Sequence[Timeline], fmt: str) -> str:
    """Timelines in ``fmt``; subtitles take one recording."""
    if fmt == "json":
        return json.dumps([dataclasses.asdict(t) for t in timelines], indent=2)
    if fmt == "csv":
        return timeline_csv(timelines)
    if fmt == "table":
        return "\n\n".join(timeline_table(t) for t in timelines)
    if fmt in SUBTITLES:
        if len(timelines) != 1:
            raise ValueError(f"{fmt} subtitles describe one recording, got {len(timelines)}; use --out_dir")
        return subtitles(timelines[0], fmt)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
