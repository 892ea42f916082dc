"""Data parallelism over devices and hosts with ``jax.sharding`` and ``jax.distributed``: JAX's own
runtime, no code of ours.

A 1-D ``Mesh`` over the devices (axis ``data``); each batch is split on its leading axis, the
parameters, optimiser state and the device-resident data set are replicated. XLA's partitioner
then runs one program per device and inserts the all-reduces: gradients and BatchNorm's batch
statistics are those of the global batch, so N devices compute what one device computes, up to
the order of floating-point sums. The batch size stays global and must divide by the device count.

Several processes (hosts): ``initialize`` joins JAX's distributed runtime (CPU devices talk over
gloo); the mesh then spans every process's devices, each process reads only its own share of every
batch (``put_batch``), and only process 0 (``is_primary``) writes the run directory; checkpoints are
written by all together (orbax's multi-process support).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "data"


def initialize(coordinator_address: str = "", num_processes: int = 1, process_id: int = 0) -> None:
    """Joins the processes of one run (``jax.distributed.initialize``); nothing for a single process.

    Must run before any other JAX call. On CPU the processes' collectives go over gloo.
    """
    if num_processes <= 1:
        return
    if not coordinator_address:
        raise ValueError(f"--num_processes={num_processes} needs --coordinator_address=HOST:PORT, where process 0 "
                         "listens (the same on every process)")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"--process_id={process_id}: must be in 0..{num_processes - 1} (one per process)")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address, num_processes=num_processes, process_id=process_id)


def is_primary() -> bool:
    """Whether this process writes the run directory, reports and TensorBoard events (process 0)."""
    return jax.process_index() == 0


def multi_process() -> bool:
    return jax.process_count() > 1


def barrier(name: str) -> None:
    """Waits until every process got here (nothing to wait for with one process)."""
    if multi_process():
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def make_mesh(devices: int = 0) -> Mesh | None:
    """A mesh over the first ``devices`` local devices (0: all); None for a single device.

    Several processes: every process's devices, always (``devices`` must be 0 or their number).
    """
    if multi_process():
        everything = jax.devices()
        if devices not in (0, len(everything)):
            raise ValueError(f"--devices={devices}: with {jax.process_count()} processes every device of every "
                             f"process is used ({len(everything)}); leave --devices at 0")
        return Mesh(np.asarray(everything), (AXIS,))
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


def replicate(tree, sharding: NamedSharding | None):
    """``tree`` (the same on every process) replicated on the mesh; from host values when there are
    several processes, since an array on one local device cannot join a multi-process computation."""
    if sharding is None:
        return tree
    if multi_process():
        tree = jax.tree_util.tree_map(np.asarray, jax.device_get(tree))
    return jax.device_put(tree, sharding)


def local_share(n: int) -> slice:
    """This process's rows of a global batch of ``n`` rows (all of them for a single process)."""
    count, index = jax.process_count(), jax.process_index()
    return slice(index * n // count, (index + 1) * n // count)


def put_batch(tree, sharding: NamedSharding | None):
    """A batch read on the host onto the devices: split over the mesh; with several processes each
    passes only its share (``local_share``) and JAX assembles the global batch."""
    if sharding is None:
        return jax.device_put(tree)
    if multi_process():
        return jax.tree_util.tree_map(lambda a: jax.make_array_from_process_local_data(sharding, np.asarray(a)), tree)
    return jax.device_put(tree, sharding)


def describe(mesh: Mesh | None) -> dict:
    """The devices a run trains on (count and kind) and its processes: recorded in config.json."""
    devices = list(mesh.devices.flat) if mesh is not None else jax.local_devices()[:1]
    return {"count": len(devices), "platform": devices[0].platform, "kind": devices[0].device_kind,
            "processes": jax.process_count()}


def format_devices(used: dict) -> str:
    processes = used["processes"]
    return (f"{used['count']} x {used['kind']} ({used['platform']}), {processes} process"
            + ("es" if processes != 1 else ""))
