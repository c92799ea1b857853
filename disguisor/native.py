"""Native libraries' start-up chatter kept off the command line's output.

MediaPipe's TFLite runtime, absl logging and warp print lines such as "Created TensorFlow Lite
XNNPACK delegate for CPU" straight to the process's file descriptors when a model is built or
first run; Python cannot catch them, so the descriptors are pointed at /dev/null meanwhile.
Python-level errors still propagate as exceptions.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_output_silenced(stdout: bool = False) -> Iterator[None]:
    """Within the block, what is written to file descriptor 2 (and with ``stdout`` to Python's
    ``sys.stdout``) is dropped. Other threads' stderr lines are dropped too while it lasts."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(io.StringIO()) if stdout else contextlib.nullcontext():
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
