"""Write a manifest of a corpus in which every N clips of a speaker get a speaker id of their own.

The check of issue 34 item 2: speaker normalisation must not hurt when speakers have only a few
clips. Clips of each real speaker are taken in file order (RAVDESS: emotion, intensity, statement,
repetition), so two clips sharing a pseudo-speaker are often of one emotion: the worst case for
standardising a speaker by its own clips.

    .venv/bin/python tools/few_clip_speakers.py ../shared/data/ravdess-dev /tmp/ravdess_pairs.csv --clips=2
    .venv/bin/python -m ser_jax.train --flagfile=whisper_unseen --data_dir=/tmp/ravdess_pairs.csv ...
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from ser_jax import corpora


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", help="a corpus folder (any reader ser_jax knows)")
    parser.add_argument("out", help="the manifest to write (.csv)")
    parser.add_argument("--clips", type=int, default=2, help="clips per pseudo-speaker (default 2)")
    parser.add_argument("--channels", default="speech", choices=("speech", "song", "both"))
    args = parser.parse_args(argv)
    if args.clips < 1:
        parser.error(f"--clips={args.clips}: must be at least 1")
    try:
        corpus = corpora.read(args.data_dir, "auto")
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    by_speaker: dict[str, list] = {}
    for rec in corpus.records:
        channel = getattr(rec, "channel", "speech") or "speech"
        if args.channels in ("both", channel):
            by_speaker.setdefault(rec.speaker, []).append((rec, channel))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "emotion", "speaker", "gender", "channel"])
        for speaker, recs in sorted(by_speaker.items()):
            recs.sort(key=lambda r: str(r[0].path))
            for i, (rec, channel) in enumerate(recs):
                pseudo = f"{speaker.split(':')[-1]}_{i // args.clips:03d}"
                w.writerow([str(Path(rec.path).resolve()), rec.emotion, pseudo, rec.gender or "", channel])
                rows += 1
    print(f"{out}: {rows} clips, {len(by_speaker)} speakers split into pseudo-speakers of {args.clips} clips")
    return 0


if __name__ == "__main__":
    sys.exit(main())
