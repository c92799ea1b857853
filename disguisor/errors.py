"""Errors that the command line reports as one line with exit code 2."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad user input: names the offending file and, where there is one, the field.

    The CLI prints ``str(error)`` on one line and exits with code 2.
    """

    def __init__(self, path: str | Path | None, message: str, field: str | None = None):
        self.path = None if path is None else str(path)
        self.field = field
        self.message = message
        where = self.path or "<input>"
        if field:
            where = f"{where}: {field}"
        super().__init__(f"{where}: {message}")
