"""The output lock of ``disguisor run``: one process writes an output folder at a time.

``out/.disguisor.lock`` is created atomically (``O_CREAT | O_EXCL``) and names its owner: pid,
host, start time and command line. A second run on the same folder is refused at once with one
line naming the owner (an :class:`~disguisor.errors.InputError`, exit code 2). A lock whose
process is gone (same host, and the pid no longer runs, or now belongs to a process that started
later) is left by a killed run: it is taken over with a warning. The lock is removed when the
run ends, also on errors and interruptions (and, as a last resort, at interpreter exit).

Locks are counted per process: a process that claims a folder it already holds (a library caller
running two stages in turn) just holds it once more.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from disguisor.errors import InputError

log = logging.getLogger(__name__)

LOCK_NAME = ".disguisor.lock"
UNREADABLE_GRACE_S = 5.0  # a lock with no owner yet may be one that another process is writing right now


def _process_start(pid: int) -> str | None:
    """The kernel's start time of a process (clock ticks since boot; Linux), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # the name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else None


@dataclass(frozen=True)
class LockOwner:
    pid: int
    host: str
    started: str  # local time, ISO 8601
    process_start: str | None  # see _process_start: tells a reused pid apart
    command: str

    @classmethod
    def me(cls) -> LockOwner:
        pid = os.getpid()
        return cls(pid=pid, host=socket.gethostname(), started=datetime.now().isoformat(timespec="seconds"),
                   process_start=_process_start(pid), command=" ".join(sys.argv)[:500])

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started}"

    def alive(self) -> bool | None:
        """Whether the owner still runs: None when it cannot be told (another host)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # runs, as another user
        if self.process_start is not None:
            now = _process_start(self.pid)
            if now is not None and now != self.process_start:
                return False  # the pid was reused by a later process
        return True


def read_owner(path: Path) -> LockOwner | None:
    """The owner recorded in a lock file; None when it is missing, empty or not a lock."""
    try:
        data = json.loads(path.read_text())
        return LockOwner(pid=int(data["pid"]), host=str(data["host"]), started=str(data["started"]),
                         process_start=data.get("process_start"), command=str(data.get("command", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class OutputLock:
    """The lock of one output folder, held by this process (see the module docstring)."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = self.out / LOCK_NAME
        self.owner = LockOwner.me()
        self.held = False

    def acquire(self) -> None:
        """Take the lock; raises InputError naming the owner when another live run holds it."""
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                self._handle_existing()
                continue
            try:
                os.write(fd, (json.dumps(asdict(self.owner), indent=1) + "\n").encode())
            except OSError:
                os.close(fd)
                self.path.unlink(missing_ok=True)
                raise
            os.close(fd)
            self.held = True
            return
        raise InputError(self.out, f"could not take the lock {self.path} (other runs keep taking it)", field="--out")

    def _handle_existing(self) -> None:
        """Refuse a live owner; take over the lock of a dead one (removing it, so the caller retries)."""
        other = read_owner(self.path)
        if other is None:
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                return  # released meanwhile: retry
            if age < UNREADABLE_GRACE_S:
                raise InputError(self.out, f"another disguisor run is starting on this folder (lock {self.path} "
                                 "is being written); wait for it to finish", field="--out")
            log.warning("%s: unreadable lock file (not written by a live run); taken over", self.path)
            self._take_over(None)
            return
        alive = other.alive()
        if alive is False:
            log.warning("%s: the run that held this folder is gone (%s); its lock is taken over and the run resumes "
                        "from what it finished", self.out, other.describe())
            self._take_over(other)
            return
        where = "" if alive else " (on another host: if that run is gone, remove the lock file)"
        raise InputError(self.out, f"another disguisor run is writing this folder: {other.describe()}{where}; "
                         f"lock {self.path}", field="--out")

    def _take_over(self, expected: LockOwner | None) -> None:
        # rename first: of two processes taking over the same stale lock only one moves it
        moved = self.path.with_name(f"{LOCK_NAME}.stale-{os.getpid()}")
        try:
            os.replace(self.path, moved)
        except FileNotFoundError:
            return
        if read_owner(moved) != expected:  # a live run created a new lock meanwhile: put it back
            try:
                os.link(moved, self.path)
            except OSError:
                pass
        moved.unlink(missing_ok=True)

    def release(self) -> None:
        """Remove the lock if this process still holds it."""
        if not self.held:
            return
        self.held = False
        if read_owner(self.path) == self.owner:
            self.path.unlink(missing_ok=True)


_held: dict[Path, tuple[OutputLock, int]] = {}


def claim_output(out: Path) -> OutputLock:
    """Create the output folder if needed and take its lock (counted per process: see the module
    docstring); released by :func:`release_output` or at interpreter exit."""
    key = Path(os.path.abspath(out))
    if key in _held:
        lock, count = _held[key]
        _held[key] = (lock, count + 1)
        return lock
    Path(out).mkdir(parents=True, exist_ok=True)
    lock = OutputLock(out)
    lock.acquire()
    _held[key] = (lock, 1)
    return lock


def release_output(out: Path) -> None:
    """Release one claim of ``out`` by this process; the lock file goes with the last one."""
    key = Path(os.path.abspath(out))
    if key not in _held:
        return
    lock, count = _held.pop(key)
    if count > 1:
        _held[key] = (lock, count - 1)
    else:
        lock.release()


@atexit.register
def _release_all() -> None:
    for lock, _ in list(_held.values()):
        lock.release()
    _held.clear()
