"""Named fault-injection points, so the reliability tests can kill a run exactly where it hurts.

``SER_JAX_FAULT=NAME:N`` in the environment makes the process SIGKILL itself the N-th time it
reaches ``point(NAME)`` (N defaults to 1). Unset, a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_reached: dict[str, int] = {}


def point(name: str) -> None:
    spec = os.environ.get("SER_JAX_FAULT")
    if not spec:
        return
    target, _, n = spec.partition(":")
    if target != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] == int(n or 1):
        os.kill(os.getpid(), signal.SIGKILL)
