"""The ``disguisor batch`` command (registered in :mod:`disguisor.cli`; shares :mod:`disguisor.cli.base`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from disguisor.batch.engine import DEFAULT_CHUNK_FRAMES, MAX_RETRIES, EngineOptions, JobState, Progress
from disguisor.cli.base import (
    Also2dOpt,
    Also2dWeightsOpt,
    ConfigOpt,
    DetectorOpt,
    FromOpt,
    MethodOpt,
    ModelOpt,
    OnErrorOpt,
    PoseModelOpt,
    SetOpt,
    SmplDirOpt,
    TemplateOpt,
    VideoOpt,
)


class RichProgress(Progress):
    """Two bars on stderr (recordings and frames, with the time left) and one line per recording."""

    def __init__(self, console, say):
        self.console, self.say = console, say
        self.bar = None

    def start(self, recordings: int, frames: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as Bars

        if self.console is None:
            return
        self.bar = Bars(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TextColumn("eta"),
                        TimeRemainingColumn(), TimeElapsedColumn(), console=self.console)
        self.bar.start()
        self.recordings = self.bar.add_task("recordings", total=recordings)
        self.frames = self.bar.add_task("frames", total=frames or None)

    def update(self, recordings_done: int, frames_done: int, frames_total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.recordings, completed=recordings_done)
            self.bar.update(self.frames, completed=frames_done, total=frames_total or None)

    def recording_done(self, state: JobState) -> None:
        if state.status == "done":
            failed = f", {len(state.failed_frames)} failed frame(s)" if state.failed_frames else ""
            line = f"done   {state.job.name}: {state.frames} frame(s), {state.faces_hidden} face(s) hidden{failed}"
        else:
            line = f"failed {state.job.name}: {state.error}"
        if self.bar is not None:
            self.bar.console.print(line, highlight=False, markup=False)
        else:
            self.say(line)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def batch_cmd(
    archive: Annotated[Path, typer.Argument(help="Folder of recordings and/or Azure Kinect sets (a folder with "
                                                 ".mkv files and extrinsics.json), or a manifest: one path per line, "
                                                 "or CSV with a path column and per-recording options.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: OUT/<recording>/ as `disguisor run` "
                                                          "writes it, batch_report.json, batch_summary.txt. A rerun "
                                                          "resumes.")],
    keypoints: Annotated[Optional[Path], typer.Option(help="Precomputed 2D keypoints; a relative path lies in each "
                                                           "recording's folder (keypoints.file).")] = None,
    detector: DetectorOpt = None, pose_model: PoseModelOpt = None, model: ModelOpt = None,
    smpl_dir: SmplDirOpt = None, method: MethodOpt = None, template: TemplateOpt = None, also_2d: Also2dOpt = None,
    also_2d_weights: Also2dWeightsOpt = None, on_error: OnErrorOpt = None, video: VideoOpt = None,
    from_stage: FromOpt = None, config_file: ConfigOpt = None, sets: SetOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be done; start nothing.")] = False,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Tasks at once (local: CPU workers of the "
                                                   "instance started; default: the machine's cores).")] = None,
    address: Annotated[Optional[str], typer.Option(help="Join a running Ray cluster: HOST:PORT of `ray start "
                                                        "--head`, or auto. Default: a local instance.")] = None,
    gpus_per_task: Annotated[float, typer.Option(min=0, help="GPUs given to each keypoint/render task.")] = 0.0,
    dashboard: Annotated[bool, typer.Option("--dashboard", help="Start the Ray dashboard (local instance).")]
    = False,
    chunk_frames: Annotated[int, typer.Option(min=1, help="Frames per render task.")] = DEFAULT_CHUNK_FRAMES,
    max_retries: Annotated[int, typer.Option(min=0, help="Retries of a task whose worker died.")] = MAX_RETRIES,
    threads_per_task: Annotated[Optional[int], typer.Option(min=1, help="CPU threads of each task (default: "
                                                            "local: the cores divided among the workers; "
                                                            "cluster: 1). Outputs do not depend on it.")] = None,
) -> None:
    """Anonymize every recording of an archive on Ray (local by default, a cluster with --address);
    resumable; one bad recording never stops the others (exit code 3 when any failed)."""
    import disguisor.cli.base as cli
    from disguisor.batch.driver import dry_run_rows, failed, plan, run_batch
    from disguisor.batch.report import summary_text

    def absolute(path: Path | None) -> Path | None:  # workers may have another working folder
        return None if path is None else path.absolute()

    pose_model, smpl_dir, also_2d_weights = absolute(pose_model), absolute(smpl_dir), absolute(also_2d_weights)
    flags = dict(keypoints__file=keypoints, keypoints__detector=detector, keypoints__pose_model=pose_model,
                 fit__model=model, fit__smpl_dir=smpl_dir, run__method=method, run__template=template,
                 run__also_2d=also_2d, run__also_2d_weights=also_2d_weights, run__on_error=on_error, run__video=video)
    shorthand = [f"{name.replace('__', '.')}={value}" for name, value in flags.items() if value is not None]
    cli._config(config_file, sets)  # a bad --config / --set is refused before anything else
    planned = plan(archive, out, config_file, [*shorthand, *(sets or [])], from_stage)
    if dry_run:
        from rich.table import Table

        rows = dry_run_rows(planned, out)
        table = Table(*rows[0])
        for row in rows[1:]:
            table.add_row(*row)
        cli.console.print(table)
        return
    options = EngineOptions(address=address, workers=workers, gpus_per_task=gpus_per_task, dashboard=dashboard,
                            chunk_frames=chunk_frames, max_retries=max_retries, threads_per_task=threads_per_task,
                            log_to_driver=logging.getLogger().isEnabledFor(logging.DEBUG))
    show = not cli._state["quiet"] and cli.err_console.is_terminal
    progress = RichProgress(cli.err_console if show else None, cli._say)
    try:
        report = run_batch(archive, out, planned, options, progress)
    finally:
        progress.stop()
    cli._say(summary_text(report).rstrip())
    cli._say(f"wrote {Path(out) / 'batch_report.json'}")
    if failed(report):
        raise typer.Exit(code=3)
