"""Does a long recording give a speaker-normalised model its speaker statistics? (issue 36's experiment)

For every fold of a k-fold speaker-independent run, each test actor's speech clips are joined, in a
seeded random order with pauses of 0.5-1.5 s, into one recording (at the corpus' rate). Three ways
to predict the same speech with the fold's checkpoint (chosen on its validation speakers, as trained):

- timeline: ``model.timeline(recording)``; the recording's own segments give the speaker statistics;
  a segment's truth is the clip it overlaps most. Per-segment accuracy and UAR, and per-clip (the
  mean probabilities of a clip's segments);
- clips with speaker statistics: each clip as a file, the actor's clips as one speaker (its folder):
  the run's own test evaluation;
- clips without: each clip as a file alone (the training statistics: the single-clip case).

    .venv/bin/python tools/timeline_experiment.py --data_dir=../shared/data/ravdess-dev \\
        --run=runs/whisper_unseen [--folds=0,1,2,3,4 --seed=0 --part=test|val --set context=0.5]

Prints a Markdown table (mean over actors +- std, and pooled) and writes per-actor rows as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf


def _acc(predictions, y: list[int], labels: list[str]) -> float | None:
    if predictions[0] is None:
        return None
    return float(np.mean([labels.index(p.emotion) == t for p, t in zip(predictions, y)]))


def main() -> int:
    from ser_jax import runtime

    runtime.setup_process()
    from ser_jax import predict, report
    from ser_jax.testing import recordings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data_dir", required=True)
    ap.add_argument("--run", required=True, help="a k-fold run directory (fold_<k>/ inside)")
    ap.add_argument("--folds", default="", help="comma-separated folds (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="", help="JSON of the per-actor rows")
    ap.add_argument("--part", default="test", choices=("test", "val"),
                    help="the fold's test actors, or its validation actors (to choose timeline settings on)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a TimelineConfig field, e.g. --set context=0.5 (repeatable)")
    ap.add_argument("--timeline_only", action="store_true", help="skip the two clip-level predictions")
    ap.add_argument("--order", default="shuffled", choices=("shuffled", "emotion"),
                    help="clips in a random order, or in blocks of one emotion (shuffled within; a mood that lasts)")
    ap.add_argument("--actors", default="", help="comma-separated actor folders to use (default: all of the part)")
    ap.add_argument("--plot", default="", help="a folder: each recording's timeline drawn there as <actor>.png")
    args = ap.parse_args()
    config = predict.TimelineConfig(**{k: float(v) for k, v in (a.split("=", 1) for a in args.set)})
    folds = sorted(Path(args.run).glob("fold_*"), key=lambda p: int(p.name.split("_")[1]))
    if args.folds:
        folds = [f for f in folds if f.name.split("_")[1] in args.folds.split(",")]
    if not folds:
        raise SystemExit(f"error: --run={args.run}: no fold_<k> folders")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ser_jax-timeline-exp-") as tmp:
        for fold in folds:
            metrics = json.loads((fold / "metrics.json").read_text())
            tp = metrics[f"{args.part}_predictions"]
            labels = metrics["label_names"]
            by_actor: dict[str, list[tuple[str, int]]] = {}
            for rel, y in zip(tp["paths"], tp["y_true"]):
                by_actor.setdefault(Path(rel).parent.name, []).append((os.path.join(args.data_dir, rel), int(y)))
            model = predict.load(fold)
            for actor, clips in sorted(by_actor.items()):
                if args.actors and actor not in args.actors.split(","):
                    continue
                rng = random.Random(f"{args.seed}-{actor}")
                clips = list(clips)
                rng.shuffle(clips)
                if args.order == "emotion":
                    blocks = sorted({y for _, y in clips})
                    rng.shuffle(blocks)
                    clips = sorted(clips, key=lambda c: blocks.index(c[1]))
                truth = dict(clips)
                sr = sf.info(clips[0][0]).samplerate
                rec = Path(tmp) / f"{actor}.flac"
                placed = recordings.join([c for c, _ in clips], [rng.uniform(0.5, 1.5) for _ in clips], rec, sr)
                tl = model.timeline(rec, config)
                if args.plot:
                    from ser_jax.predict.plot import plot_timeline

                    plot_timeline(tl, Path(args.plot) / f"{actor}.png",
                                  title=f"{actor} of ravdess-dev ({fold.name} {args.part} actor), {len(clips)} clips "
                                        f"joined ({args.order}); {Path(args.run).name}",
                                  truth=[(*p.seconds, labels[truth[p.source]]) for p in placed])
                seg_true, seg_pred, clip_probs = [], [], {}
                for s in tl.segments:
                    a, b = round(s.start * sr), round(s.end * sr)
                    overlap = [max(0, min(b, p.stop) - max(a, p.start)) for p in placed]
                    if max(overlap) == 0:
                        continue
                    src = placed[int(np.argmax(overlap))].source
                    seg_true.append(truth[src])
                    seg_pred.append(labels.index(s.emotion))
                    clip_probs.setdefault(src, []).append(list(s.probabilities.values()))
                judged = [c for c, _ in clips if c in clip_probs]
                tl_clip_pred = [int(np.argmax(np.mean(clip_probs[c], axis=0))) for c in judged]
                y = [truth[c] for c, _ in clips]
                if args.timeline_only:
                    with_stats = alone = [None] * len(clips)
                else:
                    with_stats = model.predict_files([c for c, _ in clips])  # one actor: one speaker
                    alone = [model.predict_file(c) for c, _ in clips]
                row = {
                    "fold": fold.name, "actor": actor, "clips": len(clips), "seconds": tl.seconds,
                    "segments": len(tl.segments), "clips_judged": len(judged),
                    "segment_acc": float(np.mean(np.equal(seg_true, seg_pred))), "segment_uar": report.compute_metrics(seg_true, seg_pred, labels)["uar"],
                    "timeline_clip_acc": float(np.mean(np.equal([truth[c] for c in judged], tl_clip_pred))),
                    # every clip counted: one without a segment of its own (its speech not found) as wrong
                    "timeline_all_clips_acc": float(np.sum(np.equal([truth[c] for c in judged], tl_clip_pred))
                                                    / len(clips)),
                    "clip_acc_speaker": _acc(with_stats, y, labels), "clip_acc_alone": _acc(alone, y, labels),
                    "note": tl.note,
                }
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    print(f"{args.part} actors of {len(folds)} fold(s) of {args.run}; timeline settings {config}")
    keys = [("segment_acc", "timeline: per-segment accuracy (per-recording statistics)"),
            ("segment_uar", "timeline: per-segment UAR"),
            ("timeline_clip_acc", "timeline: per-clip accuracy (mean of a clip's segments)"),
            ("timeline_all_clips_acc", "timeline: per-clip accuracy, a clip without a segment counted wrong"),
            ("clip_acc_speaker", "clips as files, the actor's clips as speaker statistics"),
            ("clip_acc_alone", "clips as files, each alone (training statistics)")]
    print(f"{len(rows)} actors, {sum(r['clips'] for r in rows)} clips, {sum(r['segments'] for r in rows)} segments")
    print("| prediction | mean over actors +- std | min - max |")
    print("|---|---:|---:|")
    for k, name in keys:
        if rows[0][k] is None:
            continue
        v = np.asarray([r[k] for r in rows]) * 100
        print(f"| {name} | {v.mean():.2f} +- {v.std():.2f} | {v.min():.1f} - {v.max():.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
