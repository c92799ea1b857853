"""``disguisor run``: recording -> keypoints -> 3D poses -> body fit -> (refine + render) per frame.

Output folder::

    out/
      <camera>/<frame>.jpg        anonymized images (every image of the recording)
      <camera>.mp4                with --video
      detections.json             COCO results: one entry per hidden face per image
      images.json                 the images the ids of detections.json refer to
      report.json, summary.txt    what was done: people and faces per frame and view, skipped
                                  faces and why, failed frames, time per stage
      run_state.json              cache keys of the finished stages (for resuming)
      stages/keypoints2d.json     2D keypoints (COCO keypoint format)
      stages/poses3d.json         tracked 3D skeletons
      stages/bodies.json          body-model fits
      stages/frames/<frame>.json  per-frame record: faces (centre, facing, refinement), boxes

Resuming. Each stage's output carries a cache key: a hash of its settings and of the stage
before it. A rerun skips a stage whose key matches, and redoes it (and everything after it)
otherwise; ``--from STAGE`` forces that. Frames are rendered one at a time; a frame counts as
done once its record is written (after its images), so an interrupted run resumes at the first
unfinished frame. Every file is written to a temporary name and renamed.

Fail closed. If anything goes wrong while anonymizing a frame, none of its original views is
written: each view is written fully blurred (``--on-error blur``, the default) or not at all
(``withhold``), and the report lists the frame and the error. A person found in 3D without a
face surface (no body fit at that frame) gets the sphere around their head joints blurred in
every view. A failure of a whole-recording stage (keypoints, 3D poses, fit) stops the run
before any image is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from disguisor import __version__
from disguisor.errors import InputError
from disguisor.geometry import project_points
from disguisor.io.atomic import atomic_write_text, write_image
from disguisor.io.calibration import Camera
from disguisor.io.recording import Recording, open_recording
from disguisor.render.params import RenderParams
from disguisor.run import outputs
from disguisor.run.params import STAGES, RunParams

log = logging.getLogger(__name__)

ProgressFactory = Callable[[str, int | None], AbstractContextManager[Callable[[int], None]]]
STATE_VERSION = 1
SINGLE_VIEW_FACE_DETECTOR = "centerface"  # hybrid detector switched on for one-camera recordings


@contextmanager
def _no_progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    yield lambda done: None


def _hash(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def recording_fingerprint(recording: Recording) -> str:
    """Changes when the calibration, the frame list or any input file's size or time changes."""
    parts: list[Any] = [_file_hash(recording.root / "calibration.json"), recording.frames]
    for frame in recording.frames:
        for cam in recording.cameras_at(frame):
            for p in (recording.color_path(cam.name, frame), recording.depth_path(cam.name, frame)):
                st = p.stat()
                parts.append((p.name, st.st_size, st.st_mtime_ns))
    return _hash(parts)


@dataclass
class FrameOutcome:
    """What happened to one frame (the content of its record)."""

    frame: int
    status: str  # "ok" | "failed"
    error: str = ""
    people: list[dict[str, Any]] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


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

    def forget_from(self, stage: str) -> None:
        for s in STAGES[STAGES.index(stage):]:
            self.data["stages"].pop(s, None)


# ------------------------------------------------------------------------------------------------
# Whole-recording stages

def _stage_keypoints(rec: Recording, out: Path, params: RunParams, progress: ProgressFactory) -> None:
    from disguisor.pose2d.keypoints_io import load_keypoints, save_keypoints

    target = out / "stages" / "keypoints2d.json"
    if params.keypoints_file is not None:
        save_keypoints(target, load_keypoints(params.keypoints_file, rec.calibration))
        return
    from disguisor.pose2d.command import keypoints_command

    with progress("2D keypoints", len(rec.frames)) as update:
        keypoints_command(rec.root, target, detector=params.detector, pose_model=params.pose_model,
                          progress=update)


