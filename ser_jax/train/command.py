"""``python -m ser_jax.train``: the flags of an ExperimentConfig in, a trained run directory out."""

from __future__ import annotations

import os
import time
from pathlib import Path


def define_flags() -> None:
    from ser_jax import cli

    cli.define_data_flags()
    cli.define_feature_flags()
    cli.define_train_flags()


def main(argv: list[str]) -> int:
    from absl import flags

    from ser_jax import cli, parallel, rundir, runtime
    from ser_jax.train.loop import train_and_evaluate

    if len(argv) > 1:
        raise cli.UsageError(f"unexpected arguments {argv[1:]}; pass everything as --flags")
    FLAGS = flags.FLAGS
    parallel.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)  # before any JAX work
    cfg = cli.experiment_config_from_flags()
    runtime.enable_compilation_cache(runtime.compilation_cache_dir(FLAGS.jax_cache, Path(cfg.cache_dir) / "xla"))
    run_dir = FLAGS.run_dir or os.path.join(
        "runs", f"{cfg.split.protocol}-{cfg.features.recipe}-{time.strftime('%Y%m%d-%H%M%S')}")
    result = train_and_evaluate(cfg, run_dir, resume=FLAGS.resume, overwrite=FLAGS.overwrite)
    if not parallel.is_primary():
        return 0
    print()
    print((Path(result.run_dir) / rundir.REPORT).read_text())
    print(f"run directory: {result.run_dir}  (report.txt, metrics.json, confusion_matrix.png)")
    print(f"TensorBoard:   .venv/bin/tensorboard --logdir {os.path.dirname(os.path.abspath(result.run_dir))}")
    return 0
