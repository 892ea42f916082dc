"""Orbax checkpoints of a run: ``best`` (what predict uses) and ``last`` (what --resume uses).

Every checkpoint carries, beside the arrays, a JSON record with the label map, the feature and
model configs and the normalisation, so a checkpoint alone is enough to predict correctly.
Orbax writes each step to a temporary folder and renames it, and keeps the previous step until
the new one is complete, so a kill mid-save never loses the last good checkpoint; the temporary
folders of a killed save are removed when the slot is next opened.

``last`` is the source of truth of a run (it holds the best parameters too); ``best`` is written
after it, and :meth:`RunCheckpoints.save` replaces a step a killed run had already written, so a
kill between the two saves never blocks ``--resume`` (train.py re-syncs ``best`` from ``last``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from ser_jax import rundir

DIGEST_KEY = "arrays_sha256"  # in each checkpoint's metadata: the arrays as saved, verified on restore
META_DIGEST_KEY = "meta_sha256"  # and the metadata itself (all but these two keys)


def _meta_digest(meta: dict) -> str:
    body = {k: v for k, v in meta.items() if k not in (DIGEST_KEY, META_DIGEST_KEY)}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class CheckpointError(OSError):
    pass


def _manager(directory: Path) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=1, enable_async_checkpointing=False, create=True,
                                           cleanup_tmp_directories=True)
    return ocp.CheckpointManager(directory.absolute(), options=options)


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200]}" if text else type(e).__name__


def tree_digest(tree: Any) -> str:
    """SHA-256 of a tree's leaves (dtype, shape, bytes) in order: the same for a restored copy."""
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(jax.device_get(tree)):
        a = np.asarray(leaf)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


class _Quiet:
    """Keeps orbax's and asyncio's own error logs (tracebacks) off the terminal while we handle the error."""

    def __enter__(self):
        self._levels = {}
        for name in ("asyncio", "absl", "orbax", "jax"):
            lg = logging.getLogger(name)
            self._levels[name] = lg.level
            lg.setLevel(logging.CRITICAL)

    def __exit__(self, *exc):
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)


class RunCheckpoints:
    """The two checkpoint slots of one run directory (``<run>/checkpoints/{best,last}``)."""

    def __init__(self, run_dir: str | os.PathLike):
        root = Path(run_dir) / rundir.CHECKPOINTS
        with _Quiet():  # orbax logs a damaged step's metadata as it scans; restore() reports it in one line
            self._best = _manager(root / "best")
            self._last = _manager(root / "last")

    def save(self, slot: str, step: int, tree: Any, meta: dict) -> None:
        """Writes step ``step`` of the slot, replacing a step of that number a killed run left."""
        mngr = self._best if slot == "best" else self._last
        # Stop before orbax starts when the space is visibly short (its failure mid-write is noisy).
        need = 2 * sum(getattr(x, "nbytes", 8) for x in jax.tree_util.tree_leaves(tree)) + 2**20  # no host copy
        free = shutil.disk_usage(Path(mngr.directory)).free
        if free < need:
            raise CheckpointError(f"cannot write the {slot} checkpoint in {mngr.directory}: not enough disk space "
                                  f"({free / 2**20:.1f} MiB free, about {need / 2**20:.1f} MiB needed); the previous "
                                  "one is kept, free some space and run again with --resume")
        try:
            with _Quiet():
                if step in mngr.all_steps():
                    mngr.delete(step)
                meta = {**meta, DIGEST_KEY: tree_digest(tree)}
                meta[META_DIGEST_KEY] = _meta_digest(json.loads(json.dumps(meta, default=str)))
                mngr.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(tree),
                                                        meta=ocp.args.JsonSave(meta)), force=True)
                mngr.wait_until_finished()
        except Exception as e:  # a full disk or a permission problem surfaces as several types in orbax
            reason = getattr(e, "strerror", None) or _reason(e)
            raise CheckpointError(f"cannot write the {slot} checkpoint in {mngr.directory}: {reason}; the "
                                  "previous one is kept, run again with --resume once that is fixed") from None

    def has(self, slot: str) -> bool:
        return self.step(slot) is not None

    def step(self, slot: str) -> int | None:
        with _Quiet():
            return (self._best if slot == "best" else self._last).latest_step()

    def restore(self, slot: str, target: Any | None = None) -> tuple[Any, dict]:
        """(arrays, metadata) of the slot's latest step; a damaged checkpoint is a one-line CheckpointError."""
        mngr = self._best if slot == "best" else self._last
        step = self.step(slot)
        if step is None:
            raise CheckpointError(f"no '{slot}' checkpoint in {mngr.directory}")
        state_args = ocp.args.StandardRestore(target) if target is not None else ocp.args.StandardRestore()
        try:
            with _Quiet():
                out = mngr.restore(step, args=ocp.args.Composite(state=state_args, meta=ocp.args.JsonRestore()))
            if not isinstance(out["meta"], dict):
                raise ValueError("its metadata item is missing or unreadable")
            if META_DIGEST_KEY in out["meta"] and _meta_digest(out["meta"]) != out["meta"][META_DIGEST_KEY]:
                raise ValueError("its metadata does not match the checksum it was saved with")
            if DIGEST_KEY in out["meta"] and tree_digest(out["state"]) != out["meta"][DIGEST_KEY]:
                raise ValueError("its arrays do not match the checksum they were saved with")
            state, meta = out["state"], {k: v for k, v in out["meta"].items() if k not in (DIGEST_KEY, META_DIGEST_KEY)}
        except Exception as e:  # orbax, tensorstore and json raise many types for one damaged folder
            raise CheckpointError(f"{mngr.directory / str(step)} is damaged ({_reason(e)}); train that run "
                                  "again with --overwrite, or restore the folder from a copy") from None
        return state, meta

    def close(self) -> None:
        self._best.close()
        self._last.close()


def find_run_checkpoint(path: str | os.PathLike) -> Path:
    """The run directory holding a best checkpoint: ``path`` itself or its first fold."""
    path = Path(path)
    for candidate in (path, *rundir.fold_dirs(path)):
        if (candidate / rundir.CHECKPOINTS / "best").is_dir():
            return candidate
    raise CheckpointError(
        f"{path}: no checkpoints/best inside; pass the run directory that python -m ser_jax.train wrote"
    )


def find_all_checkpoints(path: str | os.PathLike) -> list[Path]:
    """Every run directory with a best checkpoint at or below path (all folds, all seeds), sorted."""
    path = Path(path)
    found = sorted({c.parent.parent for c in path.glob("**/checkpoints/best") if c.is_dir()})
    if not found:
        raise CheckpointError(f"{path}: no checkpoints/best at or below it; pass a run directory that "
                              "python -m ser_jax.train wrote (or a folder of them)")
    return found


def load_best(run_dir: str | os.PathLike) -> tuple[Any, dict]:
    """Arrays and metadata of a run's best checkpoint, for prediction."""
    ckpts = RunCheckpoints(find_run_checkpoint(run_dir))
    try:
        return ckpts.restore("best")
    finally:
        ckpts.close()
