"""A synthetic emotional speech and song corpus in the RAVDESS layout and naming.

Tests, demos and CI need audio whose emotion is really carried by the signal, yet must
not depend on the (licensed, large) RAVDESS corpus. This module writes one: every file
is a source-filter "voice" (glottal pulses through formant resonators, with consonant
noise) whose prosody depends on the emotion, the intensity, the actor and the file, so a
classifier can learn the emotions but not perfectly (neutral and calm overlap, as do
fearful and surprised). Song holds notes with vibrato on a melody.

Every file draws its random numbers from ``(seed, its name fields)`` only, so a file is
byte-identical whichever other files are generated, and in whichever process.

``python -m ser_jax.synth --out DIR [--actors 8 --seed 0 --sample_rate 48000 ...]``
"""

from __future__ import annotations

import time

from ser_jax.synth.corpus import synthesize
from ser_jax.synth.design import CHANNEL_FOLDERS, BadArgument


def define_flags() -> None:
    from absl import flags

    flags.DEFINE_string("out", None, "Directory to write the corpus into (created if missing).")
    flags.DEFINE_integer("actors", 8, "Number of actors.")
    flags.DEFINE_integer("first_actor", 1, "Number of the first actor (odd = male).")
    flags.DEFINE_integer("seed", 0, "Seed; the same seed gives byte-identical files.")
    flags.DEFINE_integer("sample_rate", 48000, "Sample rate in Hz (RAVDESS is 48000).")
    flags.DEFINE_list("channels", ["speech", "song"], "Vocal channels to write: speech, song.")
    flags.DEFINE_list("emotions", [], "Emotions to write (names or codes 1-8); empty = all.")
    flags.DEFINE_float("stereo_fraction", 0.05, "Fraction of files written as stereo.")
    flags.DEFINE_integer("workers", 1, "Processes to synthesise with.")
    flags.mark_flag_as_required("out")


def main(argv: list[str]) -> int:
    import sys

    from absl import flags

    FLAGS = flags.FLAGS
    if len(argv) > 1:
        print(f"error: unexpected arguments {' '.join(argv[1:])}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        paths = synthesize(
            FLAGS.out,
            actors=FLAGS.actors,
            seed=FLAGS.seed,
            sample_rate=FLAGS.sample_rate,
            channels=FLAGS.channels,
            first_actor=FLAGS.first_actor,
            emotions=FLAGS.emotions or None,
            stereo_fraction=FLAGS.stereo_fraction,
            workers=FLAGS.workers,
            progress=True,
        )
    except BadArgument as e:
        print(f"error: --{e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    n_song = sum(CHANNEL_FOLDERS["song"] in str(p) for p in paths)
    print(
        f"wrote {len(paths)} files ({len(paths) - n_song} speech + {n_song} song, "
        f"actors {FLAGS.first_actor:02d}-{FLAGS.first_actor + FLAGS.actors - 1:02d}, "
        f"{FLAGS.sample_rate} Hz, seed {FLAGS.seed}) to {FLAGS.out} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0
