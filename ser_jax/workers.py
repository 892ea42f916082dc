"""Feature worker processes: where librosa's numba code and native decoders run, so that a crash
in them costs one clip, never a run, and never happens in a process that has loaded JAX.

Why a fresh interpreter (``python -m ser_jax.workers``) and not a multiprocessing child: spawn
re-imports the parent's main module, and for ``python -m ser_jax.train`` that imports JAX, whose
bundled LLVM then shares the process with numba's. Such processes have died compiling librosa's
gufuncs, and numba cache files written beside librosa once made every later process segfault. So a
worker imports numpy, soundfile and librosa only, and keeps numba's compiled code in a cache folder
of its own (:func:`numba_cache_dir`), wiped whenever a worker dies so that a poisoned entry costs
one recompilation.

Tasks go to idle workers one at a time over a pipe. A worker that dies (a signal, the OOM killer,
``os._exit``) is replaced; its task is retried once in the fresh worker, and if that one dies too,
the task's outcome is an error naming the signal or exit code. Workers end with their parent however
it ends: the kernel kills them when it dies (Linux), they exit at the end of their input, and a
watch thread exits when the parent's pid changes.

The pool is per process and kept between calls (a worker starts in about 2 s), so predicting file
after file or building cache after cache pays for the start once.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import dataclasses
import importlib
import json
import os
import pickle
import select
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

RETRIES = 1  # a task whose worker died is tried once more in a fresh worker
FAULT_ENV = "SER_JAX_FAULT"  # a fault point for tests, see _maybe_fault
NUMBA_CACHE_ENV = "SER_JAX_NUMBA_CACHE_DIR"
_HEADER = struct.Struct(">Q")


class WorkerError(RuntimeError):
    """A task that raised in its worker, or whose workers died: one line saying which and why."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one task: its value, or the one-line reason it has none."""

    key: Any
    value: Any = None
    error: str = ""


def numba_cache_dir() -> Path:
    """Where workers keep numba's compiled code: ser_jax's own folder, not librosa's site-packages one."""
    if os.environ.get(NUMBA_CACHE_ENV):
        return Path(os.environ[NUMBA_CACHE_ENV])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ser_jax" / f"numba-py{sys.version_info.major}{sys.version_info.minor}"


def death_reason(returncode: int | None) -> str:
    """'SIGSEGV, signal 11' or 'exit code 3': how a worker ended."""
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "signal"
        return f"{name}, signal {-returncode}"
    return f"exit code {returncode}"


# ------------------------------------------------------------------------------------------------
# The parent's side


