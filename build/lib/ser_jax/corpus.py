"""``python -m ser_jax.corpus PATH [--corpus=NAME]``: what a corpus reader finds under PATH.

Prints the reader chosen (and why, when auto-detected), counts per emotion, speaker and gender
(and channel where the corpus has one), and every file passed over with the reason. The readers
themselves live in :mod:`ser_jax.corpora`.
"""

from __future__ import annotations

import sys

from ser_jax import corpora

USAGE = (f"usage: python -m ser_jax.corpus PATH [--corpus=NAME]   (PATH: a corpus folder or a manifest .csv/.tsv; "
         f"NAME: auto or one of {', '.join(corpora.READERS)})")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    reader = "auto"
    for a in [a for a in args if a.startswith("--corpus=")]:
        reader = a.split("=", 1)[1]
        args.remove(a)
    if len(args) != 1 or args[0] in ("-h", "--help") or args[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        corpus = corpora.read(args[0], reader)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(corpus.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
