"""``python -m ser_jax.precompute --data_dir=DIR[,DIR2] [--corpus=auto] [--recipe=fast ...]``: build or update
feature caches.

A cache holds every default feature group (plus the optional groups --feature_groups names), so it is
the very cache a training with the same feature flags reads.

Computes only what is new or changed, in parallel, with a progress bar; bad files are recorded and
reported, never fatal. Interrupt it at any time and run it again to resume. Several machines (or
the array jobs of a cluster scheduler) build one cache together with ``--shard=K/N`` each, then one
``--merge_shards=N``.
"""

from __future__ import annotations

from absl import flags

from ser_jax import cli, config, corpora
from ser_jax.cache import build as cache_build
from ser_jax.cache import shards as cache_shards

FLAGS = flags.FLAGS


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise cli.UsageError(f"unexpected arguments {argv[1:]}; pass everything as --flags")
    try:
        data_dirs, readers = config.data_sources(cli.require_data("data_dir"), FLAGS.corpus)
    except ValueError as e:
        raise cli.UsageError(str(e)) from None
    cfg = cli.feature_config_from_flags()
    if FLAGS.shard and FLAGS.merge_shards:
        raise cli.UsageError("--shard and --merge_shards: give one (compute a shard, or merge finished shards)")
    try:
        shard = cache_shards.parse_shard(FLAGS.shard) if FLAGS.shard else None
    except ValueError as e:
        raise cli.UsageError(str(e)) from None
    if FLAGS.merge_shards is not None and FLAGS.merge_shards < 1:
        raise cli.UsageError(f"--merge_shards={FLAGS.merge_shards}: the number of shards, at least 1")
    kw = {"workers": FLAGS.workers, "wait": FLAGS.wait}
    for data_dir, reader in zip(data_dirs, readers):  # one cache per corpus
        corpus = corpora.read(data_dir, reader)
        print(corpus.summary(), flush=True)
        if shard:
            summary = cache_shards.build_shard(corpus, cfg, FLAGS.cache_dir, shard, **kw)
        elif FLAGS.merge_shards:
            summary = cache_shards.merge_shards(corpus, cfg, FLAGS.cache_dir, FLAGS.merge_shards, **kw)
        else:
            summary = cache_build.build(corpus, cfg, FLAGS.cache_dir, **kw)
        print(summary)
    return 0


def define_flags() -> None:
    cli.define_data_flags()
    cli.define_feature_flags()
    flags.DEFINE_boolean("wait", False, "If another precompute is writing the same cache, wait for it "
                         "instead of stopping.")
    cli.group("sharding (several machines or cluster jobs build one cache)")
    flags.DEFINE_string("shard", "", "K/N: compute only shard K (1-based) of N, a disjoint, deterministic slice of "
                        "the corpus, into a part beside the cache (resumable); then --merge_shards=N.")
    flags.DEFINE_integer("merge_shards", None, "N: write the cache from the N finished shards (the same cache a "
                         "single precompute writes) and remove the parts.")
    cli.group(None)


if __name__ == "__main__":
    import sys

    cli.run_command(sys.modules[__name__])
