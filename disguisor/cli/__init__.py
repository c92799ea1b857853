"""The ``disguisor`` command line (typer). Every command has ``--help``.

Bad input ends with one line ``error: <file>: <field>: <what is wrong>`` and exit code 2. The
commands are thin adapters over the stage functions, grouped by job: :mod:`.recording`,
:mod:`.stages`, :mod:`.evaluation`, and ``batch`` (:mod:`disguisor.batch.command`).
"""

from __future__ import annotations

import sys

from disguisor.batch.command import batch_cmd
from disguisor.cli import evaluation, recording, stages  # noqa: F401  (they register their commands)
from disguisor.cli.base import _config, _progress, _say, _state, app, console, err_console
from disguisor.errors import InputError

app.command("batch")(batch_cmd)  # Ray is imported only when a batch runs

__all__ = ["_config", "_progress", "_say", "_state", "app", "console", "err_console", "main"]


def main() -> None:
    """Console entry point: failures end in one line, never a traceback.

    Exit codes: 2 bad input, or an OS error before anything was written (``error: <path>: <what>``);
    3 an OS error mid-run (what was finished is kept; the same command resumes); 130/143
    interrupted by SIGINT/SIGTERM (one line: what was kept, how to resume).
    """
    from disguisor.run.guard import OutputError
    from disguisor.run.signals import Interrupted, interrupts_raise

    def say(line: str) -> None:
        err_console.print(line, highlight=False, soft_wrap=True, markup=False)

    try:
        with interrupts_raise():
            app()
    except InputError as exc:
        say(f"error: {exc}")
        sys.exit(2)
    except OutputError as exc:
        say(f"error: {exc}")
        sys.exit(exc.exit_code)
    except Interrupted as exc:
        say(exc.message())
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        say("interrupted (SIGINT)")
        sys.exit(130)
    except OSError as exc:
        say(f"error: {exc.filename or '<output>'}: {exc.strerror or exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
