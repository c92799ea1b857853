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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from disguisor import __version__
from disguisor.errors import InputError
from disguisor.io.atomic import atomic_write_text
from disguisor.io.detections import image_ids
from disguisor.io.recording import Recording, open_recording
from disguisor.pose2d.command import keypoints_from_file
from disguisor.run import outputs
from disguisor.run.frames import FrameWorker
from disguisor.run.guard import GuardedOutput
from disguisor.run.lock import claim_output
from disguisor.run.report import RunReport, write_report
from disguisor.run.stages import (
    FRAME_SECTIONS,
    FRAME_STAGE,
    STAGE_NAMES,
    STAGES,
    ProgressFactory,
    Stage,
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


@dataclass
class PreparedRun:
    """A recording whose whole-recording stages are done: what the frame loop needs.

    frame_key: the cache key of every frame's record; redo_frames: ``--from`` asked for new frames;
    face_detector: the hybrid mode's 2D face detector (or None).
    """

    rec: Recording
    out: Path
    config: PipelineConfig
    ctx: StageContext
    frame_key: str
    redo_frames: bool
    face_detector: Any
    stage_seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def worker(self) -> FrameWorker:
        """A frame worker over this run's stage results (close it when done)."""
        r = self.ctx.results
        return FrameWorker(self.rec, self.out, self.config, image_ids(self.rec), r["keypoints"], r["pose3d"],
                           r["fit"], self.ctx.model(), self.face_detector)


def prepare_run(recording_path: str | Path, out: str | Path, config: PipelineConfig = PipelineConfig(),
                from_stage: str | None = None, progress: ProgressFactory = no_progress) -> PreparedRun:
    """Check the inputs and bring every whole-recording stage up to date (computed or read back)."""
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
    for w in _model_warnings(config):
        warnings.append(w)
        log.warning(w)
    forced = STAGE_NAMES.index(from_stage) if from_stage is not None else len(STAGE_NAMES)
    warnings += _depth_warnings(rec)
    stages = _checked_stages(rec, config)  # a bad keypoints file is refused before any folder is created
    claim_output(out)  # creates the folder and takes its lock (released by run_pipeline, else at exit)
    clean_partial(out)
    (out / "stages").mkdir(parents=True, exist_ok=True)
    state = StageState(out)
    ctx = StageContext(rec, config, progress)
    stage_seconds: dict[str, float] = {}

    key = settings_hash("recording", recording_fingerprint(rec), asdict(config.recording), __version__)
    for index, stage in enumerate(stages):
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
    return PreparedRun(rec, out, config, ctx, frame_key, forced < len(STAGE_NAMES), face_detector,
                       stage_seconds, warnings)


def render_frames(run: PreparedRun, frames: Sequence[int] | None = None, progress: ProgressFactory = no_progress,
                  worker: FrameWorker | None = None) -> tuple[list[dict[str, Any]], int]:
    """Anonymize ``frames`` (default: all) of a prepared run, skipping frames whose record is
    current; returns (the frames' slim records, how many were already done). Each frame's
    images and record are written as it finishes."""
    frames = list(run.rec.frames if frames is None else frames)
    own = worker is None
    worker = worker or run.worker()
    records: list[dict[str, Any]] = []
    resumed = 0
    try:
        with progress("anonymize", len(frames)) as update:
            for k, frame in enumerate(frames):
                record = None if run.redo_frames else outputs.read_frame_record(run.out, frame)
                if record is not None and record.get("key") == run.frame_key and images_present(
                        run.out, run.rec, frame, record):
                    resumed += 1
                else:
                    outcome, dets = worker.process(frame)
                    record = {"key": run.frame_key, **asdict(outcome), "detections": dets}
                    outputs.write_json(outputs.frame_record_path(run.out, frame), record)
                records.append(_slim(record))
                update(k + 1)
    finally:
        if own:
            worker.close()
    return records, resumed


def finish_run(run: PreparedRun, records: list[dict[str, Any]] | None = None, resumed: int = 0,
               render_seconds: float = 0.0) -> RunReport:
    """Write the run's outputs that cover every frame (detections.json, images.json, report,
    videos). ``records``: every frame's slim record, read back from the frame records when None."""
    if records is None:
        records = []
        for frame in run.rec.frames:
            record = outputs.read_frame_record(run.out, frame)
            if record is None or record.get("key") != run.frame_key:
                raise RuntimeError(f"frame {frame} has no current record in {run.out}; render it first")
            records.append(_slim(record))
    seconds = {**run.stage_seconds, FRAME_STAGE: render_seconds}
    StageState(run.out).mark(FRAME_STAGE, run.frame_key, render_seconds)
    return write_report(run.rec, run.out, run.config, records, seconds, resumed, run.warnings)


def run_pipeline(recording_path: str | Path, out: str | Path, config: PipelineConfig = PipelineConfig(),
                 from_stage: str | None = None, progress: ProgressFactory = no_progress) -> RunReport:
    """Run every stage on a recording; see the module docstring for outputs, resume and failure rules.
    OS errors while writing raise :class:`~disguisor.run.guard.OutputError`; the output lock is
    released however the run ends."""
    with GuardedOutput(out):
        run = prepare_run(recording_path, out, config, from_stage, progress)
        t0 = time.perf_counter()
        records, resumed = render_frames(run, progress=progress)
        return finish_run(run, records, resumed, time.perf_counter() - t0)


def _slim(record: dict[str, Any]) -> dict[str, Any]:
    """What the final report needs from a frame record (bounded memory per frame)."""
    return {k: record.get(k) for k in ("frame", "status", "error", "people", "views", "seconds", "detections")}


def images_present(out: Path, rec: Recording, frame: int, record: dict[str, Any]) -> bool:
    """Whether every image a frame's record promises is in ``out`` (a finished frame on resume)."""
    if record.get("status") == "failed":
        return all(outputs.output_image_path(out, c.name, frame).is_file() or "withheld" in
                   record.get("views", {}).get(c.name, {}) or not record["views"].get(c.name, {}).get("blurred")
                   for c in rec.cameras_at(frame))
    return all(outputs.output_image_path(out, c.name, frame).is_file() for c in rec.cameras_at(frame))


def clean_partial(out: Path) -> int:
    """Remove temporary files an interrupted run may have left (they never replace real outputs);
    called by a run that holds the folder's lock. Returns how many were removed."""
    removed = 0
    for tmp in out.rglob(".*.tmp*"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed += 1
    shutil.rmtree(out / "stages" / "tmp", ignore_errors=True)
    if removed:
        log.warning("%s: removed %d temporary file(s) left by an interrupted run", out, removed)
    return removed


def _checked_stages(rec: Recording, config: PipelineConfig) -> tuple[Stage, ...]:
    """The stage table; with ``keypoints.file``, the file is read and checked against the
    recording now (the checks of ``disguisor keypoints --detector file``), and the keypoints
    stage uses that result."""
    if config.keypoints.file is None:
        return STAGES
    checked = keypoints_from_file(rec, config.keypoints.file)
    return tuple(replace(s, compute=lambda ctx, kp=checked: kp) if s.name == "keypoints" else s for s in STAGES)


def _model_warnings(config: PipelineConfig) -> list[str]:
    """Models of the configuration that are missing and replaced (the run goes on)."""
    if config.run.turned_faces != "scrfd":
        return []
    from disguisor.facedet import scrfd

    if scrfd.MODEL_FILE.is_file():  # installed by `make install`, not shipped
        return []
    # measured on the 12 runs of seeds 92-93: 83 boxes from the turned-face search instead of 3,
    # and 45 more faces lifted from 2D
    return [f"run.turned_faces: {scrfd.MODEL_FILE} is missing (run `make install`): BlazeFace looks for "
            f"turned faces instead, and lists more faces that are not there"]


def _depth_warnings(rec: Recording) -> list[str]:
    """A warning for cameras whose depth is empty in every frame (dead or unplugged sensors)."""
    dead = rec.cameras_without_depth()
    if not dead:
        return []
    if len(dead) == len(rec.cameras):
        message = ("no camera has a depth reading in any frame (dead or unplugged depth sensors?): heads cannot "
                   "be refined against the depth nor occlusions tested; check every view of the output")
    else:
        message = (f"camera(s) {', '.join(dead)}: depth is empty in every frame (a dead or unplugged depth "
                   "sensor?); their views get no depth checks; check them in the output")
    log.warning(message)
    return [message]
