"""The work of a batch as plain functions, one per task kind (the engine runs them on Ray workers).

- :func:`prepare_job`: the Kinect import (if any) and every whole-recording stage
  (:func:`~disguisor.run.pipeline.prepare_run`, with the output lock and the stage cache);
- :func:`render_job_frames`: one chunk of frames (:func:`~disguisor.run.pipeline.render_frames`);
- :func:`finish_job`: the outputs over every frame (:func:`~disguisor.run.pipeline.finish_run`).

Every function returns a plain dict and never raises for a problem of the recording: a failure
is ``{"ok": False, "error": <one line>}``, so only a dead worker process reaches the engine's
retry. Frames are written one by one, atomically (images, then the frame's record): a chunk
retried after its worker died redoes only the frames without a current record and rewrites them
with the same bytes; temporary files of the killed attempt are removed by :func:`finish_job`,
which runs when no other task of the recording is left.

Frame workers (renderer, templates, body model) are expensive: each worker process keeps the
last few in :data:`_CACHE`, keyed by (output folder, frame cache key), and the body model is
cached per process by :func:`disguisor.body.model.load_body_model`.
"""

from __future__ import annotations

import json
import os
import pickle
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from disguisor.batch.archive import Job
from disguisor.errors import InputError
from disguisor.settings import PipelineConfig

CACHE_SIZE = 2  # frame workers kept per process (one recording's chunks usually follow each other)
IMPORTS = ".imported"  # OUT/.imported/<name>/: Kinect sets converted into recordings

_CACHE: OrderedDict[tuple[str, str], tuple[Any, Any]] = OrderedDict()
_THREADS: int | None = None  # the threads this process was set to (use_threads)


def use_threads(threads: int) -> None:
    """Run this worker process's CPU work on ``threads`` threads: torch's intra-op pool and
    OpenCV's (BLAS follows OMP_NUM_THREADS, which the engine sets for the worker processes).
    Called at the start of every task; a no-op after the first."""
    global _THREADS
    if _THREADS == threads:
        return
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    _THREADS = threads


def one_line(exc: BaseException) -> str:
    """An exception as the CLI prints it: ``error: <file>: <field>: <what>`` for bad input."""
    from disguisor.run.guard import OutputError

    if isinstance(exc, InputError | OutputError):
        text = f"error: {exc}"
    elif isinstance(exc, OSError):
        text = f"error: {exc.filename or '<output>'}: {exc.strerror or exc}"
    else:
        text = f"error: {type(exc).__name__}: {exc}"
    return " ".join(text.split())


def recording_path(job: Job, out_root: Path) -> Path:
    """Where the job's recording is: its folder, or its Kinect import under OUT/.imported/."""
    return job.source if job.kind == "recording" else Path(out_root) / IMPORTS / job.name


def _import_kinect(job: Job, out_root: Path) -> Path:
    from disguisor.config import KinectImportParams
    from disguisor.io.kinect import import_kinect

    target = recording_path(job, out_root)
    if not (target / "calibration.json").is_file():  # the import moves its folder into place when complete
        target.parent.mkdir(parents=True, exist_ok=True)
        import_kinect(job.mkvs, target, job.extrinsics, KinectImportParams(), overwrite=True)
    return target


