"""Features that stay on disk: rows read from the HDF5 cache batch by batch, for data larger than memory.

A ``Rows`` object looks like the (N, T, F) float32 array it stands for to the code that uses
one (``shape``, ``ndim``, ``dtype``, ``rows[index_array]``), so the statistics, corpus
concatenation, feature-group selection, perturbed copies and standardisation of the in-memory
path apply to it unchanged, row by row: the same numbers, computed when a batch is read. The
cache stores one row per HDF5 chunk with a checksum, so a batch costs ``batch_size`` chunk reads
and a damaged chunk is caught at the read that touches it.

Training reads batches in a bounded background thread (``prefetch``) while the device computes.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np

T = TypeVar("T")


class Rows:
    """An (N, T, F) float32 array read on demand; subclasses say where the rows come from."""

    shape: tuple[int, int, int]
    dtype = np.dtype(np.float32)
    ndim = 3

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __getitem__(self, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if rows.ndim != 1:
            raise TypeError(f"{type(self).__name__} is indexed by a 1-D array of row numbers, got shape {rows.shape}")
        if len(rows) and (rows.min() < -len(self) or rows.max() >= len(self)):
            raise IndexError(f"row {rows.max()} out of range for {len(self)} rows")
        return self.read(np.where(rows < 0, rows + len(self), rows))

    def read(self, rows: np.ndarray) -> np.ndarray:  # rows: int64, in range, any order, repeats allowed
        raise NotImplementedError

    def materialize(self) -> np.ndarray:
        """Every row in memory, read through the handles already open (the data fits after all)."""
        return self.read(np.arange(len(self)))


class CacheRows(Rows):
    """The ``features`` dataset of one cache file, opened on first read (once per process)."""

    def __init__(self, path: str | os.PathLike, shape: tuple[int, int, int], on_error: Callable[[str], Exception]):
        self.path, self.shape, self._on_error = str(path), tuple(shape), on_error
        self._file = None
        self._lock = threading.Lock()  # h5py serialises calls anyway; this keeps open/close safe too

    def read(self, rows: np.ndarray) -> np.ndarray:
        import h5py

        unique, inverse = np.unique(rows, return_inverse=True)  # h5py wants increasing, distinct rows
        with self._lock:
            try:
                if self._file is None:
                    self._file = h5py.File(self.path, "r")
                ds = self._file["features"]
                x = np.empty((len(unique), *self.shape[1:]), np.float32)
                for i, r in enumerate(unique):  # one chunk per row: a read per row is the fast way
                    ds.read_direct(x, np.s_[int(r)], np.s_[i])
            except (OSError, KeyError, ValueError) as e:
                raise self._on_error(f"reading rows of {self.path} failed ({type(e).__name__}: "
                                     f"{str(e).splitlines()[0] if str(e) else ''})") from None
        bad = np.flatnonzero(~np.isfinite(x).all(axis=(1, 2)))
        if len(bad):
            raise self._on_error(f"{self.path} is damaged: row {int(unique[bad[0]])} holds non-finite features")
        return x[inverse]

    def materialize(self) -> np.ndarray:
        """The whole dataset in its stored type (float16 stays float16), checked as a batch read is."""
        import h5py

        with self._lock:
            try:
                if self._file is None:
                    self._file = h5py.File(self.path, "r")
                x = self._file["features"][()]
            except (OSError, KeyError, ValueError) as e:
                raise self._on_error(f"reading {self.path} failed ({type(e).__name__}: "
                                     f"{str(e).splitlines()[0] if str(e) else ''})") from None
        bad = np.flatnonzero(~np.isfinite(x).all(axis=(1, 2))) if x.size else []
        if len(bad):
            raise self._on_error(f"{self.path} is damaged: row {int(bad[0])} holds non-finite features")
        return x

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __getstate__(self):  # picklable (worker processes open their own handle)
        return {**self.__dict__, "_file": None, "_lock": None}

    def __setstate__(self, state):
        self.__dict__.update(state, _lock=threading.Lock())


class View(Rows):
    """Some rows of a source, some of its feature columns, its frames zero-padded to ``frames``."""

    def __init__(self, source, rows: np.ndarray | None = None, cols: np.ndarray | None = None,
                 frames: int | None = None):
        n, t, f = source.shape
        self.source = source
        self.rows = None if rows is None else np.asarray(rows, np.int64)
        self.cols = None if cols is None else np.asarray(cols, np.int64)
        self.shape = (n if self.rows is None else len(self.rows), max(t, frames or t),
                      f if self.cols is None else len(self.cols))

    def read(self, rows: np.ndarray) -> np.ndarray:
        x = np.asarray(self.source[rows if self.rows is None else self.rows[rows]])
        if self.cols is not None:
            x = np.ascontiguousarray(x[:, :, self.cols])
        return pad_frames(x, self.shape[1])

    def materialize(self) -> np.ndarray:
        x = materialize(self.source)
        x = x if self.rows is None else x[self.rows]
        return pad_frames(np.ascontiguousarray(x if self.cols is None else x[:, :, self.cols]), self.shape[1])


class Stack(Rows):
    """Several sources one after the other (rows), each zero-padded to the longest's frames."""

    def __init__(self, sources: Sequence):
        if len({s.shape[2] for s in sources}) != 1:
            raise ValueError(f"cannot stack rows of different feature counts {[s.shape[2] for s in sources]}")
        self.sources = list(sources)
        self.starts = np.cumsum([0] + [s.shape[0] for s in sources])
        self.shape = (int(self.starts[-1]), max(s.shape[1] for s in sources), sources[0].shape[2])

    def read(self, rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(rows), *self.shape[1:]), np.float32)
        which = np.searchsorted(self.starts, rows, side="right") - 1
        for k in np.unique(which):
            at = np.flatnonzero(which == k)
            x = np.asarray(self.sources[k][rows[at] - self.starts[k]])
            out[at, : x.shape[1]] = x
        return out

    def materialize(self) -> np.ndarray:
        out = np.zeros(self.shape, np.float32)
        for k, source in enumerate(self.sources):
            x = materialize(source)
            out[self.starts[k] : self.starts[k + 1], : x.shape[1]] = x
        return out


