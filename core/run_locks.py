"""Worker locks: a run is alive while its worker holds the run's lock file.

Stdlib only. The lock is an `flock` on `worker.lock` in the run's folder: the OS drops
it when the process dies, however it dies, so a killed worker or a reused process id
can never block the queue. `launch` takes the lock and hands it to the worker it
starts; the worker holds it for the whole run; any process can ask `has_worker`.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from core import workspace

LOCK_FILE = "worker.lock"  # flock-ed by the worker for its whole life
LOCK_FD_ENV = "PREDICTIVE_STUDIO_LOCK_FD"  # the lock `launch` hands to the worker
LOCK_TRIES = 20  # a reader may hold the lock for a moment while it checks it

_held_locks: dict[str, int] = {}  # run id -> locked file descriptor, in this process


def _lock_path(run_id: str) -> Path:
    return workspace.root() / workspace.RUNS_FOLDER / run_id / LOCK_FILE


def _try_lock(path: Path, create: bool) -> int | None:
    """Opens `path` and takes its exclusive lock; None if another holder has it."""
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def _take_lock(path: Path) -> int | None:
    """Takes the lock at `path`, retrying briefly; None if a worker holds it."""
    for _ in range(LOCK_TRIES):
        try:
            return _try_lock(path, create=True)
        except BlockingIOError:
            time.sleep(0.05)
    return None


def take_worker_lock(run_id: str) -> int | None:
    """Takes the run's worker lock for a launcher to hand to the worker it starts.

    Returns:
        The lock's file descriptor, or None if a worker already holds it.
    """
    return _take_lock(_lock_path(run_id))


def _inherited_lock(run_id: str) -> int | None:
    """Returns the lock descriptor `launch` passed to this process, if it is this run's."""
    value = os.environ.pop(LOCK_FD_ENV, "")
    if not value.isdigit():
        return None
    try:
        same = os.path.samestat(os.fstat(int(value)), _lock_path(run_id).stat())
    except OSError:
        return None
    if not same:
        return None
    os.set_inheritable(int(value), False)  # no helper process may keep the run alive
    return int(value)


def hold_worker_lock(run_id: str) -> bool:
    """Takes the run's worker lock until `release_worker_lock` or this process ends.

    The lock is what makes a run alive: the OS drops it when the process dies, however
    it dies, so a killed worker or a reused process id can never block the queue.

    Returns:
        False if another process already holds it (another worker owns the run).
    """
    if run_id in _held_locks:
        return True
    fd = _inherited_lock(run_id)
    if fd is None:
        fd = _take_lock(_lock_path(run_id))
    if fd is None:
        return False
    _held_locks[run_id] = fd
    return True


def release_worker_lock(run_id: str) -> None:
    """Drops the run's worker lock held by this process, if any."""
    fd = _held_locks.pop(run_id, None)
    if fd is not None:
        os.close(fd)


def has_worker(run_id: str) -> bool:
    """Tells whether a live process holds the run's worker lock."""
    if run_id in _held_locks:
        return True
    try:
        fd = _try_lock(_lock_path(run_id), create=False)
    except BlockingIOError:
        return True
    if fd is not None:
        os.close(fd)
    return False