def _stage_pose3d(rec: Recording, out: Path, params: RunParams, progress: ProgressFactory) -> None:
    from disguisor.pose3d.command import pose3d_command

    with progress("3D poses", None) as update:
        pose3d_command(rec.root / "calibration.json", out / "stages" / "keypoints2d.json",
                       out / "stages" / "poses3d.json", progress=update)


def _stage_fit(rec: Recording, out: Path, params: RunParams, progress: ProgressFactory) -> None:
    from disguisor.body.fit import fit_command

    with progress("body fit", None) as update:
        fit_command(rec.root, out / "stages" / "poses3d.json", out / "stages" / "bodies.json",
                    params.model, params.smpl_dir, progress=update)


STAGE_FUNCTIONS = {"keypoints": _stage_keypoints, "pose3d": _stage_pose3d, "fit": _stage_fit}
STAGE_OUTPUTS = {"keypoints": "keypoints2d.json", "pose3d": "poses3d.json", "fit": "bodies.json"}


def _stage_settings(stage: str, params: RunParams) -> dict[str, Any]:
    if stage == "keypoints":
        if params.keypoints_file is not None:
            return {"file": _file_hash(params.keypoints_file)}
        return {"detector": params.detector, "pose_model": params.pose_model and _file_hash(params.pose_model)}
    if stage == "fit":
        return {"model": params.model, "smpl_dir": str(params.smpl_dir)}
    if stage == "render":
        return {"method": params.method, "template": params.template, "also_2d": params.also_2d,
                "on_error": params.on_error, "jpeg": params.jpeg_quality,
                "fail_closed": asdict(params.fail_closed),
                # the defaults too: a new release with other defaults must not reuse old frames
                "render_params": asdict(params.render if params.render is not None else RenderParams())}
    return {}


# ------------------------------------------------------------------------------------------------
# Per-frame work

def full_blur(image: np.ndarray, width_px: int) -> np.ndarray:
    """The whole image made unrecognizable: shrunk to ``width_px`` wide, enlarged back, blurred."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (width_px, max(1, round(h * width_px / w))), interpolation=cv2.INTER_AREA)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    k = (max(w // width_px, 1) * 2) | 1
    return cv2.GaussianBlur(big, (k, k), 0)


def head_sphere_mask(camera: Camera, centre: np.ndarray, radius_m: float) -> tuple[np.ndarray, list[float]] | None:
    """Pixels (H, W) bool covered by a sphere (world metres) in ``camera``, and their box [x, y, w, h];
    None when the sphere is behind the camera or outside the image."""
    pc = camera.world_to_camera(centre[None])[0]
    if pc[2] <= radius_m:
        return None
    # outline points of the sphere's silhouette, approximated by a ring facing the camera
    a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = pc + radius_m * np.stack([np.cos(a), np.sin(a), np.zeros_like(a)], 1) * (np.linalg.norm(pc) / pc[2])
    uv = project_points(ring, camera.K, camera.dist)
    mask = np.zeros((camera.height, camera.width), np.uint8)
    cv2.fillPoly(mask, [np.round(uv).astype(np.int32)], 1)
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    box = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
    return mask.astype(bool), box


HEAD_JOINTS = slice(0, 5)  # nose, eyes, ears (COCO-17)


def _median_distance(a: np.ndarray, b: np.ndarray, use: np.ndarray) -> float:
    """Median distance (px) between the rows of ``a`` and ``b`` (n, 2) where ``use`` holds and
    ``b`` is finite; infinity with fewer than two such rows."""
    both = use & np.isfinite(b[:, 0])
    return float(np.median(np.linalg.norm(a[both] - b[both], axis=1))) if both.sum() >= 2 else np.inf


def _keypoints_by_view(path: Path) -> dict[tuple[str, int], list[np.ndarray]]:
    """(camera, frame) -> the (17, 3) keypoints (x, y px, score) of every 2D detection there."""
    from disguisor.pose2d.keypoints_io import load_keypoints

    out: dict[tuple[str, int], list[np.ndarray]] = {}
    for det in load_keypoints(path).detections:
        out.setdefault((det.camera, det.frame), []).append(np.asarray(det.keypoints, np.float64))
    return out


class FrameWorker:
    """Holds what every frame needs (models, renderer, templates) and anonymizes one frame."""

    def __init__(self, rec: Recording, out: Path, params: RunParams, ids: dict):
        from disguisor.body.fit import load_bodies, load_body_model
        from disguisor.fusion import RayCache
        from disguisor.pose3d.poses import load_poses3d
        from disguisor.refine.params import DEFAULT_REFINE_PARAMS
        from disguisor.render.faces import FaceRenderer
        from disguisor.render.templates import load_templates

        self.rec, self.out, self.params, self.ids = rec, out, params, ids
        self.poses = load_poses3d(out / "stages" / "poses3d.json")
        self.model = load_body_model(params.model, params.smpl_dir)
        self.fits = load_bodies(out / "stages" / "bodies.json", self.model)
        self.refine_params = DEFAULT_REFINE_PARAMS
        self.templates = load_templates()
        self.renderer = FaceRenderer(rec.cameras, params.render)
        self.rays = RayCache()
        self.keypoints = _keypoints_by_view(out / "stages" / "keypoints2d.json")
        self.detector = None
        if params.also_2d:
            from disguisor.baselines.detectors import make_face_detector

            self.detector = make_face_detector(params.also_2d, params.also_2d_weights)
        self._template_of: dict[int, Any] = {}

    def close(self) -> None:
        self.renderer.close()

    def template(self, person_id: int):
        from disguisor.render.templates import choose_template

        if person_id not in self._template_of:
            self._template_of[person_id] = choose_template(person_id, self.templates, self.params.template)
        return self._template_of[person_id]

    def faces(self, frame: int, views: dict[str, tuple[Camera, np.ndarray]], outcome: FrameOutcome):
        """Face surfaces of everyone with a body fit at ``frame``, and the head centres of the
        people found in 3D without one."""
        from disguisor.body.fit import posed_people
        from disguisor.refine.face import refine_faces
        from disguisor.refine.points import head_cloud

        t0 = time.perf_counter()
        try:
            frame_poses = self.poses.frame(frame)
        except KeyError:
            frame_poses = None
        posed = posed_people(self.model, self.fits, frame) if frame_poses is not None else []
        cloud = head_cloud(views, self.rays, posed, self.model.head_vertices, self.refine_params)
        faces, fallback = [], []
        for face, reg in (refine_faces(posed, self.model, cloud, self.refine_params) if posed else []):
            faces.append(face)
            outcome.people.append({
                "person_id": int(face.person_id), "face_centre_m": np.round(face.centre, 4).tolist(),
                "facing": np.round(face.facing, 4).tolist(), "refined": bool(face.refined),
                "refine_note": face.note, "refine_translation_mm": round(1000 * reg.translation_m, 1),
                "refine_rotation_deg": round(reg.rotation_deg, 2), "fitness": round(reg.fitness_after, 3),
                "cloud_points": int(reg.target_points)})
        with_body = {int(b.person_id) for b in posed}
        for person in (frame_poses.people if frame_poses is not None else ()):
            if person.id in with_body:
                continue
            head = person.joints[HEAD_JOINTS]
            head = head[np.isfinite(head[:, 0])]
            if len(head) == 0:
                head = person.joints[np.isfinite(person.joints[:, 0])]
                if len(head) == 0:
                    continue
                # no head joint: take the highest joints; the head is within ~0.5 m above them
                top = head[np.argmax(head[:, 2])]
                fallback.append((person.id, top + np.array([0, 0, 0.25]), 0.45))
            else:
                fallback.append((person.id, head.mean(0), self.params.fail_closed.head_radius_m))
            outcome.people.append({"person_id": int(person.id), "fallback": "head sphere blurred (no body fit)"})
        outcome.seconds["refine"] = time.perf_counter() - t0
        return faces, fallback

    def unexplained_heads(self, camera: Camera, frame: int) -> list[tuple[np.ndarray, float]]:
        """(centre (2,) px, radius px) of the head of every 2D detection of this view that no 3D
        person explains (see FailClosedParams)."""
        fc = self.params.fail_closed
        dets = self.keypoints.get((camera.name, frame), [])
        if not dets:
            return []
        try:
            people = self.poses.frame(frame).people
        except KeyError:
            people = ()
        projected = []
        for person in people:
            pc = camera.world_to_camera(np.nan_to_num(person.joints, nan=0.0))
            ok = np.isfinite(person.joints[:, 0]) & (pc[:, 2] > 0.05)
            uv = np.full((len(pc), 2), np.nan)
            if ok.any():
                uv[ok] = project_points(pc[ok], camera.K, camera.dist)
            projected.append(uv)
        out = []
        for kp in dets:
            seen = kp[:, 2] >= fc.head_keypoint_score
            head = kp[HEAD_JOINTS][seen[HEAD_JOINTS], :2]
            if len(head) < 2:
                continue
            pts = kp[seen, :2]
            size = float(np.linalg.norm(pts.max(0) - pts.min(0)))
            tol = max(fc.explained_px, fc.explained_share * size)
            if any(_median_distance(kp[:, :2], uv, seen) < tol for uv in projected):
                continue
            spread = float(np.max(np.linalg.norm(head[:, None] - head[None], axis=2)))
            ears = seen[3] or seen[4]
            radius = max(fc.min_head_radius_px, fc.head_disk_scale * spread * (1.0 if ears else 2.0))
            out.append((head.mean(0), radius))
        return out

    def render_view(self, camera: Camera, image_bgr: np.ndarray, depth: np.ndarray, faces, fallback,
                    frame: int) -> tuple[np.ndarray, dict[str, Any], list[dict[str, Any]]]:
        from disguisor.render.obfuscate import blur_region, box_mask

        rgb = np.ascontiguousarray(image_bgr[..., ::-1])
        templates = {f.person_id: self.template(f.person_id) for f in faces}
        result = self.renderer.anonymize_view(rgb, depth, camera, faces, templates, method=self.params.method)
        image = result.image
        image_id = self.ids[camera.name, frame]
        dets = [{"image_id": image_id, "category_id": 1, "bbox": [round(float(v), 2) for v in rf.bbox],
                 "painted_bbox": [round(float(v), 2) for v in rf.painted_bbox], "score": 1.0,
                 "person_id": int(rf.person_id), "camera": camera.name, "frame": frame, "source": "3d"}
                for rf in result.faces]
        info: dict[str, Any] = {"faces": [int(rf.person_id) for rf in result.faces],
                                "skipped": [{"person_id": int(p), "reason": r} for p, r in result.skipped]}
        kernel = 61
        for pid, centre, radius in fallback:
            hit = head_sphere_mask(camera, centre, radius)
            if hit is None:
                continue
            mask, box = hit
            image = blur_region(image, mask, kernel)
            dets.append({"image_id": image_id, "category_id": 1, "bbox": [round(v, 2) for v in box], "score": 1.0,
                         "person_id": int(pid), "camera": camera.name, "frame": frame, "source": "head-sphere"})
            info.setdefault("fallback", []).append(int(pid))
        for centre, radius in self.unexplained_heads(camera, frame):
            yy, xx = np.ogrid[:image.shape[0], :image.shape[1]]
            mask = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius ** 2
            if not mask.any():
                continue
            image = blur_region(image, mask, kernel)
            x0, y0 = max(centre[0] - radius, 0.0), max(centre[1] - radius, 0.0)
            x1, y1 = min(centre[0] + radius, image.shape[1]), min(centre[1] + radius, image.shape[0])
            dets.append({"image_id": image_id, "category_id": 1,
                         "bbox": [round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)], "score": 1.0,
                         "camera": camera.name, "frame": frame, "source": "2d-head"})
            info["unexplained_2d_heads"] = info.get("unexplained_2d_heads", 0) + 1
        if self.detector is not None:
            from disguisor.render.obfuscate import obfuscate

            boxes = self.detector.detect(rgb)
            covered = [d["bbox"] for d in dets]
            extra = [b for b in boxes if not _covered(b[:4], covered)]
            if extra:
                method = "blur" if self.params.method == "template" else self.params.method
                image = obfuscate(image, box_mask(image.shape[:2], np.array([b[:4] for b in extra])), method)
            for b in extra:
                dets.append({"image_id": image_id, "category_id": 1, "bbox": [round(float(v), 2) for v in b[:4]],
                             "score": round(float(b[4]), 4), "camera": camera.name, "frame": frame,
                             "source": f"2d:{self.params.also_2d}"})
            info["extra_2d"] = len(extra)
        return np.ascontiguousarray(image[..., ::-1]), info, dets

    def process(self, frame: int) -> tuple[FrameOutcome, list[dict[str, Any]]]:
        """Anonymize every view of ``frame`` and write them; fail closed on any error."""
        outcome = FrameOutcome(frame=frame, status="ok")
        cams = self.rec.cameras_at(frame)
        dets: list[dict[str, Any]] = []
        written: list[tuple[Camera, np.ndarray]] = []
        try:
            t0 = time.perf_counter()
            colors = {c.name: self.rec.read_color(c, frame) for c in cams}
            depths = {c.name: self.rec.read_depth(c, frame) for c in cams}
            outcome.seconds["read"] = time.perf_counter() - t0
            views = {c.name: (c, depths[c.name]) for c in cams}
            faces, fallback = self.faces(frame, views, outcome)
            t0 = time.perf_counter()
            for cam in cams:
                image, info, view_dets = self.render_view(cam, colors[cam.name], depths[cam.name], faces, fallback,
                                                          frame)
                written.append((cam, image))
                outcome.views[cam.name] = info
                dets.extend(view_dets)
            outcome.seconds["render"] = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - fail closed on anything, report it
            log.error("frame %d failed (%s: %s); its views are %s", frame, type(exc).__name__, exc,
                      "blurred" if self.params.on_error == "blur" else "withheld")
            log.debug("%s", traceback.format_exc())
            outcome.status, outcome.error = "failed", f"{type(exc).__name__}: {exc}"
            outcome.people, outcome.views, dets, written = [], {}, [], []
            if self.params.on_error == "blur":
                for cam in cams:
                    try:
                        image = self.rec.read_color(cam, frame)
                    except InputError as read_error:
                        outcome.views[cam.name] = {"withheld": str(read_error)}
                        continue
                    written.append((cam, full_blur(image, self.params.fail_closed.full_blur_width_px)))
                    outcome.views[cam.name] = {"blurred": True}
        t0 = time.perf_counter()
        for cam, image in written:
            write_image(outputs.output_image_path(self.out, cam.name, frame), image, self.params.jpeg_quality)
        if self.params.on_error == "withhold" and outcome.status == "failed":
            for cam in cams:
                outputs.output_image_path(self.out, cam.name, frame).unlink(missing_ok=True)
        outcome.seconds["write"] = time.perf_counter() - t0
        return outcome, dets


def _covered(box, covered: list, min_overlap: float = 0.5) -> bool:
    """Whether a 2D detection is already mostly inside a hidden face's box."""
    x, y, w, h = (float(v) for v in box)
    for cx, cy, cw, ch in covered:
        ix = max(0.0, min(x + w, cx + cw) - max(x, cx))
        iy = max(0.0, min(y + h, cy + ch) - max(y, cy))
        if w * h > 0 and ix * iy / (w * h) >= min_overlap:
            return True
    return False


# ------------------------------------------------------------------------------------------------

@dataclass
class RunReport:
    """Summary of a run (also written as report.json)."""

    recording: str
    out: str
    frames: int
    cameras: list[str]
    failed_frames: list[dict[str, Any]]
    faces_hidden: int
    faces_skipped: dict[str, int]
    people_per_frame: dict[str, float]
    stage_seconds: dict[str, float]
    per_frame_seconds: dict[str, float]
    resumed_frames: int
    warnings: list[str] = field(default_factory=list)


def run_pipeline(recording_path: str | Path, out: str | Path, params: RunParams = RunParams(),
                 progress: ProgressFactory = _no_progress) -> RunReport:
    """Run every stage on a recording; see the module docstring for outputs, resume and failure rules."""
    out = Path(out)
    rec = open_recording(recording_path)
    if out.resolve() == rec.root.resolve() or rec.root.resolve() in out.resolve().parents:
        raise InputError(out, "the output folder must not be inside the recording (inputs are never modified)",
                         field="--out")
    if params.keypoints_file is not None and not Path(params.keypoints_file).is_file():
        raise InputError(params.keypoints_file, "keypoints file not found", field="--keypoints")
    if params.from_stage is not None and params.from_stage not in STAGES:
        raise InputError(None, f"unknown stage {params.from_stage!r}; stages: {', '.join(STAGES)}", field="--from")
    warnings: list[str] = []
    if len(rec.cameras) < 2 and params.also_2d is None:
        # 3D people need two views: with one camera only a 2D face detector can find faces
        params = replace(params, also_2d=SINGLE_VIEW_FACE_DETECTOR)
        warnings.append(f"only one camera: people cannot be found in 3D; faces are found by the 2D detector "
                        f"{SINGLE_VIEW_FACE_DETECTOR!r} (--also-2d) instead")
        log.warning(warnings[-1])
    out.mkdir(parents=True, exist_ok=True)
    (out / "stages").mkdir(exist_ok=True)
    state = StageState(out)
    if params.from_stage is not None:
        state.forget_from(params.from_stage)
    stage_seconds: dict[str, float] = {}

    key = _hash("recording", recording_fingerprint(rec), __version__)
    for stage in ("keypoints", "pose3d", "fit"):
        key = _hash(stage, key, _stage_settings(stage, params))
        target = out / "stages" / STAGE_OUTPUTS[stage]
        if state.done(stage, key, target):
            log.info("stage %s: up to date, skipped", stage)
            stage_seconds[stage] = 0.0
            continue
        t0 = time.perf_counter()
        STAGE_FUNCTIONS[stage](rec, out, params, progress)
        stage_seconds[stage] = time.perf_counter() - t0
        state.mark(stage, key, stage_seconds[stage])
        # anything after a recomputed stage is stale
        for later in STAGES[STAGES.index(stage) + 1:]:
            state.data["stages"].pop(later, None)

    render_key = _hash("render", key, _stage_settings("render", params))
    ids = outputs.image_ids(rec)
    t_render = time.perf_counter()
    worker = FrameWorker(rec, out, params, ids)
    records: list[dict[str, Any]] = []
    resumed = 0
    try:
        with progress("anonymize", len(rec.frames)) as update:
            for k, frame in enumerate(rec.frames):
                record = outputs.read_frame_record(out, frame)
                if record is not None and record.get("key") == render_key and _images_present(out, rec, frame,
                                                                                               record):
                    resumed += 1
                else:
                    outcome, dets = worker.process(frame)
                    record = {"key": render_key, **asdict(outcome), "detections": dets}
                    outputs.write_json(outputs.frame_record_path(out, frame), record)
                records.append(_slim(record))
                update(k + 1)
    finally:
        worker.close()
    stage_seconds["render"] = time.perf_counter() - t_render
    state.mark("render", render_key, stage_seconds["render"])
    return _finish(rec, out, params, records, stage_seconds, resumed, warnings)


def _slim(record: dict[str, Any]) -> dict[str, Any]:
    """What the final report needs from a frame record (bounded memory per frame)."""
    return {k: record.get(k) for k in ("frame", "status", "error", "people", "views", "seconds", "detections")}


def _images_present(out: Path, rec: Recording, frame: int, record: dict[str, Any]) -> bool:
    if record.get("status") == "failed":
        return all(outputs.output_image_path(out, c.name, frame).is_file() or "withheld" in
                   record.get("views", {}).get(c.name, {}) or not record["views"].get(c.name, {}).get("blurred")
                   for c in rec.cameras_at(frame))
    return all(outputs.output_image_path(out, c.name, frame).is_file() for c in rec.cameras_at(frame))


def _finish(rec: Recording, out: Path, params: RunParams, records: list[dict[str, Any]],
            stage_seconds: dict[str, float], resumed: int, warnings: list[str]) -> RunReport:
    detections = [d for r in records for d in (r.get("detections") or [])]
    outputs.write_json(out / "detections.json", detections)
    outputs.write_json(out / "images.json", {"images": outputs.images_document(rec, outputs.image_ids(rec)),
                                             "categories": [{"id": 1, "name": "face"}]})
    skipped: dict[str, int] = {}
    for r in records:
        for view in (r.get("views") or {}).values():
            for s in view.get("skipped", []):
                reason = s["reason"].split("(")[0].split(":")[0].strip()
                skipped[reason] = skipped.get(reason, 0) + 1
    people = [len(r.get("people") or []) for r in records]
    per_frame: dict[str, list[float]] = {}
    for r in records:
        for k, v in (r.get("seconds") or {}).items():
            per_frame.setdefault(k, []).append(v)
    report = RunReport(
        recording=str(rec.root), out=str(out), frames=len(records), cameras=[c.name for c in rec.cameras],
        failed_frames=[{"frame": r["frame"], "error": r["error"], "views": r["views"]} for r in records
                       if r["status"] == "failed"],
        faces_hidden=len(detections), faces_skipped=skipped,
        people_per_frame={"mean": float(np.mean(people)) if people else 0.0, "max": max(people, default=0)},
        stage_seconds={k: round(v, 3) for k, v in stage_seconds.items()},
        per_frame_seconds={k: round(float(np.median(v)), 4) for k, v in per_frame.items()},
        resumed_frames=resumed, warnings=warnings)
    frames_doc = [{"frame": r["frame"], "status": r["status"], "people": r["people"], "views": r["views"]}
                  for r in records]
    outputs.write_json(out / "report.json", {**asdict(report), "frames_detail": frames_doc})
    atomic_write_text(out / "summary.txt", summary_text(report))
    if params.video:
        from disguisor.run.video import write_videos

        write_videos(rec, out)
    return report