class _Worker:
    def __init__(self, env: dict[str, str]):
        self.proc = subprocess.Popen([sys.executable, "-m", "ser_jax.workers"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, close_fds=True)
        self.fd = self.proc.stdout.fileno()
        self.buffer = bytearray()
        self.task: tuple[int, Any, tuple] | None = None

    def send(self, message: tuple) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.write(_HEADER.pack(len(data)) + data)
        self.proc.stdin.flush()

    def replies(self) -> list[tuple] | None:
        """The complete replies read so far; None at end of output (the worker is gone)."""
        data = os.read(self.fd, 1 << 20)
        if not data:
            return None
        self.buffer += data
        out = []
        while len(self.buffer) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(self.buffer)
            if len(self.buffer) < _HEADER.size + n:
                break
            out.append(pickle.loads(bytes(self.buffer[_HEADER.size : _HEADER.size + n])))
            del self.buffer[: _HEADER.size + n]
        return out

    def end(self, kill: bool = False) -> int | None:
        """Stops the worker (at once when ``kill``); its exit status."""
        with contextlib.suppress(OSError):
            if kill:
                self.proc.kill()
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=None if kill else 5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            with contextlib.suppress(OSError):
                self.proc.stdout.close()


class Pool:
    """Up to ``size`` workers, started when first needed and kept until :meth:`close`."""

    def __init__(self) -> None:
        self.idle: list[_Worker] = []
        self.lock = threading.RLock()
        self.env_signature: tuple = ()

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        env["NUMBA_CACHE_DIR"] = str(numba_cache_dir())
        env["SER_JAX_WORKER_PARENT"] = str(os.getpid())
        env["SER_JAX_PROCESS_SETUP"] = "0"
        # One BLAS thread per worker: the matrices are small and parallelism is across workers
        # (set before numpy loads, which features' per-clip limit cannot do).
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
        return env

    def _reset_if_env_changed(self) -> None:
        signature = (str(numba_cache_dir()), os.environ.get("PYTHONPATH", ""), sys.executable)
        if signature != self.env_signature:
            self.close()
            self.env_signature = signature

    def run(self, fn: str, tasks: Iterable[tuple[Any, tuple]], workers: int) -> Iterator[Outcome]:
        """Outcomes of ``fn(*args)`` ('module:function') for each (key, args), in completion order.

        A task that raises gives an Outcome with the exception's one line; one whose worker died
        twice an Outcome naming how. Leaving the loop early stops the workers still computing.
        """
        with self.lock:
            self._reset_if_env_changed()
            yield from self._run(fn, list(tasks), max(1, workers))

    def _run(self, fn: str, tasks: list[tuple[Any, tuple]], workers: int) -> Iterator[Outcome]:
        fault = os.environ.get(FAULT_ENV, "")
        queue = collections.deque((i, key, args) for i, (key, args) in enumerate(tasks))
        deaths: collections.Counter[int] = collections.Counter()
        wiped = False
        busy: dict[int, _Worker] = {}  # fd -> worker
        env = self._env()
        try:
            while queue or busy:
                while queue and len(busy) < workers:
                    worker = self.idle.pop() if self.idle else _Worker(env)
                    worker.task = queue.popleft()
                    try:
                        worker.send((worker.task[0], fn, worker.task[2], fault))
                    except OSError:  # died while idle (e.g. killed by hand): not the task's fault
                        queue.appendleft(worker.task)
                        worker.end(kill=True)
                        continue
                    busy[worker.fd] = worker
                ready, _, _ = select.select(list(busy), [], [])
                for fd in ready:
                    worker = busy[fd]
                    replies = worker.replies()
                    if replies is None:  # the worker died computing its task
                        del busy[fd]
                        reason = death_reason(worker.end(kill=True))
                        if not wiped:  # a poisoned numba entry goes with the first death (later ones: the clips')
                            shutil.rmtree(numba_cache_dir(), ignore_errors=True)
                            wiped = True
                        index, key, args = worker.task
                        deaths[index] += 1
                        if deaths[index] <= RETRIES:
                            queue.appendleft(worker.task)
                        else:
                            yield Outcome(key, error=f"its feature worker died, {deaths[index]} times ({reason}); "
                                                     "skipped")
                        continue
                    for _, ok, value in replies:
                        _, key, _ = worker.task
                        worker.task = None
                        del busy[fd]
                        self.idle.append(worker)
                        yield Outcome(key, value) if ok else Outcome(key, error=value)
        finally:
            for worker in busy.values():  # interrupted: their results would reach the next run
                worker.end(kill=True)

    def close(self) -> None:
        while self.idle:
            self.idle.pop().end()


_POOL = Pool()
atexit.register(_POOL.close)


def run(fn: str, tasks: Iterable[tuple[Any, tuple]], workers: int) -> Iterator[Outcome]:
    """:meth:`Pool.run` on this process's pool."""
    return _POOL.run(fn, tasks, workers)


def call(fn: str, *args: Any) -> Any:
    """``fn(*args)`` in a worker; WorkerError with its one line if it raised or its workers died."""
    (outcome,) = list(run(fn, [(None, args)], 1))
    if outcome.error:
        raise WorkerError(outcome.error)
    return outcome.value


def close() -> None:
    """Ends this process's workers (they end with it anyway)."""
    _POOL.close()


# ------------------------------------------------------------------------------------------------
# The worker's side


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _maybe_fault(fault: str, args: tuple) -> None:
    """Tests' fault point: SER_JAX_FAULT='{"clip": NAME, "how": "segv"|"exit"|"hang", "times": N,
    "marks": DIR}' makes the worker given the file named NAME die (or hang) the first N times
    (0: every time); DIR counts the times, one file each, named by the worker's pid."""
    if not fault or not args or not isinstance(args[0], str):
        return
    spec = json.loads(fault)
    if Path(args[0]).name != spec["clip"]:
        return
    marks = Path(spec["marks"])
    marks.mkdir(parents=True, exist_ok=True)
    count = len(list(marks.iterdir()))
    if spec.get("times", 1) and count >= spec.get("times", 1):
        return
    (marks / f"{os.getpid()}-{count}").touch()
    how = spec.get("how", "segv")
    if how == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif how == "hang":
        time.sleep(3600)
    os._exit(3)


def _resolve(fn: str) -> Any:
    module, _, name = fn.partition(":")
    return getattr(importlib.import_module(module), name)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def loaded_modules() -> list[str]:
    """The worker's imported top-level modules (tests check that JAX is not among them)."""
    return sorted({name.partition(".")[0] for name in sys.modules})


def _serve() -> None:
    parent = int(os.environ.get("SER_JAX_WORKER_PARENT", os.getppid()))
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C means
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a library's print must not corrupt the replies
    inp = sys.stdin.buffer
    while True:
        header = inp.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return  # the parent closed our input: it is done with us, or gone
        (n,) = _HEADER.unpack(header)
        index, fn, args, fault = pickle.loads(inp.read(n))
        _maybe_fault(fault, args)
        try:
            reply = (index, True, _resolve(fn)(*args))
        except Exception as e:  # the task's failure, not the worker's
            reply = (index, False, _one_line(e))
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_HEADER.pack(len(data)) + data)
        out.flush()


if __name__ == "__main__":
    _serve()
