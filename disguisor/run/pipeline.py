"""``disguisor run``: recording -> keypoints -> 3D poses -> body fit -> (refine + render) per frame.

Output folder::

    out/
      <camera>/<frame>.jpg        anonymized images (every image of the recording)
      <camera>.mp4                with run.video
      detections.json             COCO results: one entry per hidden face per image
      images.json                 the images the ids of detections.json refer to
      report.json, summary.txt    what was done: people and faces per frame and view, skipped
                                  faces and why, failed frames, time per stage, the configuration
      run_state.json              cache keys of the finished stages (for resuming)
      stages/keypoints2d.json     2D keypoints (COCO keypoint format)
      stages/poses3d.json         tracked 3D skeletons
      stages/bodies.json          body-model fits
      stages/frames/<frame>.json  per-frame record: faces (centre, facing, refinement), boxes

The whole-recording stages are the table :data:`disguisor.run.stages.STAGES`, walked in order;
the per-frame stage follows (:mod:`disguisor.run.frames`).

Resuming. Each stage's cache key is a hash of its own settings (its configuration sections),
the key of the stage before it, the package version and the recording's fingerprint. A rerun
skips a stage whose key matches and whose file exists, and redoes it (and, through the keys,
everything after it, frames included) otherwise; ``from_stage`` forces that from a stage on.
A stage's result is always used as read back from its file, so a resumed run and a fresh run
see the same numbers. A frame counts as done once its record is written (after its images),
so an interrupted run resumes at the first unfinished frame. Every file is written to a
temporary name and renamed.

Fail closed. If anything goes wrong while anonymizing a frame, none of its original views is
written (see :mod:`disguisor.run.frames`). A failure of a whole-recording stage stops the run
before any image is written.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from disguisor import __version__
from disguisor.errors import InputError
from disguisor.io.atomic import atomic_write_text
from disguisor.io.detections import image_ids
from disguisor.io.recording import Recording, open_recording
from disguisor.run import outputs
from disguisor.run.frames import FrameWorker
from disguisor.run.report import RunReport, write_report
from disguisor.run.stages import (
    FRAME_SECTIONS,
    FRAME_STAGE,
    STAGE_NAMES,
    STAGES,
    ProgressFactory,
    StageContext,
    file_hash,
    no_progress,
    section_settings,
)
from disguisor.settings import PipelineConfig, settings_hash

log = logging.getLogger(__name__)

STATE_VERSION = 2
SINGLE_VIEW_FACE_DETECTOR = "centerface"  # hybrid detector switched on for one-camera recordings


def recording_fingerprint(recording: Recording) -> str:
    """Changes when the calibration, the frame list or any input file's size or time changes."""
    parts: list[Any] = [file_hash(recording.root / "calibration.json"), recording.frames]
    for frame in recording.frames:
        for cam in recording.cameras_at(frame):
            for p in (recording.color_path(cam.name, frame), recording.depth_path(cam.name, frame)):
                st = p.stat()
                parts.append((p.name, st.st_size, st.st_mtime_ns))
    return settings_hash(parts)


class StageState:
    """``out/run_state.json``: the cache key of every finished stage."""

    def __init__(self, out: Path):
        self.path = out / "run_state.json"
        self.data: dict[str, Any] = {"version": STATE_VERSION, "stages": {}}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
                if data.get("version") == STATE_VERSION:
                    self.data = data
            except (OSError, ValueError):
                log.warning("%s unreadable: all stages rerun", self.path)

    def done(self, stage: str, key: str, output: Path | None) -> bool:
        entry = self.data["stages"].get(stage)
        return bool(entry and entry.get("key") == key and (output is None or output.exists()))

    def mark(self, stage: str, key: str, seconds: float) -> None:
        self.data["stages"][stage] = {"key": key, "seconds": round(seconds, 3)}
        atomic_write_text(self.path, json.dumps(self.data, indent=1) + "\n")


def _check_inputs(rec: Recording, out: Path, config: PipelineConfig, from_stage: str | None) -> None:
    if out.resolve() == rec.root.resolve() or rec.root.resolve() in out.resolve().parents:
        raise InputError(out, "the output folder must not be inside the recording (inputs are never modified)",
                         field="--out")
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder", field="--out")
    kp_file = config.keypoints.file
    if kp_file is not None and not Path(kp_file).is_file():
        raise InputError(kp_file, "keypoints file not found", field="keypoints.file")
    if from_stage is not None and from_stage not in STAGE_NAMES:
        raise InputError(None, f"unknown stage {from_stage!r}; stages: {', '.join(STAGE_NAMES)}", field="--from")


