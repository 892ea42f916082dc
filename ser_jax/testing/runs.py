"""Training runs for tests: one run whole, and the same run cut inside its second epoch and resumed.

A resumed run must equal an uninterrupted one (the invariant several tests check, for every model and
for encoder features); this is the one place that knows how to cut a run where it hurts.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def whole_and_resumed(cfg: Any, tmp_path: Path, monkeypatch: Any) -> tuple[dict, dict]:
    """The metrics of ``cfg`` trained at ``tmp_path/full`` and of the same run at ``tmp_path/cut``,
    interrupted (KeyboardInterrupt) two steps into its second epoch and resumed with ``resume=True``."""
    import pytest

    from ser_jax.train import loop as train_lib

    full = train_lib.train_and_evaluate(cfg, tmp_path / "full", progress=False).metrics
    calls, step = {"n": 0}, train_lib.train_step
    stop_at = math.ceil(full["n_train"] / cfg.train.batch_size) + 2  # inside the second epoch

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == stop_at:
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    monkeypatch.setattr(train_lib, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_lib.train_and_evaluate(cfg, tmp_path / "cut", progress=False)
    monkeypatch.undo()
    resumed = train_lib.train_and_evaluate(cfg, tmp_path / "cut", resume=True, progress=False).metrics
    return full, resumed
