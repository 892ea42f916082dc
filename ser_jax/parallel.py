"""Data parallelism over the local devices with ``jax.sharding``: JAX's own runtime, no code of ours.

A 1-D ``Mesh`` over the devices (axis ``data``); each batch is split on its leading axis, the
parameters, optimiser state and the device-resident data set are replicated. XLA's partitioner
then runs one program per device and inserts the all-reduces: gradients and BatchNorm's batch
statistics are those of the global batch, so N devices compute what one device computes, up to
the order of floating-point sums. The batch size stays global and must divide by the device count.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "data"


def make_mesh(devices: int = 0) -> Mesh | None:
    """A mesh over the first ``devices`` local devices (0: all); None for a single device."""
    available = jax.local_devices()
    n = devices or len(available)
    if n > len(available):
        raise ValueError(f"--devices={devices}: only {len(available)} local device(s) visible "
                         f"({available[0].platform}); use at most {len(available)}, or 0 for all")
    if n < 1:
        raise ValueError(f"--devices={devices}: must be >= 0 (0 = every visible device)")
    return None if n == 1 else Mesh(np.asarray(available[:n]), (AXIS,))


def batch_sharding(mesh: Mesh | None) -> NamedSharding | None:
    """Arrays whose leading axis is the batch: split over the devices."""
    return None if mesh is None else NamedSharding(mesh, P(AXIS))


def replicated(mesh: Mesh | None) -> NamedSharding | None:
    return None if mesh is None else NamedSharding(mesh, P())


def check_batch_size(batch_size: int, mesh: Mesh | None, flag: str = "--batch_size") -> None:
    n = 1 if mesh is None else mesh.size
    if batch_size % n:
        raise ValueError(f"{flag}={batch_size} does not divide into the {n} devices the batch is split over; "
                         f"use a multiple of {n} (e.g. {n * max(1, round(batch_size / n))}) or --devices=1")


def put(tree, sharding: NamedSharding | None):
    """``tree`` on the devices with ``sharding`` (unchanged placement for a single device)."""
    return tree if sharding is None else jax.device_put(tree, sharding)