def prepare_job(job: Job, out_root: Path, config: PipelineConfig) -> tuple[dict[str, Any], Any]:
    """Import (Kinect sets) and whole-recording stages; returns (info, the prepared run to ship to
    the frame tasks, or None). info: ok, error, frames, pending (frames without a current record),
    seconds, pid."""
    from disguisor.run import outputs
    from disguisor.run.guard import GuardedOutput
    from disguisor.run.pipeline import images_present, prepare_run

    t0 = time.perf_counter()
    out = Path(out_root) / job.name
    info: dict[str, Any] = {"ok": False, "error": "", "frames": [], "pending": [], "pid": os.getpid()}
    try:
        source = _import_kinect(job, out_root) if job.kind == "kinect" else job.source
        with GuardedOutput(out):
            run = prepare_run(source, out, config, job.from_stage)
        pending = []
        for frame in run.rec.frames:
            record = None if run.redo_frames else outputs.read_frame_record(out, frame)
            if not (record is not None and record.get("key") == run.frame_key
                    and images_present(out, run.rec, frame, record)):
                pending.append(frame)
        info.update(ok=True, frames=list(run.rec.frames), pending=pending, frame_key=run.frame_key,
                    stage_seconds=run.stage_seconds, warnings=run.warnings)
        # what the frame tasks need, without the process-bound parts (body model, 2D face detector);
        # pickled here so that the frame tasks get writable arrays (Ray's own numpy objects are read-only)
        shipped = pickle.dumps(replace(run, ctx=replace(run.ctx, _model=None), face_detector=None),
                               protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - one recording's failure is reported, never raised
        info["error"] = one_line(exc)
        info["trace"] = traceback.format_exc(limit=8)
        shipped = None
    info["seconds"] = time.perf_counter() - t0
    return info, shipped


def _frame_worker(out: str, frame_key: str, load: Callable[[], Any]):
    key = (out, frame_key)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    run = pickle.loads(load())
    if run.config.run.also_2d:
        from disguisor.facedet import make_face_detector

        run = replace(run, face_detector=make_face_detector(run.config.run.also_2d, run.config.run.also_2d_weights))
    entry = (run, run.worker())
    _CACHE[key] = entry
    while len(_CACHE) > CACHE_SIZE:
        _, (_, old) = _CACHE.popitem(last=False)
        old.close()
    return entry


def render_job_frames(out: str, frame_key: str, frames: list[int], load: Callable[[], Any]) -> dict[str, Any]:
    """Anonymize ``frames`` of a prepared recording (``load()`` gives the pickled prepared run when this
    process has no frame worker for it yet). Returns ok, error, frames, resumed, failed, seconds,
    setup_seconds (getting the frame worker), pid."""
    from disguisor.run.pipeline import render_frames

    t0 = time.perf_counter()
    result: dict[str, Any] = {"ok": False, "error": "", "frames": len(frames), "resumed": 0, "failed": [],
                              "pid": os.getpid()}
    try:
        run, worker = _frame_worker(out, frame_key, load)
        result["setup_seconds"] = time.perf_counter() - t0  # 0 when this process already held the frame worker
        records, resumed = render_frames(run, frames, worker=worker)
        result.update(ok=True, resumed=resumed, failed=[r["frame"] for r in records if r.get("status") == "failed"])
    except Exception as exc:  # noqa: BLE001
        _CACHE.pop((out, frame_key), None)
        result["error"] = one_line(exc)
        result["trace"] = traceback.format_exc(limit=8)
    result["seconds"] = time.perf_counter() - t0
    return result


def finish_job(out: str, frame_key: str, resumed: int, render_seconds: float,
               load: Callable[[], Any]) -> dict[str, Any]:
    """detections.json, images.json, report.json, summary.txt (and videos) of a recording whose
    frames are all rendered; removes what killed attempts left. Returns ok, error, report fields."""
    from disguisor.run.guard import GuardedOutput
    from disguisor.run.lock import claim_output
    from disguisor.run.pipeline import clean_partial, finish_run

    t0 = time.perf_counter()
    result: dict[str, Any] = {"ok": False, "error": "", "pid": os.getpid()}
    try:
        cached = _CACHE.get((out, frame_key))
        run = cached[0] if cached is not None else pickle.loads(load())
        with GuardedOutput(Path(out)):
            claim_output(Path(out))
            removed = clean_partial(Path(out))
            report = finish_run(run, None, resumed, render_seconds)
        result.update(ok=True, removed_partial=removed, frames=report.frames, faces_hidden=report.faces_hidden,
                      failed_frames=[f.get("frame") for f in report.failed_frames], warnings=report.warnings,
                      resumed_frames=report.resumed_frames)
    except Exception as exc:  # noqa: BLE001
        result["error"] = one_line(exc)
        result["trace"] = traceback.format_exc(limit=8)
    finally:
        entry = _CACHE.pop((out, frame_key), None)
        if entry is not None:
            entry[1].close()
    result["seconds"] = time.perf_counter() - t0
    return result


def frames_done(out: Path, frame_key: str | None) -> int:
    """Frames of an output folder whose record is current (for a recording that failed midway)."""
    folder = Path(out) / "stages" / "frames"
    if frame_key is None or not folder.is_dir():
        return 0
    n = 0
    for p in folder.glob("[0-9]*.json"):
        try:
            n += json.loads(p.read_text()).get("key") == frame_key
        except (OSError, ValueError):
            pass
    return n
