"""What training one split leaves on disk: checkpoints, the epoch log, TensorBoard events, the report.

The training loop (ser_jax.train.loop) calls these and touches no file itself. Only process 0 of
a multi-process run writes files (checkpoints are written by every process together, by orbax).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ser_jax import checkpoint as ckpt_lib
from ser_jax import faults, provenance, rundir, summaries
from ser_jax import report as report_lib
from ser_jax import splits as splits_lib


class _NoWriter:
    """What processes other than 0 log to: nothing (process 0 writes the TensorBoard events)."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


class SplitRecords:
    """The directory of one split (a run, or one fold of a k-fold run) while it trains."""

    def __init__(self, directory: Path, primary: bool):
        self.dir, self.primary = directory, primary
        directory.mkdir(parents=True, exist_ok=True)
        self.checkpoints = ckpt_lib.RunCheckpoints(directory)
        self.writer: Any = _NoWriter()

    @property
    def key(self) -> str:
        """The split's name in config.json's stage hashes: "run", or its fold directory's name."""
        return "run" if rundir.run_root(self.dir) == self.dir else self.dir.name

    def started(self, cfg: Any, state: Any, resuming: bool) -> None:
        """Provenance, before the first step: the run's input hashes (corpus, feature caches; the first
        split computes them) and this split's initial parameters, added to the run's config.json (a
        resumed split keeps those of its start)."""
        if not self.primary:
            return
        root = rundir.run_root(self.dir)
        stages = {} if "features" in rundir.stage_hashes(root) else input_hashes(cfg)
        if not resuming:
            stages["init_params"] = {self.key: provenance.hash_tree({"params": state.params,
                                                                     "batch_stats": state.batch_stats})}
        rundir.add_stages(root, stages)

    def resumed(self, history: list[dict]) -> None:
        """The epoch log as the last checkpoint knows it (epochs logged after it are dropped)."""
        if self.primary:
            rundir.rewrite_history(self.dir, history)

    def begin(self, start_epoch: int, config: dict, split: splits_lib.Split) -> None:
        """TensorBoard events from ``start_epoch`` on (a fresh start: a fresh epoch log too)."""
        from tensorboardX import SummaryWriter

        if not self.primary:
            return
        if start_epoch == 0:  # a fresh start, or --resume before any epoch was checkpointed
            (self.dir / rundir.HISTORY).unlink(missing_ok=True)
        self.writer = SummaryWriter(logdir=str(self.dir), purge_step=start_epoch + 1 if start_epoch else None)
        if start_epoch == 0:
            self.writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```", 0)
            self.writer.add_text("split", ("LEAKY (early stopping on the test set): " if split.leaky else "")
                                 + split.description, 0)

    def epoch(self, row: dict) -> None:
        """One epoch's line of metrics.jsonl and its TensorBoard scalars."""
        step = row["epoch"]
        for k in ("loss", "accuracy"):
            self.writer.add_scalar(f"train/{k}", row[f"train_{k}"], step)
            self.writer.add_scalar(f"val/{k}", row[f"val_{k}"], step)
        self.writer.add_scalar("val/macro_f1", row["val_macro_f1"], step)
        self.writer.add_scalar("learning_rate", row["learning_rate"], step)
        if self.primary:
            rundir.append_history(self.dir, row)

    def close_checkpoints(self) -> None:
        self.checkpoints.close()

    def report(self, y_true: np.ndarray, y_pred: np.ndarray, label_names, *, leaky: bool, protocol: str,
               title: str, extra: dict, config: dict, epochs: int) -> dict:
        """report.txt, confusion matrices and metrics.json (last: the split is finished), and their
        TensorBoard copies; returns the metrics."""
        if self.primary and "test_predictions" in extra:
            rundir.add_stages(rundir.run_root(self.dir),
                              {"test_predictions": {self.key: provenance.hash_json(extra["test_predictions"])}})
        metrics = report_lib.write_run_report(self.dir if self.primary else None, y_true, y_pred, label_names,
                                              leaky=leaky, protocol=protocol, title=title, extra=extra)
        faults.point("after_metrics_written")
        if not self.primary:
            return metrics
        image = report_lib.png_image(self.dir / rundir.CONFUSION)  # as write_run_report drew it
        self.writer.add_image("test/confusion_matrix", image, epochs, dataformats="HWC")
        self.writer.add_text("test/report", "```\n" + (self.dir / rundir.REPORT).read_text() + "\n```", epochs)
        summaries.write_results(self.dir, config, metrics, epochs, self.writer)
        self.writer.close()
        return metrics


def input_hashes(cfg: Any) -> dict[str, dict]:
    """The corpus and feature stages of a run (an ExperimentConfig): per corpus the hash of its files
    (ser_jax.provenance.hash_files), per feature cache it reads (its copies' included) its content hash."""
    from ser_jax import corpora, perturb
    from ser_jax.cache import content
    from ser_jax.cache import format as cache_format

    variants = [("", cfg.features)] + [(f" {tag}", v) for tag, v in perturb.requested(cfg)]
    corpus_stage, feature_stage = {}, {}
    for root, reader in zip(cfg.data_dir, cfg.corpus):
        corpus = corpora.read(root, reader)
        corpus_stage[corpus.name] = {"files": len(corpus), "sha256": provenance.hash_files(
            [r.path for r in corpus.records], corpus.root)}
        for tag, features in variants:
            path = cache_format.cache_path(corpus.source, features, cfg.cache_dir)
            if path.is_file():
                feature_stage[corpus.name + tag] = content.digest(path)
    return {"corpus": corpus_stage, "features": feature_stage}
