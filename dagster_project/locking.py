"""One refresh at a time per warehouse: an exclusive lock on ``<warehouse>.lock``.

DuckDB allows one writing process per file, but a refresh opens and closes
the file many times (each load, each dbt step, containment), so two refreshes
started together would interleave their writes between those openings. The
refresh therefore holds an exclusive ``fcntl.flock`` on a lock file beside the
warehouse for the whole run. A second refresh does not wait: it fails at once
with a message that names the warehouse and the process holding the lock.

The lock belongs to the open file, so the operating system releases it when
the holder exits, also after a crash or ``SIGKILL``; a stale lock file on disk
never blocks the next run. Within one thread the lock is re-entrant, so the
``dora`` command and the job runner can both take it.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_SUFFIX = ".lock"
# How long a refresh that finds the lock taken waits for the holder's pid.
PID_WAIT_SECONDS = 0.5

# Lock files held by this process: path -> [owning thread id, depth].
_held: dict[Path, list[int]] = {}
_held_guard = threading.Lock()


class WarehouseLockedError(RuntimeError):
    """Another process is refreshing the same warehouse."""


def lock_path(warehouse: str | os.PathLike[str]) -> Path:
    """Return the lock file of a warehouse: the warehouse path plus ``.lock``."""
    path = Path(warehouse).expanduser().resolve()
    return path.with_name(path.name + LOCK_SUFFIX)


def _holder_pid(handle, wait_seconds: float = PID_WAIT_SECONDS) -> str:
    """Return the pid the lock holder wrote into the lock file, or ``unknown``.

    The holder writes its pid just after it takes the lock, so a refresh that
    finds the lock taken may read the file before the pid is there. It reads
    again for up to ``wait_seconds``.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            handle.seek(0)
            text = handle.read().strip()
        except OSError:
            return "unknown"
        if text.isdigit():
            return text
        if time.monotonic() >= deadline:
            return "unknown"
        time.sleep(0.01)


@contextmanager
def warehouse_lock(warehouse: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the refresh lock of ``warehouse`` for the ``with`` block.

    Raises WarehouseLockedError at once when another process holds it.
    """
    path = lock_path(warehouse)
    with _held_guard:
        entry = _held.get(path)
        if entry is not None and entry[0] != threading.get_ident():
            raise WarehouseLockedError(
                f"another refresh of {Path(warehouse).expanduser().resolve()} is running "
                f"in this process (pid {os.getpid()}); wait for it to finish and run again"
            )
        if entry is not None:
            entry[1] += 1
    if entry is not None:
        try:
            yield path
        finally:
            with _held_guard:
                entry[1] -= 1
        return

    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="ascii")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder_pid(handle)
            raise WarehouseLockedError(
                f"another refresh of {Path(warehouse).expanduser().resolve()} is running "
                f"(pid {pid}); wait for it to finish and run again, or pass another "
                "--warehouse"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        with _held_guard:
            _held[path] = [threading.get_ident(), 1]
        try:
            yield path
        finally:
            with _held_guard:
                del _held[path]
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()
