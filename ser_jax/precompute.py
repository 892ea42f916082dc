"""``python -m ser_jax.precompute --data_dir=DIR[,DIR2] [--corpus=auto] [--recipe=fast ...]``: build or update
feature caches.

A cache holds every default feature group (plus the optional groups --feature_groups names), so it is
the very cache a training with the same feature flags reads.

Computes only what is new or changed, in parallel, with a progress bar; bad files are recorded and
reported, never fatal. Interrupt it at any time and run it again to resume.
"""

from __future__ import annotations

from absl import flags

from ser_jax import cache as cache_lib
from ser_jax import cli, corpora

FLAGS = flags.FLAGS


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise cli.UsageError(f"unexpected arguments {argv[1:]}; pass everything as --flags")
    data_dirs = cli.require_data("data_dir")
    readers = cli.corpus_readers(len(data_dirs))
    cfg = cli.feature_config_from_flags()
    for data_dir, reader in zip(data_dirs, readers):  # one cache per corpus
        corpus = corpora.read(data_dir, reader)
        print(corpus.summary(), flush=True)
        summary = cache_lib.build(corpus, cfg, FLAGS.cache_dir, workers=FLAGS.workers, wait=FLAGS.wait)
        print(summary)
    return 0


def define_flags() -> None:
    cli.define_data_flags()
    cli.define_feature_flags()
    flags.DEFINE_boolean("wait", False, "If another precompute is writing the same cache, wait for it "
                         "instead of stopping.")


if __name__ == "__main__":
    import sys

    cli.run_command(sys.modules[__name__])