def run_pipeline(recording_path: str | Path, out: str | Path, config: PipelineConfig = PipelineConfig(),
                 from_stage: str | None = None, progress: ProgressFactory = no_progress) -> RunReport:
    """Run every stage on a recording; see the module docstring for outputs, resume and failure rules."""
    out = Path(out)
    rec = open_recording(recording_path, params=config.recording)
    _check_inputs(rec, out, config, from_stage)
    warnings: list[str] = []
    if len(rec.cameras) < 2 and config.run.also_2d is None:
        # 3D people need two views: with one camera only a 2D face detector can find faces
        config = replace(config, run=replace(config.run, also_2d=SINGLE_VIEW_FACE_DETECTOR))
        warnings.append(f"only one camera: people cannot be found in 3D; faces are found by the 2D detector "
                        f"{SINGLE_VIEW_FACE_DETECTOR!r} (run.also_2d) instead")
        log.warning(warnings[-1])
    if config.run.also_2d:
        from disguisor.facedet import make_face_detector

        # built before anything is written: an unknown detector or a bad weights file is bad input
        face_detector = make_face_detector(config.run.also_2d, config.run.also_2d_weights)
    else:
        face_detector = None
    forced = STAGE_NAMES.index(from_stage) if from_stage is not None else len(STAGE_NAMES)
    (out / "stages").mkdir(parents=True, exist_ok=True)
    state = StageState(out)
    ctx = StageContext(rec, config, progress)
    stage_seconds: dict[str, float] = {}

    key = settings_hash("recording", recording_fingerprint(rec), asdict(config.recording), __version__)
    for index, stage in enumerate(STAGES):
        key = settings_hash(stage.name, key, section_settings(config, stage.sections))
        path = out / "stages" / stage.file
        t0 = time.perf_counter()
        if index < forced and state.done(stage.name, key, path):
            log.info("stage %s: up to date, read from %s", stage.name, path)
            ctx.results[stage.name] = stage.load(path, ctx)
            stage_seconds[stage.name] = 0.0
            continue
        result = stage.compute(ctx)
        stage.save(path, result)
        # later stages use what the file holds (rounded as saved): a resumed run sees the same
        ctx.results[stage.name] = stage.load(path, ctx)
        stage_seconds[stage.name] = time.perf_counter() - t0
        state.mark(stage.name, key, stage_seconds[stage.name])

    frame_key = settings_hash(FRAME_STAGE, key, section_settings(config, FRAME_SECTIONS))
    redo_frames = forced < len(STAGE_NAMES)
    ids = image_ids(rec)
    t_render = time.perf_counter()
    worker = FrameWorker(rec, out, config, ids, ctx.results["keypoints"], ctx.results["pose3d"],
                         ctx.results["fit"], ctx.model(), face_detector)
    records: list[dict[str, Any]] = []
    resumed = 0
    try:
        with progress("anonymize", len(rec.frames)) as update:
            for k, frame in enumerate(rec.frames):
                record = None if redo_frames else outputs.read_frame_record(out, frame)
                if record is not None and record.get("key") == frame_key and _images_present(out, rec, frame,
                                                                                              record):
                    resumed += 1
                else:
                    outcome, dets = worker.process(frame)
                    record = {"key": frame_key, **asdict(outcome), "detections": dets}
                    outputs.write_json(outputs.frame_record_path(out, frame), record)
                records.append(_slim(record))
                update(k + 1)
    finally:
        worker.close()
    stage_seconds[FRAME_STAGE] = time.perf_counter() - t_render
    state.mark(FRAME_STAGE, frame_key, stage_seconds[FRAME_STAGE])
    return write_report(rec, out, config, records, stage_seconds, resumed, warnings)


def _slim(record: dict[str, Any]) -> dict[str, Any]:
    """What the final report needs from a frame record (bounded memory per frame)."""
    return {k: record.get(k) for k in ("frame", "status", "error", "people", "views", "seconds", "detections")}


def _images_present(out: Path, rec: Recording, frame: int, record: dict[str, Any]) -> bool:
    if record.get("status") == "failed":
        return all(outputs.output_image_path(out, c.name, frame).is_file() or "withheld" in
                   record.get("views", {}).get(c.name, {}) or not record["views"].get(c.name, {}).get("blurred")
                   for c in rec.cameras_at(frame))
    return all(outputs.output_image_path(out, c.name, frame).is_file() for c in rec.cameras_at(frame))


def clean_partial(out: Path) -> None:
    """Remove temporary files an interrupted run may have left (they never replace real outputs)."""
    for tmp in out.rglob(".*.tmp*"):
        tmp.unlink(missing_ok=True)
    shutil.rmtree(out / "stages" / "tmp", ignore_errors=True)
