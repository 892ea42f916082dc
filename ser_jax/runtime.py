"""Process-wide setup, done by entry points (``python -m ser_jax.<command>``, ``ser-jax``) only.

Importing a library module of ser_jax changes nothing in the importing process; a command sets up
its own process before JAX is imported. ``SER_JAX_PROCESS_SETUP=0`` turns the setup off.
"""

from __future__ import annotations

import os
import sys

done = False  # whether setup_process() ran in this process (tests read it)
jax_loaded_before_setup = False  # whether JAX was imported before it (too late for the malloc setting)


def setup_process() -> None:
    """Once per process, before JAX is imported: the malloc setting (see below)."""
    global done, jax_loaded_before_setup
    if done or os.environ.get("SER_JAX_PROCESS_SETUP", "1") == "0":
        return
    done = True
    jax_loaded_before_setup = "jax" in sys.modules
    _keep_freed_memory_in_process()


def _keep_freed_memory_in_process() -> None:
    """Ask glibc to keep 64 MiB of freed heap instead of returning it to the OS at every free.

    XLA's CPU runtime allocates and frees the same large temporaries at every train step; by
    default glibc hands them back to the kernel and the next step faults the pages in again,
    which costs about a third of a step here (measured: 25 -> 17 ms per seed-model step). It must
    run before JAX is imported to take effect; on a C library without mallopt it does nothing.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-2, 64 << 20)  # M_TOP_PAD
    except (OSError, AttributeError):
        pass


def compilation_cache_dir(flag_value: str, default: str | os.PathLike) -> str | None:
    """The folder ``--jax_cache`` names: '' = ``default``, 'off' = no persistent cache."""
    if flag_value.strip().lower() in ("off", "none", "no", "false", "0"):
        return None
    return os.path.expanduser(flag_value) if flag_value else os.fspath(default)


def user_cache_dir() -> str:
    """~/.cache/ser_jax (or $XDG_CACHE_HOME/ser_jax): for commands that have no --cache_dir."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "ser_jax")


def enable_compilation_cache(path: str | None) -> None:
    """JAX's persistent compilation cache: a second identical run or predict skips XLA compilation.

    The environment (JAX_COMPILATION_CACHE_DIR) wins, so tests and the experiment runner share one.
    """
    if path is None or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", os.path.abspath(path))
    # Everything that took a second to compile is worth a file; tiny programs are not.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def host() -> dict:
    """The CPU a run computes on: model, the cores this process may use, the vector instruction set,
    and XLA_FLAGS (which may cap the instruction set): what XLA's CPU results depend on."""
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not model:
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    isa = next((name for name, flag in (("AVX512", "avx512f"), ("AVX2", "avx2"), ("AVX", "avx"), ("SSE4_2", "sse4_2"))
                if flag in flags), "")
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 0
    return {"cpu": model, "cores": cores, "cpu_count": os.cpu_count() or 0, "isa": isa,
            "xla_flags": os.environ.get("XLA_FLAGS", "")}