class Scaled(Rows):
    """Rows standardised as the in-memory path does (``normalize.standardize``, padding zeroed):
    each row by the statistics of its group (one group: global statistics; one per speaker)."""

    def __init__(self, source, lengths: np.ndarray, group: np.ndarray, stats: Sequence[tuple[np.ndarray, np.ndarray]]):
        self.source, self.shape = source, tuple(source.shape)
        self.lengths, self.group, self.stats = np.asarray(lengths), np.asarray(group, np.int64), list(stats)

    def read(self, rows: np.ndarray) -> np.ndarray:
        from ser_jax import normalize

        x = np.asarray(self.source[rows])
        out = np.zeros(x.shape, np.float32)
        for g in np.unique(self.group[rows]):
            at = np.flatnonzero(self.group[rows] == g)
            if g < 0:  # rows no split uses: zeros, as the in-memory path leaves them
                continue
            mean, std = self.stats[g]
            out[at] = normalize.standardize(x[at], mean, std, self.lengths[rows[at]])
        return out


def pad_frames(x: np.ndarray, t: int) -> np.ndarray:
    """x (N, T0, F) zero-padded on the frame axis to t >= T0."""
    return x if x.shape[1] == t else np.pad(x, ((0, 0), (0, t - x.shape[1]), (0, 0)))


def materialize(features) -> np.ndarray:
    """Rows in memory (an array stays as it is)."""
    return features.materialize() if isinstance(features, Rows) else features


def is_lazy(features) -> bool:
    return isinstance(features, Rows)


def available_memory() -> int:
    """Bytes the kernel says a new allocation can take without swapping (MemAvailable)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: assume it fits (the in-memory path, as before streaming existed)


# In memory the features are held about three times: as read, standardised, and on the device.
IN_MEMORY_COPIES = 3
MEMORY_SHARE = 0.7  # of the available memory the in-memory path may plan to take


def should_stream(mode: str, feature_bytes: int, available: int | None = None) -> bool:
    """--stream=auto|on|off: auto streams when the in-memory copies would not fit comfortably."""
    if mode in ("on", "off"):
        return mode == "on"
    available = available_memory() if available is None else available
    return IN_MEMORY_COPIES * feature_bytes > MEMORY_SHARE * available


_DONE = object()


def prefetch(items: Iterable[T], size: int = 2) -> Iterator[T]:
    """``items`` produced by a background thread, at most ``size`` ahead; its errors re-raised here.

    Closing the generator (a ``break``, an exception in the consumer) stops the thread.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, size))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as e:  # noqa: BLE001  (handed to the consumer, who raises it)
            q.put(e)

    thread = threading.Thread(target=produce, name="ser_jax-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=0.05)
