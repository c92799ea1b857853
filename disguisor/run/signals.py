"""Interruption: SIGINT (Ctrl-C) and SIGTERM end a command with one line and exit code 130/143.

:func:`interrupts_raise` turns both signals into :class:`Interrupted`, a ``BaseException`` (so
that no ``except Exception`` on the way, such as a frame's fail-closed handler, swallows it).
Every ``finally`` runs on the way out: temporary files are removed, the output lock is released.
Whoever knows what was kept (the pipeline) fills in :attr:`Interrupted.kept`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A command stopped by SIGINT or SIGTERM; exit code 128 + the signal number."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.kept: str | None = None  # what was kept and how to resume; None: nothing was written

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def message(self) -> str:
        name = signal.Signals(self.signum).name
        return f"interrupted ({name}): {self.kept or 'nothing was written'}"


@contextmanager
def interrupts_raise() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` (main thread only; a
    signal that was ignored when the block began stays ignored; a second signal while the first
    one unwinds is ignored, so that cleanup finishes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        for s in previous:
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signum)

    # a signal ignored by whoever started us (nohup, a background job of a script) stays ignored
    previous = {s: signal.signal(s, _raise) for s in SIGNALS if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
