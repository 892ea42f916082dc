"""Training and evaluation: ``python -m ser_jax.train --flagfile=NAME`` (a preset of experiments/, or a file).

    data.py     cached features + a split -> batches (on device, or read from disk), scaling, labels
    loop.py     train_step, one split trained and tested (fit_split), train_and_evaluate(config, run_dir)
    records.py  what a split leaves on disk: checkpoints, metrics.jsonl, TensorBoard, the report
    command.py  the command: flags -> ExperimentConfig -> train_and_evaluate

In a program or notebook: ``from ser_jax.train.loop import train_and_evaluate``. This file imports
nothing, so ``python -m ser_jax.train`` sets its process up (ser_jax.runtime) before JAX is loaded.
"""
