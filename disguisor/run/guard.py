"""Output-side failures of ``disguisor run`` as one line: OS errors and interruptions.

:class:`GuardedOutput` wraps a run: an ``OSError`` (a file where a folder should be, a read-only
file system, a full disk...) becomes an :class:`OutputError` with exit code 2 when the run had
written nothing yet, 3 when it had (the finished stages and frames are kept, every file is
complete, and the same command resumes); an :class:`~disguisor.run.signals.Interrupted` gets a
note of what was kept. Either way the output lock is released.
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

from disguisor.run.lock import LOCK_NAME, release_output
from disguisor.run.signals import Interrupted

MTIME_SLACK_NS = 100_000_000  # file systems stamp with a coarse clock


class OutputError(Exception):
    """An OS error while writing the output; the CLI prints ``error: <path>: <what>``."""

    def __init__(self, path: str | Path, message: str, exit_code: int):
        super().__init__(f"{path}: {message}")
        self.path, self.message, self.exit_code = str(path), message, exit_code


def wrote_since(out: Path, start_ns: int) -> bool:
    """Whether any file under ``out`` (the lock aside) was written at or after ``start_ns``."""
    stack = [Path(out)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.name != LOCK_NAME and entry.stat(follow_symlinks=False).st_mtime_ns >= start_ns:
                    return True
            except OSError:
                continue
    return False


def kept_summary(out: Path) -> str:
    """What an unfinished run leaves in ``out`` and how to go on."""
    from disguisor.run.stages import FRAME_STAGE  # loaded by then; the CLI imports this module at start

    stages: list[str] = []
    try:
        stages = [s for s in json.loads((out / "run_state.json").read_text()).get("stages", {}) if s != FRAME_STAGE]
    except (OSError, ValueError, AttributeError):
        pass
    frames_dir = out / "stages" / "frames"
    frames = len(list(frames_dir.glob("[0-9]*.json"))) if frames_dir.is_dir() else 0
    if not stages and not frames:
        return f"nothing finished was kept in {out}; the same command starts again"
    parts = []
    if stages:
        parts.append(f"the finished stages ({', '.join(stages)})")
    parts.append(f"{frames} finished frame(s)")
    return f"kept {' and '.join(parts)} in {out}; run the same command again to resume"


def output_error(exc: OSError, out: Path, written: bool) -> OutputError:
    """One line for an OS error: the path, what went wrong, and for a run that had written
    something, what was kept (exit code 3) — else exit code 2."""
    path = Path(exc.filename) if exc.filename else Path(out)
    what = exc.strerror or str(exc)
    if exc.errno == errno.ENOTDIR:
        for parent in (path, *path.parents):
            if parent.exists() and not parent.is_dir():
                path, what = parent, "is a file, not a folder"
                break
    elif exc.errno == errno.ENOSPC:
        what = "no space left on device (disk full)"
    if written:
        return OutputError(path, f"{what}; stopped mid-run: {kept_summary(Path(out))}", exit_code=3)
    return OutputError(path, f"{what}; nothing was written", exit_code=2)


class GuardedOutput:
    """``with GuardedOutput(out): ...``: OS errors become :class:`OutputError`, interruptions
    note what was kept, and the output lock (:func:`~disguisor.run.lock.claim_output`) is released."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.start_ns = time.time_ns() - MTIME_SLACK_NS

    def __enter__(self) -> GuardedOutput:
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        try:
            if isinstance(exc, Interrupted):
                exc.kept = kept_summary(self.out) if self.out.is_dir() else None
            elif isinstance(exc, OSError):
                raise output_error(exc, self.out, wrote_since(self.out, self.start_ns)) from exc
        finally:
            release_output(self.out)
        return False
