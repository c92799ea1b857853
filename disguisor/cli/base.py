"""The ``disguisor`` app, its consoles and what every command shares: progress bars, messages,
the configuration options (``--config``, ``--set``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from disguisor import __version__

app = typer.Typer(help="Holistic multi-view face anonymization for RGB-D operating-room recordings.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
import_app = typer.Typer(help="Convert camera recordings into a disguisor recording.", no_args_is_help=True)
app.add_typer(import_app, name="import")

err_console = Console(stderr=True)
console = Console()
if not console.is_terminal:  # logs and pipes: wide enough for the evaluation table's columns
    console = Console(width=160)
_state = {"quiet": False}


def _version(value: bool) -> None:
    if value:
        console.print(f"disguisor {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show debug messages.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors; no progress bars.")] = False,
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr, force=True)
    _state["quiet"] = quiet


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on a terminal (none with --quiet or when stderr is a log file);
    yields ``update(done)``."""
    if _state["quiet"] or not err_console.is_terminal:
        yield lambda done: None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda done: progress.update(task, completed=done)


def _say(message: str) -> None:
    if not _state["quiet"]:
        console.print(message)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        if w <= 0 or h <= 0:
            raise ValueError
    except ValueError:
        raise typer.BadParameter(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    return w, h


ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="TOML configuration file (the layout of "
                                                   "`disguisor config show`).")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Change one setting, SECTION.FIELD=VALUE "
                                                     "(repeatable; wins over --config), e.g. render.dilate_m=0.03. "
                                                     "`disguisor config show` lists them all.")]


def _config(config_file: Path | None, sets: list[str] | None, **flags: object):
    """The effective configuration: defaults, then --config, then the command's own options that
    were given (each is a shorthand for one setting: ``section__field=value``), then --set."""
    from disguisor.settings import make_config

    shorthand = [f"{name.replace('__', '.')}={value}" for name, value in flags.items() if value is not None]
    return make_config(config_file, [*shorthand, *(sets or [])])


# Options of `run` that are shorthands for one setting each, shared by `run` and `batch`.
DetectorOpt = Annotated[Optional[str], typer.Option(help="2D pose detector when no --keypoints: ensemble (default), "
                                                         "movenet, blazepose, rtmpose, rtmo (keypoints.detector).")]
PoseModelOpt = Annotated[Optional[Path], typer.Option(help="ONNX model for --detector rtmpose/rtmo.")]
ModelOpt = Annotated[Optional[str], typer.Option(help="Body model: anny or smpl (fit.model).")]
SmplDirOpt = Annotated[Optional[Path], typer.Option(help="Folder with the SMPL model files (fit.smpl_dir).")]
MethodOpt = Annotated[Optional[str], typer.Option(help="How faces are hidden: template, blur, pixelate, blacken "
                                                       "(run.method).")]
TemplateOpt = Annotated[Optional[str], typer.Option(help="One template name for everyone, or auto (attire-aware) "
                                                         "(run.template; default: one per person, stable).")]
Also2dOpt = Annotated[Optional[str], typer.Option("--also-2d", help="Hybrid mode: also hide the faces this 2D face "
                                                  "detector finds (centerface, blazeface, scrfd, dlib, dsfd).")]
Also2dWeightsOpt = Annotated[Optional[Path], typer.Option(help="Weights for --also-2d dsfd.")]
OnErrorOpt = Annotated[Optional[str], typer.Option(help="Views of a frame that failed: blur (written fully blurred) "
                                                        "or withhold (not written) (run.on_error).")]
VideoOpt = Annotated[Optional[bool], typer.Option("--video", help="Also write one MP4 per camera (run.video).")]
FromOpt = Annotated[Optional[str], typer.Option("--from", help="Rerun from this stage: keypoints, pose3d, fit, "
                                                "render.")]
