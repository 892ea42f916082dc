"""``python -m ser_jax.precompute --data_dir=DIR [--recipe=fast ...]``: build or update a feature cache.

Computes only what is new or changed, in parallel, with a progress bar; bad files are recorded and
reported, never fatal. Interrupt it at any time and run it again to resume.
"""

from __future__ import annotations

from absl import flags

from ser_jax import cache as cache_lib
from ser_jax import cli
from ser_jax import corpus as corpus_lib

FLAGS = flags.FLAGS


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise cli.UsageError(f"unexpected arguments {argv[1:]}; pass everything as --flags")
    data_dir = cli.require_dir("data_dir")
    cfg = cli.feature_config_from_flags()
    corpus = corpus_lib.discover(data_dir)
    print(corpus.summary(), flush=True)
    summary = cache_lib.build(corpus, cfg, FLAGS.cache_dir, workers=FLAGS.workers, wait=FLAGS.wait)
    print(summary)
    return 0


if __name__ == "__main__":
    cli.define_data_flags()
    cli.define_feature_flags()
    flags.DEFINE_boolean("wait", False, "If another precompute is writing the same cache, wait for it "
                         "instead of stopping.")
    cli.run(main)
