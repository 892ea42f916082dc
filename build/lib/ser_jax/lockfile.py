"""One writer per file or folder: an flock on a lock file that holds the writer's pid.

The kernel drops an flock when its process dies (however it dies), so the lock of a killed writer
is never stale: the next writer simply takes it. The pid inside only names the holder in messages.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import Callable, Iterator


@contextlib.contextmanager
def exclusive(lock_path: str | os.PathLike, busy: Callable[[str], BaseException], *,
              wait: bool = False, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Holds the lock for the block. When another process holds it: raise ``busy(holder_pid)``, or,
    with ``wait``, call ``on_wait(holder_pid)`` and block until it is free."""
    fd = os.open(Path(lock_path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            if not wait:
                raise busy(holder) from None
            if on_wait is not None:
                on_wait(holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock
