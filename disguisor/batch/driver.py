"""``disguisor batch``: plan the jobs of an archive, run them on the engine, write the batch report."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from disguisor.batch.archive import Job, discover, estimate_frames
from disguisor.batch.engine import EngineError, EngineOptions, GpuError, JobState, Progress, run_jobs
from disguisor.batch.report import build_report, write_batch_report
from disguisor.batch.tasks import recording_path
from disguisor.errors import InputError
from disguisor.settings import PipelineConfig, make_config


@dataclass(frozen=True)
class PlannedJob:
    job: Job
    config: PipelineConfig
    state: str  # new, resume, done earlier


def job_config(job: Job, out_root: Path, config_file: Path | None, sets: list[str],
               from_stage: str | None) -> tuple[Job, PipelineConfig]:
    """The job's configuration: defaults, --config, the command's options and --set, then the
    manifest row's options. A relative keypoints file lies in the recording's folder."""
    config = make_config(config_file, [*sets, *job.sets])
    kp = config.keypoints.file
    if kp is not None and not Path(kp).is_absolute():
        config = replace(config, keypoints=replace(config.keypoints, file=recording_path(job, out_root) / kp))
    if job.from_stage is None and from_stage is not None:
        job = replace(job, from_stage=from_stage)
    return job, config


def plan(archive: Path, out: Path, config_file: Path | None = None, sets: list[str] | None = None,
         from_stage: str | None = None) -> list[PlannedJob]:
    """Every job with its configuration and what a run would do with it (refuses bad input)."""
    from disguisor.run.stages import STAGE_NAMES

    out = Path(out).absolute()  # workers may have another working folder
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder", field="--out")
    if from_stage is not None and from_stage not in STAGE_NAMES:
        raise InputError(None, f"unknown stage {from_stage!r}; stages: {', '.join(STAGE_NAMES)}", field="--from")
    planned = []
    for job in discover(archive):
        try:
            job, config = job_config(job, out, config_file, list(sets or []), from_stage)
        except InputError as exc:
            if job.line is None:
                raise
            raise InputError(archive, f"{exc}", field=f"line {job.line}") from None
        target = out / job.name
        if (target / "report.json").is_file():
            state = "done earlier"
        elif target.is_dir():
            state = "resume"
        else:
            state = "new"
        planned.append(PlannedJob(job, config, state))
    return planned


def dry_run_rows(planned: list[PlannedJob], out: Path) -> list[list[str]]:
    rows = [["recording", "kind", "frames", "output", "state", "source"]]
    for p in planned:
        frames = estimate_frames(p.job)
        rows.append([p.job.name, p.job.kind, "?" if frames is None else str(frames), str(Path(out) / p.job.name),
                     p.state, str(p.job.source)])
    return rows


def run_batch(archive: Path, out: Path, planned: list[PlannedJob], options: EngineOptions,
              progress: Progress | None = None, ray_module=None) -> dict[str, Any]:
    """Run the planned jobs; writes OUT/batch_report.json and OUT/batch_summary.txt; returns the report.
    OUT is locked for the batch (each recording's folder is locked by the task writing it)."""
    from disguisor.run.guard import GuardedOutput
    from disguisor.run.lock import claim_output

    out = Path(out).resolve()
    started = time.time()
    t0 = time.perf_counter()
    with GuardedOutput(out):
        claim_output(out)
        try:
            states, facts = run_jobs([(p.job, p.config) for p in planned], out, options, progress, ray_module)
        except EngineError as exc:
            raise InputError(options.address or "local Ray instance", f"Ray could not start or connect: {exc}",
                             field="--address") from None
        except GpuError as exc:
            raise InputError(options.address or "local Ray instance", str(exc), field="--gpus-per-task") from None
        report = build_report(Path(archive), out, states, facts, options, started, time.perf_counter() - t0)
        write_batch_report(out, report)
    return report


def failed(report: dict[str, Any]) -> bool:
    t = report["totals"]
    return bool(t["failed"] or t["failed_frames"])


__all__ = ["JobState", "PlannedJob", "dry_run_rows", "failed", "plan", "run_batch"]