def summary_text(report: RunReport) -> str:
    """Human-readable summary of a run."""
    lines = [f"disguisor run: {report.recording} -> {report.out}",
             f"frames: {report.frames} ({report.resumed_frames} already done), cameras: {', '.join(report.cameras)}",
             f"people per frame: mean {report.people_per_frame['mean']:.1f}, max {report.people_per_frame['max']}",
             f"faces hidden (face-views): {report.faces_hidden}"]
    if report.faces_skipped:
        lines.append("face-views not painted: "
                     + ", ".join(f"{k}: {v}" for k, v in sorted(report.faces_skipped.items())))
    if report.failed_frames:
        lines.append(f"FAILED frames ({len(report.failed_frames)}), written fully blurred or withheld:")
        lines += [f"  frame {f['frame']}: {f['error']}" for f in report.failed_frames]
    else:
        lines.append("failed frames: none")
    lines += [f"WARNING: {w}" for w in report.warnings]
    lines.append("time per stage (s): " + ", ".join(f"{k} {v:.1f}" for k, v in report.stage_seconds.items()))
    lines.append("median time per frame (s): " + ", ".join(f"{k} {v:.3f}" for k, v in report.per_frame_seconds.items()))
    return "\n".join(lines) + "\n"


def clean_partial(out: Path) -> None:
    """Remove temporary files an interrupted run may have left (they never replace real outputs)."""
    for tmp in out.rglob(".*.tmp*"):
        tmp.unlink(missing_ok=True)
    shutil.rmtree(out / "stages" / "tmp", ignore_errors=True)
